from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from metrics import csv_io
from metrics.models import Decision, Indicator, Metric
from tests.data import database_state
from tests.factories import IndicatorFactory
from tests.refusals import changes_nothing

UPLOAD_URL = reverse("metrics:upload")
SAMPLE_URL = reverse("metrics:sample_csv")

GOOD_CSV = b"valor,decisao,tempo\n500,0,10\n612.5,1,60\n-3,0,0.25\n"


def csv_file(content: bytes, name: str = "indicators.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


def upload(client: Client, metric: Metric | None, content: bytes, delimiter: str = "detect", follow: bool = False):
    data: dict[str, object] = {"delimiter": delimiter, "file": csv_file(content)}
    if metric is not None:
        data["metric"] = metric.pk
    return client.post(UPLOAD_URL, data, follow=follow)


STORED_FIELDS = ("metric_id", "value", "decision", "time", "created_by_id")


def stored_rows() -> list[tuple]:
    return list(Indicator.objects.order_by("pk").values_list(*STORED_FIELDS))


def data_version(metric: Metric) -> int:
    return Metric.objects.values_list("data_version", flat=True).get(pk=metric.pk)


@pytest.fixture
def existing(metric: Metric) -> Indicator:
    """A row already stored, which a failed upload must leave alone."""
    return IndicatorFactory.create(metric=metric, value=42)


# --- The page --------------------------------------------------------------------------


def test_upload_page_explains_the_format_and_preselects_the_metric(client: Client, owner: User, metric: Metric) -> None:
    client.force_login(owner)

    response = client.get(UPLOAD_URL, {"metric": metric.pk})

    assert response.status_code == 200
    html = response.content.decode()
    assert "<code>valor,decisao,tempo</code>" in html
    assert f'<option value="{metric.pk}" selected>' in html
    assert 'enctype="multipart/form-data"' in html


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "Columns may be separated by commas, semicolons, tabs or pipes"),
        ("pt-br", "As colunas podem ser separadas por vírgulas, pontos e vírgulas, tabulações ou barras verticais"),
    ],
)
def test_upload_page_says_which_delimiters_and_decimal_commas_it_takes_and_offers_a_sample(
    client: Client, owner: User, language: str, said: str
) -> None:
    client.force_login(owner)
    client.cookies["django_language"] = language

    html = client.get(UPLOAD_URL).content.decode()

    assert said in html
    assert "(2,5)" in html
    assert f'<a href="{SAMPLE_URL}" download>' in html


def test_the_sample_file_imports_cleanly_through_the_importer(client: Client, owner: User, metric: Metric) -> None:
    client.force_login(owner)

    sample = client.get(SAMPLE_URL)

    assert sample.status_code == 200
    assert sample["Content-Type"] == "text/csv; charset=utf-8"
    assert sample["Content-Disposition"] == 'attachment; filename="make-or-break-sample.csv"'
    response = upload(client, metric, sample.content, follow=True)
    assert response.status_code == 200
    assert stored_rows() == [
        (metric.pk, value, decision, minutes, owner.pk) for value, decision, minutes in csv_io.SAMPLE_ROWS
    ]
    assert {decision for _, decision, _ in csv_io.SAMPLE_ROWS} == {Decision.ROLLBACK, Decision.ROLLOUT}


def test_the_sample_file_is_for_people_who_logged_in(client: Client) -> None:
    response = client.get(SAMPLE_URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


# --- Good files ------------------------------------------------------------------------


def test_upload_of_a_good_file_imports_every_row_by_the_uploader(
    client: Client, contributor: User, metric: Metric
) -> None:
    client.force_login(contributor)
    version_before = data_version(metric)

    response = upload(client, metric, GOOD_CSV)

    assert response.status_code == 302
    assert response["Location"] == reverse("metrics:detail", args=[metric.pk])
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Imported 3 indicators into “Requests per minute”."
    ]
    assert stored_rows() == [
        (metric.pk, 500.0, 0, 10.0, contributor.pk),
        (metric.pk, 612.5, 1, 60.0, contributor.pk),
        (metric.pk, -3.0, 0, 0.25, contributor.pk),
    ]
    assert data_version(metric) == version_before + 1


