"""A newcomer's first session, from signing up to deleting the metric they made."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Locator, Page, expect

from metrics.models import Decision, Indicator, Metric, TrainedModel
from tests.data import rule_data
from tests.factories import PASSWORD as FACTORY_PASSWORD
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

USERNAME = "newcomer"
PASSWORD = "rollback-or-rollout-42"
METRIC_NAME = "Requests per minute"
CATEGORY = "Comunicação"
UPLOADED_ROWS = 60
EXPORT_HEADER = "valor,decisao,tempo,usuario,registrado_em"


def indicator_csv(rows: int) -> bytes:
    """A CSV in the seed's format whose decisions follow `rule_data`'s rule.

    The rule: rollback when value < 400 and time >= 10 minutes.
    """
    parsed = rule_data(rows)
    lines = ["valor,decisao,tempo"] + [
        f"{value!r},{decision},{minutes!r}" for value, minutes, decision in parsed.rows()
    ]
    assert 0 < sum(parsed.decisions) < rows, "the data must hold both decisions to be trainable"
    return ("\n".join(lines) + "\n").encode()


def test_newcomer_signs_up_builds_trains_and_queries_a_model_then_deletes_the_metric(page: Page, live_server) -> None:
    base = live_server.url

    # Sign up: anonymous visitors land on the login page, which offers signing up.
    newcomer = sign_up(page, base)

    # Create a metric in the modal of the home page.
    metric = create_metric(page, base, newcomer)

    # One indicator by hand, one that follows the rule (a low value over a long time: rollback).
    page.get_by_label("Value").fill("250")
    page.get_by_label("Decision").select_option(label="Rollback (1)")
    page.get_by_label("Time (minutes)").fill("20")
    page.get_by_role("button", name="Add indicator").click()

    expect(page.get_by_text("Indicator added.")).to_be_visible()
    expect(page.get_by_role("heading", name="1 indicator", exact=True)).to_be_visible()
    added = Indicator.objects.get(metric=metric)
    assert (added.value, added.decision, added.time, added.created_by) == (250, Decision.ROLLBACK, 20, newcomer)

    # Bulk insert a CSV file from the home page.
    navbar(page).get_by_role("link", name="Metrics").click()
    page.get_by_role("main").get_by_role("link", name="Upload CSV", exact=True).click()
    expect(page.get_by_role("heading", name="Upload CSV")).to_be_visible()
    page.get_by_label("Metric to add the data to").select_option(label=f"{METRIC_NAME} ({CATEGORY})")
    page.get_by_label("Delimiter").select_option(label="Comma (,)")
    page.get_by_label("CSV file").set_input_files(
        {"name": "requests.csv", "mimeType": "text/csv", "buffer": indicator_csv(UPLOADED_ROWS)}
    )
    page.get_by_role("button", name="Upload").click()

    expect(page.get_by_text(f"Imported {UPLOADED_ROWS} indicators into “{METRIC_NAME}”.")).to_be_visible()
    expect(page.get_by_role("heading", name=f"{UPLOADED_ROWS + 1} indicators")).to_be_visible()
    assert metric.indicators.count() == UPLOADED_ROWS + 1
    assert metric.indicators.filter(created_by=newcomer).count() == UPLOADED_ROWS + 1

    # Train the metric's model.
    accuracy = train(page, metric, newcomer)

    # Ask the model, through the Predict page, about two observations.
    navbar(page).get_by_role("link", name="Predict").click()
    expect(page.get_by_role("heading", name="Run the model")).to_be_visible()
    # By the rule the data follows, a high value calls for a rollout ...
    run_prediction(page, metric_label=f"{METRIC_NAME} ({CATEGORY})", value="900", minutes="5")
    expect(page.get_by_test_id("verdict")).to_have_text("Rollout recommended")

    # ... and a low value held for 10 minutes or more calls for a rollback.
    run_prediction(page, metric_label=f"{METRIC_NAME} ({CATEGORY})", value="200", minutes="30")
    expect(page.get_by_test_id("verdict")).to_have_text("Rollback recommended")
    expect(page.get_by_text("Rollout recommended")).to_have_count(0)
    expect(page.get_by_text(f"Model version 1, {accuracy} accurate on data it did not see.")).to_be_visible()
    expect(page.get_by_test_id("similar-cases")).to_contain_text("similar past cases were rolled back.")

    regions = page.get_by_role("img", name=re.compile(r"^Chart of the decision regions of the tree"))
    expect(regions).to_have_class(re.compile(r"\bjs-plotly-plot\b"))
    expect(regions.locator("svg.main-svg").first).to_be_visible()
    expect(regions).to_contain_text("Your observation")

    pairplot = page.get_by_role("img", name=f"Pairplot of value and time for “{METRIC_NAME}”, coloured by decision")
    pairplot.scroll_into_view_if_needed()  # the image loads lazily
    expect(pairplot).to_be_visible()
    page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=pairplot.element_handle())

    # Download the indicators from the metric's page.
    navbar(page).get_by_role("link", name="Metrics").click()
    page.get_by_role("link", name=METRIC_NAME, exact=True).click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    download = download_info.value
    assert download.suggested_filename == f"requests-per-minute-{metric.pk}-indicators.csv"
    lines = Path(download.path()).read_text(encoding="utf-8").splitlines()
    assert lines[0] == EXPORT_HEADER
    assert len(lines) == 1 + UPLOADED_ROWS + 1
    assert lines[1].startswith(f"250,1,20,{USERNAME},")  # the oldest first: the one added by hand

    # Switch the interface to Portuguese on the home page, and back to English.
    navbar(page).get_by_role("link", name="Metrics").click()
    page.get_by_label("Language").select_option(label="Português")
    expect(page.locator("html")).to_have_attribute("lang", "pt-br")
    expect(page.get_by_test_id("greeting")).to_have_text(f"Que bom te ver, {USERNAME}!")
    # Everything of theirs is trained: the banner says there is nothing to train, in Portuguese.
    expect(page.get_by_text("Nada para treinar agora")).to_be_visible()
    expect(page.get_by_text("Nothing to train now")).to_have_count(0)
    page.get_by_label("Idioma").select_option(label="English")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_text("Nothing to train now")).to_be_visible()

    # Delete the metric through its confirmation page.
    page.get_by_role("row").filter(has=page.get_by_role("link", name=METRIC_NAME)).get_by_role(
        "link", name="Delete", exact=True
    ).click()
    expect(page.get_by_role("heading", name=f"Delete the metric “{METRIC_NAME}”?")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text(f"Its {UPLOADED_ROWS + 1} indicators will be deleted.")
    expect(page.get_by_role("alert")).to_contain_text("Its 1 trained model will be deleted.")
    page.get_by_role("button", name="Yes, delete it").click()

    expect(page.get_by_text(f"Metric “{METRIC_NAME}” and all its data were deleted.")).to_be_visible()
    expect(page.get_by_text("No metrics yet. Create the first one.")).to_be_visible()
    expect(page.get_by_role("link", name=METRIC_NAME)).to_have_count(0)
    assert not Metric.objects.filter(pk=metric.pk).exists()
    assert not Indicator.objects.exists()
    assert not TrainedModel.objects.exists()


def sign_up(page: Page, base: str) -> User:
    page.goto(base)
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_role("link", name="Sign up").click()
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()

    expect(page.get_by_text(f"Welcome, {USERNAME}! Your account is ready.")).to_be_visible()
    expect(page.get_by_test_id("greeting")).to_have_text(f"Good to see you, {USERNAME}!")
    newcomer = User.objects.get(username=USERNAME)
    assert newcomer.check_password(PASSWORD)
    return newcomer


def create_metric(page: Page, base: str, newcomer: User) -> Metric:
    page.get_by_role("link", name="Create metric").click()
    modal = page.get_by_role("dialog", name="Create a new metric")
    expect(modal).to_be_visible()
    modal.get_by_label("Name", exact=True).fill(METRIC_NAME)
    modal.get_by_label("Category", exact=True).fill(CATEGORY)
    modal.get_by_role("button", name="Create").click()

    expect(page.get_by_text(f"Metric “{METRIC_NAME}” created. Now add some data to it.")).to_be_visible()
    expect(page.get_by_role("heading", name=METRIC_NAME, level=1)).to_be_visible()
    metric = Metric.objects.get(name=METRIC_NAME, category=CATEGORY)
    assert metric.owner == newcomer
    expect(page).to_have_url(f"{base}/metrics/{metric.pk}/")
    return metric


def train(page: Page, metric: Metric, newcomer: User) -> str:
    """Press Train; the accuracy its message shows (as "85.0%")."""
    expect(page.get_by_text("No model yet. Add data, then press Train.")).to_be_visible()
    page.get_by_role("button", name="Train", exact=True).click()

    trained = page.get_by_role("status").filter(has_text="trained")
    expect(trained).to_contain_text(re.compile(rf"Model version 1 of “{METRIC_NAME}” trained: [\d.]+% accuracy"))
    model = TrainedModel.objects.get(metric=metric)
    assert model.n_indicators == UPLOADED_ROWS + 1
    assert model.trained_by == newcomer
    match = re.search(r"trained: ([\d.]+%) accuracy on data it did not see\.", trained.inner_text())
    assert match is not None
    accuracy = match.group(1)
    assert float(accuracy.rstrip("%")) == pytest.approx(model.accuracy * 100, abs=0.05)
    expect(page.get_by_text(f"Trained on {UPLOADED_ROWS + 1} indicators")).to_be_visible()
    return accuracy


def test_create_metric_modal_labels_its_own_fields(page: Page, live_server, fill_login_form) -> None:
    labeller = UserFactory.create(username="labeller")
    page.goto(live_server.url)
    fill_login_form(labeller, FACTORY_PASSWORD)

    page.get_by_role("link", name="Create metric").click()
    modal = page.get_by_role("dialog", name="Create a new metric")
    expect(modal).to_be_visible()
    # A person who clicks a label expects the caret in the field beside it, and a screen
    # reader names each field by its label.
    for label, placeholder in [("Name", "e.g. Requests per minute"), ("Category", "e.g. Communication")]:
        modal.get_by_text(label, exact=True).click()
        expect(modal.get_by_placeholder(placeholder)).to_be_focused(timeout=2_000)  # focus is immediate
        expect(modal.get_by_role("textbox", name=label, exact=True)).to_have_attribute("placeholder", placeholder)


def navbar(page: Page) -> Locator:
    return page.get_by_role("navigation").filter(has=page.get_by_role("button", name="Log out"))


def run_prediction(page: Page, metric_label: str, value: str, minutes: str) -> None:
    page.get_by_label("Metric", exact=True).select_option(label=metric_label)
    page.get_by_label("Observed value").fill(value)
    page.get_by_label("Time (minutes)").fill(minutes)
    page.get_by_role("button", name="Run", exact=True).click()
    # Every verdict is logged and shown at its own address.
    expect(page).to_have_url(re.compile(r"/verdicts/\d+/$"))
