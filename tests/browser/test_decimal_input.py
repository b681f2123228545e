"""In real Chromium, in English and in Portuguese, "2,5" and "2.5" typed into the indicator form
and the predict form are 2.5 (a browser's number input dropped the comma: 25 was stored), and
a number whose separators could mean two things is refused with a message, storing nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from metrics.models import Indicator, Metric, Verdict
from tests.browser.conftest import TIMEOUT_MS
from tests.data import rule_data
from tests.factories import PASSWORD, MetricFactory, TrainedModelFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

WORDS = {
    "en-US": {
        "value": "Value",
        "observed": "Observed value",
        "minutes": "Time (minutes)",
        "decision": "Decision",
        "rollout": "Rollout (0)",
        "add": "Add indicator",
        "metric": "Metric",
        "run": "Run",
        "ambiguous": "“1,500” could be 1500 or 1.5: type one of these.",
        "typed_ambiguous": "1,500",
        "rollback_threshold": "Rollback threshold (%)",
        "save": "Save",
    },
    "pt-BR": {
        "value": "Valor",
        "observed": "Valor observado",
        "minutes": "Tempo (minutos)",
        "decision": "Decisão",
        "rollout": "Rollout (0)",
        "add": "Adicionar indicador",
        "metric": "Métrica",
        "run": "Rodar",
        "ambiguous": "“1.500” pode ser 1500 ou 1,5: digite um dos dois.",
        "typed_ambiguous": "1.500",
        "rollback_threshold": "Limiar de rollback (%)",
        "save": "Salvar",
    },
}


@pytest.fixture(params=["en-US", "pt-BR"])
def locale(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def localized_page(browser: Browser, locale: str) -> Iterator[Page]:
    """A browser whose language is `locale`: the app answers in it (Accept-Language)."""
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    page.wait_for_load_state("networkidle")  # no request of the page's left to the closing server
    context.close()


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(base + "/accounts/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#id_password").press("Enter")
    page.wait_for_url(base + "/")


def type_into(field: Locator, text: str) -> None:
    """Key by key, as a person types (a number input takes the keys it likes and drops the rest)."""
    field.clear()
    field.press_sequentially(text)


def add_an_indicator(page: Page, base: str, words: dict[str, str], value: str, minutes: str) -> None:
    """As the owner of a new metric, type a rollout into the form on its page and add it."""
    metric = MetricFactory.create(owner=UserFactory.create(username="owner"))
    log_in(page, base, "owner")
    page.goto(base + metric.get_absolute_url())
    type_into(page.get_by_label(words["value"], exact=True), value)
    page.get_by_label(words["decision"]).select_option(label=words["rollout"])
    type_into(page.get_by_label(words["minutes"]), minutes)
    page.get_by_role("button", name=words["add"]).click()


@pytest.mark.parametrize("typed", ["2,5", "2.5"])
def test_a_decimal_typed_into_the_indicator_form_is_stored_as_meant(
    localized_page: Page, live_server, locale: str, typed: str
) -> None:
    page, words = localized_page, WORDS[locale]

    add_an_indicator(page, live_server.url, words, value=typed, minutes=typed)

    expect(page.get_by_test_id("indicators")).to_be_visible()
    assert list(Indicator.objects.values_list("value", "time")) == [(2.5, 2.5)]


def test_a_number_that_could_mean_two_things_is_refused_and_nothing_is_stored(
    localized_page: Page, live_server, locale: str
) -> None:
    page, words = localized_page, WORDS[locale]

    add_an_indicator(page, live_server.url, words, value=words["typed_ambiguous"], minutes="10")

    expect(page.get_by_text(words["ambiguous"])).to_be_visible()
    expect(page.get_by_label(words["value"], exact=True)).to_have_value(words["typed_ambiguous"])
    assert not Indicator.objects.exists()


@pytest.mark.parametrize("typed", ["2,5", "2.5"])
def test_a_decimal_typed_into_the_predict_form_is_used_as_meant(
    localized_page: Page, live_server, locale: str, typed: str
) -> None:
    page, words = localized_page, WORDS[locale]
    owner = UserFactory.create(username="owner")
    metric: Metric = MetricFactory.create(owner=owner, name="Requests", category="Traffic")
    metric.import_indicators(rule_data(60), owner)
    TrainedModelFactory.create(metric=metric)
    log_in(page, live_server.url, "owner")
    page.goto(f"{live_server.url}/predict/?for={metric.pk}")

    type_into(page.get_by_label(words["observed"]), typed)
    type_into(page.get_by_label(words["minutes"]), typed)
    page.get_by_role("button", name=words["run"], exact=True).click()

    page.wait_for_url(f"{live_server.url}/verdicts/*/")
    verdict = Verdict.objects.get()
    assert (verdict.value, verdict.minutes) == (2.5, 2.5)
    # The verdict page's own form offers the same numbers again, written as the page writes them.
    shown = "2,5" if locale == "pt-BR" else "2.5"
    expect(page.get_by_label(words["observed"])).to_have_value(shown)


@pytest.mark.parametrize("typed", ["65,5", "65.5"])
def test_a_verdict_setting_is_typed_as_a_percentage_and_stored_as_the_share_it_always_was(
    localized_page: Page, live_server, locale: str, typed: str
) -> None:
    page, words = localized_page, WORDS[locale]
    metric = MetricFactory.create(owner=UserFactory.create(username="owner"))
    log_in(page, live_server.url, "owner")
    page.goto(f"{live_server.url}/metrics/{metric.pk}/settings/")
    threshold = page.get_by_label(words["rollback_threshold"])
    expect(threshold).to_have_value("60")  # the stored 0.6

    type_into(threshold, typed)
    page.get_by_role("button", name=words["save"]).click()

    page.wait_for_url(live_server.url + metric.get_absolute_url())
    assert Metric.objects.get(pk=metric.pk).rollback_threshold == 0.655