def test_upload_of_one_row_says_indicator_in_the_singular(client: Client, owner: User, metric: Metric) -> None:
    client.force_login(owner)

    response = upload(client, metric, b"valor,decisao,tempo\n500,0,10\n", follow=True)

    assert "Imported 1 indicator into “Requests per minute”." in response.content.decode()
    assert Indicator.objects.count() == 1


def test_upload_of_a_semicolon_file_with_decimal_commas_imports_it(client: Client, owner: User, metric: Metric) -> None:
    client.force_login(owner)
    content = "Valor;Decisão;Tempo\r\n1.234,5;1;10\r\n612,25;0;7,5\r\n".encode("cp1252")

    response = upload(client, metric, content, delimiter="semicolon")

    assert response.status_code == 302
    assert [row[1:4] for row in stored_rows()] == [(1234.5, 1, 10.0), (612.25, 0, 7.5)]


def test_upload_adds_to_the_rows_already_there(client: Client, owner: User, metric: Metric, existing) -> None:
    client.force_login(owner)

    upload(client, metric, GOOD_CSV)

    assert Indicator.objects.filter(metric=metric).count() == 4
    assert Indicator.objects.filter(pk=existing.pk, value=42).exists()


# --- Bad files -------------------------------------------------------------------------


def test_upload_with_one_bad_row_imports_nothing_and_lists_line_column_and_reason(
    client: Client, owner: User, metric: Metric, existing: Indicator
) -> None:
    client.force_login(owner)
    content = b"valor,decisao,tempo\n500,0,10\n600,1,20\n700,2,30\n800,0,40\n"
    with changes_nothing():
        response = upload(client, metric, content)

    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was imported: the file has 1 error." in html
    assert "Line 4, column “decisao”: expected 0 (rollout) or 1 (rollback), got “2”" in html


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        (b"500,0,-5", "Line 3, column “tempo”: time must be 0 or more minutes, got “-5”"),
        (b"NaN,0,10", "Line 3, column “valor”: expected a finite number, got “NaN”"),
        (b"500,0,inf", "Line 3, column “tempo”: expected a finite number, got “inf”"),
        (b",0,10", "Line 3, column “valor”: the cell is empty, expected a number"),
        (b"500,yes,10", "Line 3, column “decisao”: expected 0 (rollout) or 1 (rollback), got “yes”"),
    ],
)
def test_upload_with_a_bad_cell_names_it_and_imports_nothing(
    client: Client, owner: User, metric: Metric, bad_line: bytes, reason: str
) -> None:
    client.force_login(owner)
    with changes_nothing():
        response = upload(client, metric, b"valor,decisao,tempo\n500,0,10\n" + bad_line + b"\n600,1,20\n")

    assert response.status_code == 400
    assert reason in response.content.decode()


def test_upload_with_many_bad_rows_shows_the_first_errors_and_the_total(
    client: Client, owner: User, metric: Metric, existing: Indicator
) -> None:
    client.force_login(owner)
    bad_lines = b"".join(b"abc,0,10\n" for _ in range(25))
    with changes_nothing():
        response = upload(client, metric, b"valor,decisao,tempo\n500,0,10\n" + bad_lines)

    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was imported: the file has 25 errors." in html
    assert "Line 3, column “valor”: expected a finite number, got “abc”" in html
    assert "Line 22, column “valor”" in html
    assert "Line 23, column “valor”" not in html
    assert "Showing the first 20 of 25 errors." in html


def test_upload_with_a_short_line_names_the_line_and_the_field_count(
    client: Client, owner: User, metric: Metric
) -> None:
    client.force_login(owner)
    with changes_nothing():
        response = upload(client, metric, b"valor,decisao,tempo\n500,0,10\n600,1\n")

    assert response.status_code == 400
    assert "Line 3: expected 3 fields, found 2" in response.content.decode()


