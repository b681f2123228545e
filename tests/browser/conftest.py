"""Real headless Chromium, driven through Playwright's sync API, against pytest-django's live server."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, expect, sync_playwright

# Playwright's own browser download does not work here; Debian's Chromium does (`make test`
# installs it).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMEOUT_MS = 15_000
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# Chromium logs every failed load as a console error. Those of the page itself are the
# tests' business (they assert the status), and browsers ask for /favicon.ico on their own;
# any other failed load (a script, a stylesheet, a chart) is a bug, like a script error.
_FAILED_LOAD = "Failed to load resource:"


def _is_expected_failed_load(message: ConsoleMessage, page_url: str) -> bool:
    url = message.location.get("url", "")
    return message.text.startswith(_FAILED_LOAD) and (url == page_url or url.endswith("/favicon.ico"))


@pytest.fixture(scope="session", autouse=True)
def allow_orm_beside_playwrights_event_loop() -> Iterator[None]:
    """Playwright's sync API runs an asyncio event loop in the test's thread, so Django sees
    a "running event loop" and refuses ORM calls there (SynchronousOnlyOperation): factories
    and database assertions in these tests would fail. Nothing here is actually async, so
    the check is a false alarm. Set from the first browser test (session-scoped, so before
    pytest-django's database fixtures, whose teardown needs it too) to the end of the run;
    `make test` runs the browser tests in a pytest process of their own, so no other test
    runs with it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="session")
def browser(django_db_setup: None) -> Iterator[Browser]:
    # After the test database exists, so that the database is torn down after the browser
    # (and its event loop) are gone.
    if not CHROMIUM.exists():
        # Fail rather than skip: a skipped browser suite looks green and tests nothing.
        pytest.fail(
            f"{CHROMIUM} is missing, so the browser tests cannot run. Install Debian's chromium "
            "(`make chromium`, or `sudo apt-get install chromium`), or run `make test`, which does it.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # Keep each phase's report on the test item, so the `page` fixture knows in its
    # teardown whether the test failed and a screenshot is worth saving.
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page = context.new_page()
    script_errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not _is_expected_failed_load(message, page.url):
            script_errors.append(f"console error on {page.url}: {message.text} ({message.location.get('url')})")

    def on_page_error(error: Error) -> None:
        script_errors.append(f"uncaught exception on {page.url}: {error.message}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    yield page

    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
        try:
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        except Error as error:  # a crashed page must not hide the test's own failure
            warnings.warn(f"Could not save a screenshot: {error}", stacklevel=1)
    context.close()
    if report is not None and report.passed:
        assert not script_errors, "JavaScript errors in the browser:\n" + "\n".join(script_errors)


@pytest.fixture
def fill_login_form(page: Page) -> Callable[[User, str], None]:
    """Log in through the form of the login page the browser shows, as a person would."""

    def fill(user: User, password: str) -> None:
        page.get_by_label("Username").fill(user.get_username())
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_text(f"Good to see you, {user.get_username()}!")).to_be_visible()

    return fill
