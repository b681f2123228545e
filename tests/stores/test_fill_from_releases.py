"""A history fill of the releases recorded here with an outcome, instead of a file: those of the
owner's gates that judge with the metric, each read from the real Prometheus of
tests/stores/conftest.py as a fill file's release is (one range query each), stored with its
outcome's decision as one import batch, all or nothing, undoable. Left out, and said why: those
whose observations their outcome labelled already (they would count twice), those whose first
minutes are not over, a release recorded in two gates but once; the releases of someone else's
gate are not read. On the metric page and through the API."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import TokenScope
from metrics.exceptions import DuplicateFill, NothingToFill
from metrics.models import Gate, GateMetric, ImportBatch, Job, JobStatus, Metric, Outcome, OutcomeVia, Release
from tests.api.test_gates import bearer, trained
from tests.data import imports_state
from tests.pages import messages_of
from tests.refusals import changes_nothing
from tests.stores.conftest import HISTORY_START, PrometheusServer, history_value
from tests.stores.test_fill import bound, range_queries

# The release's version names the service whose errors it is read for.
BY_VERSION = 'mb_history_error_ratio{service="{{ version }}"}'


def gate_of(metric: Metric, owner: User, name: str = "Checkout deploys") -> Gate:
    gate = Gate.objects.create(name=name, owner=owner)
    GateMetric.objects.create(gate=gate, metric=metric, weight=1)
    return gate


def release_in(gate: Gate, at_minute: int, outcome: str = "", *, key: str = "", version: str = "checkout") -> Release:
    """A release of `gate` started `at_minute` minutes into the backfilled history, with `outcome` recorded."""
    release = Release.objects.create(
        gate=gate,
        name="checkout-web",
        version=version,
        key=key or f"hash-{at_minute}",
        started_at=HISTORY_START + timedelta(minutes=at_minute),
        created_by=gate.owner,
    )
    if outcome:
        release.record_outcome(outcome, gate.owner, via=OutcomeVia.PAGE)
    return release


def stored(metric: Metric) -> list[tuple[float, int, float]]:
    return list(metric.indicators.order_by("pk").values_list("value", "decision", "time"))


@pytest.fixture
def three_releases(prometheus: PrometheusServer, metric: Metric, owner: User) -> Gate:
    """`metric` bound by its version to the test Prometheus, in a gate of three releases with an
    outcome (at minutes 10, 40 and 70 of its history) and one without."""
    bound(metric, prometheus.url, query=BY_VERSION)
    gate = gate_of(metric, owner)
    release_in(gate, 10, Outcome.ROLLOUT)
    release_in(gate, 40, Outcome.ROLLBACK)
    release_in(gate, 70, Outcome.ROLLOUT)
    release_in(gate, 100)  # no outcome: not read
    return gate


def expected(*starts: tuple[int, int], minutes: int = 10) -> list[tuple[float, int, float]]:
    return [
        (history_value(start + minute), decision, float(minute))
        for start, decision in starts
        for minute in range(1, minutes + 1)
    ]


def test_the_releases_recorded_here_with_an_outcome_fill_the_history_one_range_query_each(
    prometheus: PrometheusServer, metric: Metric, owner: User, three_releases: Gate
) -> None:
    before = range_queries(prometheus)

    job = metric.queue_fill_from_releases(10, owner)

    job.refresh_from_db()
    assert (job.kind, job.status) == ("fill", JobStatus.DONE)
    assert job.outcome() == (
        "Filled 30 indicators into “Requests per minute” from its data source. "
        "It read 3 releases recorded here with an outcome."
    )
    assert stored(metric) == expected((10, 0), (40, 1), (70, 0))
    assert range_queries(prometheus) - before == 3
    batch = ImportBatch.objects.get()
    assert (batch.file_name, batch.rows, batch.fill_minutes, batch.uploaded_by) == (
        "Releases recorded here with an outcome",
        30,
        10,
        owner,
    )
    assert bytes(batch.data) == b""  # kept only for the job, as a file is
    assert batch.undo() == 30
    assert not metric.indicators.exists()


def test_a_release_whose_outcome_labelled_its_observations_of_the_metric_is_left_out_saying_why(
    prometheus: PrometheusServer, owner: User
) -> None:
    """Its observations became labelled indicators of the metric when its outcome was recorded:
    filled again, the same release would count twice. One whose labels were undone, and one that
    labelled another metric only, are read."""
    metric, other = trained(owner, "Error ratio"), trained(owner, "Queue depth")
    bound(metric, prometheus.url, query=BY_VERSION)
    gate = gate_of(metric, owner)
    GateMetric.objects.create(gate=gate, metric=other, weight=1)
    observed, undone, of_another = release_in(gate, 10), release_in(gate, 40), release_in(gate, 70)
    observed.observe(metric, 900, owner, minutes=3)
    undone.observe(metric, 900, owner, minutes=3)
    of_another.observe(other, 900, owner, minutes=3)
    for release in (observed, undone, of_another):
        release.record_outcome(Outcome.ROLLBACK, owner, via=OutcomeVia.API)
    Release.objects.get(pk=undone.pk).outcome_labels.undo()  # type: ignore[union-attr]
    before = list(metric.indicators.values_list("pk", flat=True))

    job = metric.queue_fill_from_releases(10, owner)

    job.refresh_from_db()
    assert job.outcome() == (
        "Filled 20 indicators into “Error ratio” from its data source. It read 2 releases recorded here with an "
        "outcome. Left out: 1 whose observations its outcome labelled already (filled again, they would count "
        "twice)."
    )
    filled = metric.indicators.exclude(pk__in=before).order_by("pk").values_list("value", "decision", "time")
    assert list(filled) == expected((40, 1), (70, 1))


def test_releases_whose_first_minutes_are_not_over_or_recorded_twice_are_left_out(
    prometheus: PrometheusServer, metric: Metric, owner: User
) -> None:
    bound(metric, prometheus.url, query=BY_VERSION)
    gate, twin = gate_of(metric, owner), gate_of(metric, owner, "Checkout, strict")
    release_in(gate, 10, Outcome.ROLLOUT, key="same")
    release_in(twin, 10, Outcome.ROLLOUT, key="same")  # the same deployment, judged by two gates
    just_started = Release.objects.create(
        gate=gate, name="checkout-web", version="checkout", started_at=timezone.now() - timedelta(minutes=5)
    )
    just_started.record_outcome(Outcome.ROLLBACK, owner, via=OutcomeVia.PAGE)

    job = metric.queue_fill_from_releases(10, owner)

    job.refresh_from_db()
    assert job.outcome() == (
        "Filled 10 indicators into “Requests per minute” from its data source. It read 1 release recorded here "
        "with an outcome. Left out: 1 whose first 10 minutes are not over yet; 1 recorded in another gate too (the "
        "same start and key)."
    )
    assert stored(metric) == expected((10, 0))


def test_the_releases_of_someone_elses_gate_are_not_read(
    prometheus: PrometheusServer, metric: Metric, owner: User, stranger: User
) -> None:
    bound(metric, prometheus.url, query=BY_VERSION)
    release_in(gate_of(metric, stranger, "Theirs"), 10, Outcome.ROLLBACK)

    with changes_nothing(imports_state), pytest.raises(NothingToFill) as refused:
        metric.queue_fill_from_releases(10, owner)

    assert str(refused.value) == (
        "No release of your gates that judge with “Requests per minute” has an outcome yet: record what was done "
        "with each (rolled back or rolled out), or give a file of past releases."
    )
    assert not Job.objects.exists()


def test_with_every_release_left_out_nothing_is_filled_and_the_refusal_says_why(
    prometheus: PrometheusServer, metric: Metric, owner: User
) -> None:
    bound(metric, prometheus.url, query=BY_VERSION)
    just_started = Release.objects.create(
        gate=gate_of(metric, owner), name="checkout-web", started_at=timezone.now() - timedelta(minutes=5)
    )
    just_started.record_outcome(Outcome.ROLLBACK, owner, via=OutcomeVia.PAGE)

    with changes_nothing(imports_state), pytest.raises(NothingToFill) as refused:
        metric.queue_fill_from_releases(30, owner)

    assert str(refused.value) == (
        "No release recorded here is left to fill the history of “Requests per minute” from: the one with an "
        "outcome cannot be read. Left out: 1 whose first 30 minutes are not over yet."
    )
    assert refused.value.code == "no_releases"


def test_a_second_fill_of_the_releases_is_refused_until_the_first_is_undone_then_reads_those_since(
    prometheus: PrometheusServer, metric: Metric, owner: User, three_releases: Gate
) -> None:
    metric.queue_fill_from_releases(10, owner)
    since = three_releases.releases.get(key="hash-100")
    since.record_outcome(Outcome.ROLLBACK, owner, via=OutcomeVia.FLAGGER)  # recorded since

    with changes_nothing(imports_state), pytest.raises(DuplicateFill) as refused:
        metric.queue_fill_from_releases(10, owner)

    assert str(refused.value).startswith(
        "The history of “Requests per minute” was already filled from the releases recorded here and this data "
        "source on"
    )
    assert str(refused.value).endswith(
        "by owner (30 rows). Undo that fill to fill it again, with the releases recorded since."
    )
    ImportBatch.objects.get().undo()
    metric.queue_fill_from_releases(10, owner)
    assert stored(metric) == expected((10, 0), (40, 1), (70, 0), (100, 1))


def test_a_release_the_store_has_no_data_for_fails_the_fill_naming_the_release(
    prometheus: PrometheusServer, metric: Metric, owner: User
) -> None:
    bound(metric, prometheus.url, query=BY_VERSION)
    gate = gate_of(metric, owner)
    release_in(gate, 10, Outcome.ROLLOUT)
    release_in(gate, 40, Outcome.ROLLBACK, version="search-v2")  # no such service

    job = metric.queue_fill_from_releases(10, owner)

    refusal = Job.objects.get(pk=job.pk).csv_error()
    assert refusal is not None
    assert refusal.message == "Nothing was stored: 1 release could not be filled."
    assert str(refusal.row_errors[0]).startswith(
        "Line 3: release “checkout-web search-v2”: “Prometheus 0” has no value in the 10 minutes after its start."
    )
    assert not metric.indicators.exists()


# --- On the metric page --------------------------------------------------------------------------


def fill_from_releases(client: Client, metric: Metric, minutes: str = "10", **more: object):
    return client.post(reverse("metrics:fill", args=[metric.pk]), {"minutes": minutes, "from": "releases", **more})


def test_the_page_offers_the_releases_recorded_here_and_fills_from_them(
    client: Client, metric: Metric, owner: User, three_releases: Gate
) -> None:
    client.force_login(owner)

    page = client.get(metric.get_absolute_url()).content.decode()
    chosen = io.BytesIO(b"started_at,decision\n")
    chosen.name = "not-read.csv"
    response = fill_from_releases(client, metric, file=chosen)  # the button says which: the file is not read

    assert "With an outcome: 3 releases." in page
    assert 'name="from" value="releases"' in page
    assert "Fill from 3 releases recorded here" in page
    assert response.status_code == 302
    assert messages_of(response) == [
        "Filled 30 indicators into “Requests per minute” from its data source. It read 3 releases recorded here "
        "with an outcome."
    ]
    assert "Releases recorded here with an outcome" in client.get(metric.get_absolute_url()).content.decode()


def test_the_page_says_when_no_release_has_an_outcome_and_refuses_a_fill_of_none(
    prometheus: PrometheusServer, client: Client, metric: Metric, owner: User
) -> None:
    bound(metric, prometheus.url, query=BY_VERSION)
    release_in(gate_of(metric, owner), 10)  # no outcome yet
    client.force_login(owner)

    page = client.get(metric.get_absolute_url()).content.decode()
    with changes_nothing(imports_state):
        response = fill_from_releases(client, metric)

    assert "No release of your gates that judge with this metric has an outcome yet" in page
    assert 'name="from" value="releases"' not in page
    assert response.status_code == 400
    assert "No release of your gates that judge with “Requests per minute” has an outcome yet" in (
        response.content.decode()
    )
    assert not Job.objects.exists()


def test_a_second_fill_of_the_releases_from_the_page_is_refused_on_the_form(
    client: Client, metric: Metric, owner: User, three_releases: Gate
) -> None:
    client.force_login(owner)
    fill_from_releases(client, metric)

    with changes_nothing(imports_state):
        response = fill_from_releases(client, metric)

    assert response.status_code == 400
    assert "was already filled from the releases recorded here" in response.content.decode()


def test_a_stranger_may_not_fill_from_the_releases_and_nothing_changes(
    client: Client, metric: Metric, stranger: User, contributor: User, three_releases: Gate
) -> None:
    for someone in (stranger, contributor):
        client.force_login(someone)
        with changes_nothing(imports_state):
            response = fill_from_releases(client, metric)
        assert response.status_code == 403
    assert not Job.objects.exists()


# --- Through the API -------------------------------------------------------------------------------


def api_fill(client: Client, metric: Metric, headers: dict[str, str], **body: object):
    return client.post(reverse("api:fills", args=[metric.pk]), body, content_type="application/json", headers=headers)


def test_the_api_fills_from_the_releases_recorded_here_without_a_file(
    client: Client, metric: Metric, owner: User, three_releases: Gate
) -> None:
    response = api_fill(client, metric, bearer(owner), **{"from": "releases", "minutes": 10})

    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["kind"], body["status"], body["file"]) == ("fill", "done", "Releases recorded here with an outcome")
    assert body["outcome"].endswith("It read 3 releases recorded here with an outcome.")
    assert metric.indicators.count() == 30


def test_the_api_refuses_a_fill_of_the_releases_with_a_file_a_fill_of_none_and_a_stranger(
    prometheus: PrometheusServer, client: Client, metric: Metric, owner: User, contributor: User
) -> None:
    bound(metric, prometheus.url, query=BY_VERSION)
    release_in(gate_of(metric, owner), 10)  # no outcome

    with changes_nothing(imports_state):
        with_a_file = client.post(
            reverse("api:fills", args=[metric.pk]),
            {"from": "releases", "file": SimpleUploadedFile("releases.csv", b"started_at,decision\n")},
            headers=bearer(owner),
        )
        none = api_fill(client, metric, bearer(owner), **{"from": "releases"})
        no_file = api_fill(client, metric, bearer(owner), minutes=10)
        elsewhere = api_fill(client, metric, bearer(owner), **{"from": "somewhere"})
        not_owner = api_fill(client, metric, bearer(contributor), **{"from": "releases"})
        read_only = api_fill(client, metric, bearer(owner, TokenScope.READ), **{"from": "releases"})

    assert with_a_file.status_code == 400
    assert with_a_file.json()["errors"][0]["message"] == "Leave the file out: the releases recorded here are read."
    assert (none.status_code, none.json()["code"]) == (409, "no_releases")
    assert [error["field"] for error in no_file.json()["errors"]] == ["file"]
    assert [error["field"] for error in elsewhere.json()["errors"]] == ["from"]
    assert (not_owner.status_code, read_only.status_code) == (403, 403)
    assert not Job.objects.exists()


def test_labels_given_after_a_fill_read_their_release_warn_on_its_page_that_it_may_count_twice(
    prometheus: PrometheusServer, owner: User, client: Client
) -> None:
    """Undo a release's labels, fill the metric from the releases (this one read with its first
    outcome), then change the outcome: the new labels sit beside the fill's rows of the same
    release. Which releases a fill read is not kept, so the release page says so and what to do."""
    metric = trained(owner, "Error ratio")
    bound(metric, prometheus.url, query=BY_VERSION)
    release = release_in(gate_of(metric, owner), 10)
    release.observe(metric, 900, owner, minutes=3)
    release.record_outcome(Outcome.ROLLOUT, owner, via=OutcomeVia.PAGE)
    Release.objects.get(pk=release.pk).outcome_labels.undo()  # type: ignore[union-attr]
    metric.queue_fill_from_releases(10, owner)
    client.force_login(owner)
    assert "may count twice" not in client.get(release.get_absolute_url()).content.decode()

    Release.objects.get(pk=release.pk).record_outcome(Outcome.ROLLBACK, owner, via=OutcomeVia.PAGE)

    page = client.get(release.get_absolute_url()).content.decode()
    warning = f'The history of <a href="{reverse("metrics:detail", args=[metric.pk])}">“Error ratio”</a> was filled'
    assert warning in page
    assert "after its outcome was recorded and before these labels: this release may count twice there" in page


def test_a_fill_after_a_release_was_labelled_left_it_out_and_its_page_warns_of_nothing(
    prometheus: PrometheusServer, owner: User, client: Client
) -> None:
    metric = trained(owner, "Error ratio")
    bound(metric, prometheus.url, query=BY_VERSION)
    gate = gate_of(metric, owner)
    release = release_in(gate, 10)
    release_in(gate, 40, Outcome.ROLLBACK)  # no observation: read by the fill
    release.observe(metric, 900, owner, minutes=3)
    release.record_outcome(Outcome.ROLLOUT, owner, via=OutcomeVia.PAGE)
    metric.queue_fill_from_releases(10, owner)
    client.force_login(owner)

    assert "may count twice" not in client.get(release.get_absolute_url()).content.decode()
