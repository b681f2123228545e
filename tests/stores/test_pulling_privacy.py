"""A data source is its owner's alone, also once its metrics are pulled: a gate of someone else's
never pulls a metric bound to it (its releases would ask the source with its owner's
credentials), and a reader of a release of the owner's gate learns what happened in plain
words, without the source's name, the query as sent or what the store answered. And what a
pull cannot trust is not observed: a value too large to judge."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from metrics.models import Gate, GateMetric, Metric, PullOutcome
from metrics.models.data_source import VALUE_TOO_LARGE
from tests.api.test_gates import bearer
from tests.metrics.test_pulling import bound_gate, closed_url, pulled, started, visible_text
from tests.stores.conftest import PrometheusServer
from tests.stores.test_pulling import serving


def test_a_gate_never_pulls_a_metric_bound_to_someone_elses_source(owner: User, stranger: User) -> None:
    bound_gate(owner, closed_url())  # the owner's metric, bound to the owner's source
    theirs = Gate.objects.create(name="Borrowed", owner=stranger, pull_interval_seconds=10)
    GateMetric.objects.create(gate=theirs, metric=Metric.objects.get(name="error rate"), weight=1, critical=True)

    release = started(theirs, version="v-borrowed")
    pulls = release.pull()

    assert (theirs.has_bound_metric(), release.next_pull_at, pulls, pulled(release)) == (False, None, [], [])


def test_a_reader_of_a_pulled_release_learns_what_happened_without_the_source_the_query_or_the_answer(
    client: Client, owner: User, stranger: User
) -> None:
    release = started(bound_gate(owner, closed_url()), version="v-down")
    [pull] = release.pull()
    assert (pull.outcome, "127.0.0.1" in pull.detail) == (PullOutcome.FAILED, True)  # what the store said
    client.force_login(stranger)

    page = visible_text(client.get(release.get_absolute_url()).content.decode())
    answer = client.get(reverse("api:release", args=[release.pk]), headers=bearer(stranger)).json()

    assert "Its data source could not be asked, 1 time in a row" in page
    assert "The connection was refused: nothing answers at that address and port." in page
    for private in ("prod", "mb_pull_error_ratio", "127.0.0.1", "The query as sent"):
        assert private not in page, private
    [metric] = answer["pulling"]["metrics"]
    assert metric["error"] == "The connection was refused: nothing answers at that address and port."


def test_the_owner_of_the_source_reads_where_and_how_its_release_was_pulled(client: Client, owner: User) -> None:
    release = started(bound_gate(owner, closed_url()), version="v-down")
    release.pull()
    client.force_login(owner)

    page = visible_text(client.get(release.get_absolute_url()).content.decode())

    assert "Prometheus “prod” could not be asked, 1 time in a row" in page
    assert "127.0.0.1" in page
    assert "The query as sent" in page


def test_a_value_too_large_to_judge_is_not_observed_and_says_so(owner: User, prometheus: PrometheusServer) -> None:
    serving(prometheus, "v-huge", 1e39)
    release = started(bound_gate(owner, prometheus.url), version="v-huge")

    [pull] = release.pull()

    assert (pull.outcome, pull.error_kind, pull.observation, pull.value) == (
        PullOutcome.FAILED,
        VALUE_TOO_LARGE,
        None,
        1e39,
    )
    assert pull.error_words == "The value 1e+39 is too large to judge (at most 3.4e+38)."
    assert release.observations.count() == 0
