"""A gate's track record: over its releases with an outcome, how often what it had said was what
the team did (right), the other (wrong), or neither (inconclusive), and how many have no outcome;
counted in one query, shown on the gate page and in the gate's JSON."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from metrics.models import Gate, Outcome, OutcomeVia, Release
from metrics.models.gate import TrackRecord
from tests.api.test_gates import bearer
from tests.outcomes.test_record_outcome import BAD_VALUE, GOOD_VALUE, observed
from tests.pages import table_rows

# (what the gate said, what the team did) of each release of `scored`'s gate.
RELEASES = [
    ("rollback", "rollback"),  # right
    ("rollout", "rollout"),  # right
    ("rollout", "rollback"),  # wrong
    ("inconclusive", "rollout"),  # inconclusive
    ("rollback", ""),  # no outcome yet
    ("", ""),
]


@pytest.fixture
def scored(owner: User) -> Gate:
    gate = Gate.objects.create(name="Checkout deploys", owner=owner)
    for number, (said, did) in enumerate(RELEASES, start=1):
        Release.objects.create(gate=gate, name=f"checkout-web v{number}", gate_said=said if did else "", outcome=did)
    return gate


def test_a_gate_counts_right_wrong_and_inconclusive_over_its_releases_in_one_query(scored: Gate, owner: User) -> None:
    Release.objects.create(gate=Gate.objects.create(name="Other", owner=owner), name="other", outcome="rollback")

    with CaptureQueriesContext(connection) as captured:
        record = scored.track_record

    assert record == TrackRecord(right=2, wrong=1, inconclusive=1, without_outcome=2)
    assert record.with_outcome == 4
    assert len(captured) == 1


def test_gates_are_listed_with_their_track_records_counted_in_the_query_that_reads_them(
    scored: Gate, owner: User
) -> None:
    Gate.objects.create(name="Empty", owner=owner)

    with CaptureQueriesContext(connection) as captured:
        records = {gate.name: gate.track_record for gate in Gate.objects.with_track_records()}

    assert records == {"Checkout deploys": TrackRecord(2, 1, 1, 2), "Empty": TrackRecord()}
    assert len(captured) == 1


def test_outcomes_recorded_count_in_the_track_record_as_the_gate_had_judged(owner: User, release: Release) -> None:
    observed(release, owner, BAD_VALUE, 12)  # the gate says rollback
    other = Release.objects.create(gate=release.gate, name="checkout-web v2", created_by=owner)
    observed(other, owner, GOOD_VALUE, 12)  # the gate says rollout

    release.record_outcome(Outcome.ROLLBACK, owner, via=OutcomeVia.PAGE)
    other.record_outcome(Outcome.ROLLBACK, owner, via=OutcomeVia.API)

    assert release.gate.track_record == TrackRecord(right=1, wrong=1, inconclusive=0, without_outcome=0)


def test_the_gate_page_shows_its_track_record_and_each_releases_outcome(
    client: Client, stranger: User, scored: Gate
) -> None:
    client.force_login(stranger)

    response = client.get(reverse("metrics:gate", args=[scored.pk]))

    html = response.content.decode()
    assert "Right about 2 of 4 releases with an outcome." in html
    assert table_rows(response, "track-record-counts") == [["2", "1", "1", "2"]]
    releases = html.split('data-testid="releases"')[1].split("</ul>")[0]
    assert releases.count("gate right") == 2
    assert releases.count("gate wrong") == 1
    assert releases.count("gate inconclusive") == 1
    assert releases.count('data-testid="release-outcome"') == 4


def test_a_gate_with_no_outcome_yet_says_so(client: Client, owner: User) -> None:
    gate = Gate.objects.create(name="New", owner=owner)
    client.force_login(owner)

    html = client.get(reverse("metrics:gate", args=[gate.pk])).content.decode()

    assert "No release of this gate has an outcome yet." in html
    assert 'data-testid="track-record-counts"' not in html


def test_the_gates_json_has_its_track_record(client: Client, owner: User, scored: Gate) -> None:
    expected = {"right": 2, "wrong": 1, "inconclusive": 1, "with_outcome": 4, "without_outcome": 2}

    one = client.get(reverse("api:gate", args=[scored.pk]), headers=bearer(owner)).json()
    listed = client.get(reverse("api:gates"), headers=bearer(owner)).json()["results"]

    assert one["track_record"] == expected
    assert [gate["track_record"] for gate in listed] == [expected]


def test_the_gate_list_reads_track_records_in_as_many_queries_however_many_gates(
    client: Client, owner: User, scored: Gate
) -> None:
    headers = bearer(owner)

    def queries_of_the_list() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("api:gates"), headers=headers).status_code == 200
        return len(captured)

    queries_of_the_list()  # the token's first use is recorded once
    one = queries_of_the_list()
    for name in ("Search", "Payments"):
        gate = Gate.objects.create(name=name, owner=owner)
        Release.objects.create(gate=gate, name="web", outcome="rollout", gate_said="rollout")

    assert queries_of_the_list() == one


@pytest.mark.parametrize("outcome", [Outcome.ROLLBACK, Outcome.ROLLOUT])
@pytest.mark.parametrize("said", ["", "rollback", "rollout", "inconclusive"])
def test_a_release_and_its_gates_count_judge_the_gate_alike(owner: User, said: str, outcome: str) -> None:
    """`Release.gate_was` (one release, in Python) and `track_record_conditions` (the gate's
    counts, in SQL) write the same rule twice: they agree on every pair."""
    gate = Gate.objects.create(name="Checkout deploys", owner=owner)
    release = Release.objects.create(gate=gate, name="checkout-web", gate_said=said, outcome=outcome)

    counted = {name: count for name, count in vars(gate.track_record).items() if count}

    assert counted == {release.gate_was: 1}