@pytest.mark.parametrize(
    ("content", "delimiter", "message"),
    [
        (b"", "detect", "The submitted file is empty."),
        (b"\r\n  \n", "detect", "The file is empty."),
        (b"valor,decisao,tempo\n", "detect", "The file has a header but no data rows."),
        (b"valor,decisao\n500,0\n", "detect", "Missing column: tempo."),
        (b"valor,usuario\n500,ana\n", "detect", "Missing columns: decisao, tempo."),
        (b"valor,decisao,tempo,host\n500,0,10,web1\n", "detect", "Unknown column “host” in the header."),
        (
            b"valor,decisao,tempo\n500,0,10\n",
            "semicolon",
            "Wrong delimiter: the header is not separated by semicolon (;) but seems separated by comma (,).",
        ),
        (b"valor decisao tempo\n500 0 10\n", "detect", "Could not detect the delimiter"),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00",
            "detect",
            "This file is not a CSV text file (it looks binary).",
        ),
        (b"valor,decisao,valor\n1,0,1\n", "detect", "The column “valor” appears twice in the header."),
    ],
    ids=[
        "empty",
        "blank-lines",
        "header-only",
        "missing-column",
        "missing-columns",
        "unknown-column",
        "wrong-delimiter",
        "no-delimiter",
        "binary",
        "duplicate-column",
    ],
)
def test_upload_of_a_file_it_cannot_read_says_why_and_imports_nothing(
    client: Client,
    owner: User,
    metric: Metric,
    existing: Indicator,
    content: bytes,
    delimiter: str,
    message: str,
) -> None:
    client.force_login(owner)
    with changes_nothing():
        response = upload(client, metric, content, delimiter=delimiter)

    assert response.status_code == 400
    assert message in response.content.decode()


def test_upload_larger_than_the_limit_is_refused_with_the_limit_in_the_message(
    client: Client, owner: User, metric: Metric, existing: Indicator, settings
) -> None:
    settings.MBREAK_MAX_UPLOAD_BYTES = 100
    client.force_login(owner)
    before = database_state()
    content = b"valor,decisao,tempo\n" + b"500,0,10\n" * 20
    assert len(content) > 100

    response = upload(client, metric, content)

    assert response.status_code == 400
    html = response.content.decode()
    assert f"The file is too large ({len(content)}\xa0bytes); the limit is 100\xa0bytes." in html
    assert database_state() == before


def test_upload_just_under_the_limit_is_accepted(client: Client, owner: User, metric: Metric, settings) -> None:
    content = b"valor,decisao,tempo\n" + b"500,0,10\n" * 8
    settings.MBREAK_MAX_UPLOAD_BYTES = len(content)
    client.force_login(owner)

    response = upload(client, metric, content)

    assert response.status_code == 302
    assert Indicator.objects.count() == 8


def test_upload_page_states_the_size_limit(client: Client, owner: User, settings) -> None:
    settings.MBREAK_MAX_UPLOAD_BYTES = 100
    client.force_login(owner)

    assert "Up to 100\xa0bytes." in client.get(UPLOAD_URL).content.decode()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"metric": None}, "This field is required."),
        ({"metric": 999_999}, "Select a valid choice."),
        ({"file": None}, "This field is required."),
        ({"delimiter": "space"}, "Select a valid choice. space is not one of the available choices."),
    ],
    ids=["without-a-metric", "to-a-metric-that-does-not-exist", "without-a-file", "with-an-unknown-delimiter"],
)
def test_an_upload_form_with_a_bad_field_is_refused_and_imports_nothing(
    client: Client, owner: User, metric: Metric, existing: Indicator, fields: dict[str, object], message: str
) -> None:
    client.force_login(owner)
    data = {"metric": metric.pk, "delimiter": "detect", "file": csv_file(GOOD_CSV), **fields}
    with changes_nothing():
        response = client.post(UPLOAD_URL, {name: value for name, value in data.items() if value is not None})

    assert response.status_code == 400
    assert message in response.content.decode()
