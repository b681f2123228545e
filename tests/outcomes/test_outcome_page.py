"""The release page's Outcome: who may record what the team did (the gate's owner, or whoever
opened the release), who may change it (the owner), what the page then says of the gate, its
labels and their undo; a stranger sees it and is refused the rest; bad input changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from metrics.models import Decision, Indicator, Outcome, OutcomeVia, Release
from tests.outcomes.test_record_outcome import BAD_VALUE, GOOD_VALUE, observed, outcome_state
from tests.pages import messages_of, table_rows
from tests.refusals import changes_nothing


def said_rollback_from_minute_12(release: Release, owner: User) -> None:
    """The pipeline was answered rollout at minute 2, then rollback from minute 12 on."""
    started = release.started_at
    observed(release, owner, GOOD_VALUE, 2)
    release.answer(owner, at=started + timedelta(minutes=2))
    observed(release, owner, BAD_VALUE, 12)
    release.answer(owner, at=started + timedelta(minutes=12))
    release.answer(owner, at=started + timedelta(minutes=14))


def record(client: Client, release: Release, outcome: str | None, note: str = "", **options):
    data = {"note": note} if outcome is None else {"outcome": outcome, "note": note}
    return client.post(reverse("metrics:release_outcome", args=[release.pk]), data, **options)


def page(client: Client, release: Release) -> str:
    return client.get(release.get_absolute_url()).content.decode()


def test_the_owner_records_a_rollback_and_the_page_says_the_gate_was_right(
    client: Client, owner: User, release: Release
) -> None:
    said_rollback_from_minute_12(release, owner)
    client.force_login(owner)

    response = record(client, release, "rollback", "p99 doubled in eu-west", follow=True)

    assert response.redirect_chain == [(release.get_absolute_url(), 302)]
    assert messages_of(response) == [
        "Recorded: the release was rolled back. Its 4 observations are now labelled indicators for the next training."
    ]
    html = response.content.decode()
    assert "The gate said rollback at 12 min; the team rolled back: the gate was right." in html
    assert "gate right" in html
    assert "Recorded on " in html
    assert " by owner through the release page." in html
    assert "p99 doubled in eu-west" in html
    assert "4 observations became labelled indicators of their metrics" in html
    assert 'data-testid="outcome-form"' not in html
    stored = Release.objects.get(pk=release.pk)
    assert (stored.outcome, stored.outcome_by, stored.outcome_via, stored.outcome_note) == (
        "rollback",
        owner,
        "page",
        "p99 doubled in eu-west",
    )
    labels = Indicator.objects.filter(batch__release=release)
    assert labels.count() == 4
    assert {label.decision for label in labels} == {Decision.ROLLBACK}


def test_whoever_opened_the_release_records_its_outcome_and_the_page_says_the_gate_was_wrong(
    client: Client, owner: User, contributor: User, release: Release
) -> None:
    said_rollback_from_minute_12(release, owner)
    client.force_login(contributor)
    assert 'data-testid="outcome-form"' in page(client, release)

    response = record(client, release, "rollout", follow=True)

    html = response.content.decode()
    assert "The gate said rollback at 12 min; the team rolled out: the gate was wrong." in html
    assert "gate wrong" in html
    assert " by contributor through the release page." in html
    assert Release.objects.get(pk=release.pk).outcome_by == contributor


def test_an_outcome_with_nothing_observed_says_the_gate_had_no_verdict_to_count_and_nothing_was_labelled(
    client: Client, owner: User, release: Release
) -> None:
    client.force_login(owner)

    response = record(client, release, "rollout", follow=True)

    assert messages_of(response) == ["Recorded: the release was rolled out."]
    html = response.content.decode()
    assert "The gate was inconclusive; the team rolled out: neither right nor wrong." in html
    assert "No observation was labelled: the release had none to label." in html


def test_the_same_outcome_twice_says_it_was_recorded_already_and_changes_nothing(
    client: Client, owner: User, release: Release
) -> None:
    observed(release, owner, BAD_VALUE, 12)
    client.force_login(owner)
    record(client, release, "rollback", follow=True)

    with changes_nothing(outcome_state):
        response = record(client, release, "rollback", "pressed twice", follow=True)

    assert messages_of(response) == ["The release was already recorded as rolled back: nothing changed."]


def test_a_stranger_sees_the_outcome_but_no_form_and_may_not_change_it(
    client: Client, owner: User, stranger: User, release: Release
) -> None:
    observed(release, owner, BAD_VALUE, 12)
    release.record_outcome(Outcome.ROLLBACK, owner, via=OutcomeVia.API, note="canary errors")
    client.force_login(stranger)

    html = page(client, release)
    with changes_nothing(outcome_state):
        response = record(client, release, "rollout")

    assert " by owner through the API." in html
    assert "canary errors" in html
    assert "<form" not in html.split('data-testid="outcome"')[1].split("</section>")[0]
    assert response.status_code == 403


def test_a_stranger_cannot_record_the_first_outcome_and_nothing_changes(
    client: Client, owner: User, stranger: User, release: Release
) -> None:
    observed(release, owner, BAD_VALUE, 12)
    client.force_login(stranger)

    html = page(client, release)
    with changes_nothing(outcome_state):
        response = record(client, release, "rollback")

    assert "Not recorded yet." in html
    assert 'data-testid="outcome-form"' not in html
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("outcome", "note", "message"),
    [
        (None, "", "Press “Rolled back” or “Rolled out”: what was done with the release."),
        ("promoted", "", "Press “Rolled back” or “Rolled out”: what was done with the release."),
        ("rollback", "x" * 501, "Ensure this value has at most 500 characters (it has 501)."),
    ],
)
def test_bad_input_is_a_form_error_and_changes_nothing(
    client: Client, owner: User, release: Release, outcome: str | None, note: str, message: str
) -> None:
    observed(release, owner, BAD_VALUE, 12)
    client.force_login(owner)

    with changes_nothing(outcome_state):
        response = record(client, release, outcome, note)

    assert response.status_code == 400
    assert message in response.content.decode()


def test_the_gate_owner_changes_the_outcome_relabels_and_the_page_logs_both(
    client: Client, owner: User, contributor: User, release: Release
) -> None:
    said_rollback_from_minute_12(release, owner)
    release.record_outcome(Outcome.ROLLBACK, contributor, via=OutcomeVia.FLAGGER)
    client.force_login(owner)
    assert "Change to rolled out" in page(client, release)

    response = record(client, release, "rollout", "it was the load test", follow=True)

    assert messages_of(response)[0].startswith("Recorded: the release was rolled out.")
    html = response.content.decode()
    # What the gate said is kept from the first outcome.
    assert "The gate said rollback at 12 min; the team rolled out: the gate was wrong." in html
    log = table_rows(response, "outcome-changes")
    assert [(row[1], row[2], row[3], row[4]) for row in log] == [
        ("Rolled back", "contributor", "Flagger", "—"),
        ("Rolled out", "owner", "the release page", "it was the load test"),
    ]
    labels = Indicator.objects.filter(batch__release=release)
    assert {label.decision for label in labels} == {Decision.ROLLOUT}


def test_whoever_opened_the_release_cannot_change_its_outcome_and_nothing_changes(
    client: Client, owner: User, contributor: User, release: Release
) -> None:
    observed(release, owner, BAD_VALUE, 12)
    client.force_login(contributor)
    record(client, release, "rollback")

    html = page(client, release)
    with changes_nothing(outcome_state):
        response = record(client, release, "rollout")

    assert "Change to rolled out" not in html
    assert response.status_code == 403


def test_the_labels_are_undone_from_the_release_page_and_the_outcome_stays(
    client: Client, owner: User, release: Release
) -> None:
    observed(release, owner, BAD_VALUE, 3, 12)
    client.force_login(owner)
    record(client, release, "rollback", follow=True)
    batch = Release.objects.get(pk=release.pk).outcome_labels
    assert batch is not None

    response = client.post(reverse("metrics:undo_import", args=[batch.pk]), follow=True)

    assert response.redirect_chain == [(release.get_absolute_url(), 302)]
    assert messages_of(response) == [
        "Labels undone: the 4 indicators the outcome of “checkout-web” labelled were deleted. "
        "The outcome stays recorded."
    ]
    assert "Labels undone: the 4 labelled indicators were deleted on" in response.content.decode()
    assert not Indicator.objects.filter(batch=batch).exists()
    assert Release.objects.get(pk=release.pk).outcome == "rollback"


def test_a_stranger_cannot_undo_a_releases_labels_and_nothing_changes(
    client: Client, owner: User, stranger: User, release: Release
) -> None:
    observed(release, owner, BAD_VALUE, 12)
    release.record_outcome(Outcome.ROLLBACK, owner, via=OutcomeVia.API)
    batch = Release.objects.get(pk=release.pk).outcome_labels
    assert batch is not None
    client.force_login(stranger)

    assert "Undo the labels" not in page(client, release)
    with changes_nothing(outcome_state):
        response = client.post(reverse("metrics:undo_import", args=[batch.pk]))

    assert response.status_code == 403


def test_a_metrics_labelled_indicators_say_which_release_they_came_from(
    client: Client, owner: User, release: Release
) -> None:
    observed(release, owner, BAD_VALUE, 3, 12)
    release.record_outcome(Outcome.ROLLBACK, None, via=OutcomeVia.CLI)
    metric = release.gate.gate_metrics.get(metric__name="Error rate").metric
    client.force_login(owner)

    response = client.get(metric.get_absolute_url())

    html = response.content.decode()
    link = f'from the outcome of release <a href="{release.get_absolute_url()}">checkout-web</a>'
    assert html.count(link) == 2  # its two observations; the 200 rows it was trained on say nothing
    assert html.count('data-testid="label-provenance"') == 2
    rows = table_rows(response, "indicators")
    assert [row[3].endswith("from the outcome of release checkout-web") for row in rows] == [True, True] + [False] * (
        len(rows) - 2
    )


def test_a_verdict_its_release_outcome_labelled_names_the_release_and_refuses_feedback(
    client: Client, owner: User, release: Release
) -> None:
    observed(release, owner, BAD_VALUE, 12)
    release.record_outcome(Outcome.ROLLBACK, owner, via=OutcomeVia.PAGE)
    verdict = release.observations.get(metric__name="Error rate").verdict
    client.force_login(owner)

    shown = client.get(verdict.get_absolute_url()).content.decode()
    assert 'data-testid="labelled-by"' in shown
    assert "labels it “Rolled back”" in shown
    assert reverse("metrics:feedback", args=[verdict.pk]) not in shown  # no form to fill in vain

    before = outcome_state()
    response = client.post(reverse("metrics:feedback", args=[verdict.pk]), {"decided": Decision.ROLLOUT}, follow=True)

    assert messages_of(response) == [
        "This observation is labelled by the outcome of release “checkout-web”: change the release's outcome instead."
    ]
    assert outcome_state() == before
