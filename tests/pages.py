"""Reading what a person sees in a response: flash messages, table cells and form controls."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import TYPE_CHECKING

from django.contrib.messages import get_messages

if TYPE_CHECKING:
    # Only in django-stubs: the test client's response, with wsgi_request and the rest.
    from django.test.client import _MonkeyPatchedWSGIResponse as Response


class _TableReader(HTMLParser):
    """The text of each cell of each row in the page's <tbody>."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._in_body = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self.rows.append([])
        elif self._in_body and tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False
        elif tag == "td" and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table_rows(response: Response, test_id: str = "") -> list[list[str]]:
    """The cells of the page's table bodies; of the table marked `data-testid=test_id` only, if given."""
    html = response.content.decode()
    if test_id:
        start = html.index(f'data-testid="{test_id}"')
        html = html[start : html.index("</table>", start)]
    reader = _TableReader()
    reader.feed(html)
    return reader.rows


def messages_of(response: Response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


class _Controls(HTMLParser):
    """The attributes of each input and select of a page, by name."""

    def __init__(self) -> None:
        super().__init__()
        self.by_name: dict[str, dict[str, str | None]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag in ("input", "select") and named.get("name"):
            self.by_name[str(named["name"])] = named


def control(page: str, name: str) -> dict[str, str | None]:
    """The attributes of the form control named `name` on `page`."""
    reader = _Controls()
    reader.feed(page)
    return reader.by_name[name]


def described_by(page: str, name: str) -> list[str]:
    """The ids of what describes the control named `name` (`aria-describedby`), in order."""
    return str(control(page, name).get("aria-describedby") or "").split()
