"""A history fill: past releases listed in a file, each read from the metric's data source (the
real Prometheus of tests/stores/conftest.py, its backfilled history) by one range query per
side, and stored as one import batch, all or nothing, undoable like an upload."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
import requests
from django.contrib.auth.models import User

from metrics.exceptions import DuplicateFill, NotBound
from metrics.models import Failure, ImportBatch, Indicator, Job, JobKind, JobStatus, Metric
from metrics.models.data_source import DataSource, MetricQuery
from metrics.models.indicator import Upload
from tests.data import imports_state
from tests.refusals import changes_nothing
from tests.stores.conftest import HISTORY_START, PrometheusServer, history_value

CHECKOUT = 'mb_history_error_ratio{service="checkout"}'


def moment(minutes_after_history_start: int) -> str:
    """A release's start as a fill file writes it: ISO 8601 with its offset (here Z)."""
    at = HISTORY_START + timedelta(minutes=minutes_after_history_start)
    return at.isoformat().replace("+00:00", "Z")


def fill_file(*rows: str, header: str = "started_at,decision") -> Upload:
    data = ("\n".join([header, *rows]) + "\n").encode()
    return Upload(data, hashlib.sha256(data).hexdigest())


def bound(metric: Metric, url: str, query: str = CHECKOUT, **binding: str) -> MetricQuery:
    source = DataSource.objects.create(owner=metric.owner, name=f"Prometheus {DataSource.objects.count()}", url=url)
    return MetricQuery.objects.create(metric=metric, source=source, query=query, **binding)


def range_queries(prometheus: PrometheusServer) -> float:
    """How many range queries the server has answered (its own counter, whatever their status)."""
    page = requests.get(f"{prometheus.url}/metrics", timeout=5).text
    pattern = r'^prometheus_http_requests_total\{[^}]*handler="/api/v1/query_range"[^}]*\} (\S+)$'
    return sum(float(count) for count in re.findall(pattern, page, flags=re.MULTILINE))


def connections_accepted(prometheus: PrometheusServer) -> float:
    """How many connections the server has accepted (its own counter), this question's included."""
    page = requests.get(f"{prometheus.url}/metrics", timeout=5).text
    pattern = r'^net_conntrack_listener_conn_accepted_total\{listener_name="http"\} (\S+)$'
    return sum(float(count) for count in re.findall(pattern, page, flags=re.MULTILINE))


def stored(metric: Metric) -> list[tuple[float, int, float]]:
    return list(metric.indicators.order_by("pk").values_list("value", "decision", "time"))


THREE_RELEASES = (f"{moment(10)},rollout", f"{moment(40)},rollback", f"{moment(70)},0")


def test_a_fill_of_three_releases_stores_each_minute_with_its_decision_as_one_batch(
    prometheus: PrometheusServer, metric: Metric, owner: User
) -> None:
    bound(metric, prometheus.url)
    before = range_queries(prometheus)
    version = Metric.objects.get(pk=metric.pk).data_version

    job = metric.queue_fill(fill_file(*THREE_RELEASES), 10, owner, file_name="releases.csv")

    job.refresh_from_db()
    assert (job.kind, job.status, job.done) == (JobKind.FILL, JobStatus.DONE, 30)
    assert job.outcome() == "Filled 30 indicators into “Requests per minute” from its data source."
    expected = [
        (history_value(start + minute), decision, float(minute))
        for start, decision in ((10, 0), (40, 1), (70, 0))
        for minute in range(1, 11)
    ]
    assert stored(metric) == expected
    batch = ImportBatch.objects.get()
    assert (batch.source, batch.fill_minutes, batch.rows, batch.file_name, batch.uploaded_by) == (
        metric.store_query.source,
        10,
        30,
        "releases.csv",
        owner,
    )
    assert set(Indicator.objects.values_list("batch_id", "created_by_id")) == {(batch.pk, owner.pk)}
    assert bytes(batch.data) == b""  # kept only for the job
    assert range_queries(prometheus) - before == 3  # one range query per release, not one per minute
    metric.refresh_from_db()
    assert (metric.indicator_count, metric.data_version) == (30, version + 1)  # its models are stale


def test_a_compared_fill_stores_the_canarys_ratio_to_its_baseline_from_two_range_queries_a_release(
    prometheus: PrometheusServer, metric: Metric, owner: User
) -> None:
    """The baseline (search) stands at 0.5 throughout; the key column names the canary's service."""
    bound(
        metric,
        prometheus.url,
        query="mb_history_error_ratio{{ selector }}",
        compare="ratio",
        canary_selector='{service="{{ key }}"}',
        baseline_selector='{service="search"}',
    )
    before = range_queries(prometheus)

    metric.queue_fill(
        fill_file(f"{moment(5)},rollback,checkout", f"{moment(95)},rollout,checkout", header="started_at,decision,key"),
        3,
        owner,
        file_name="releases.csv",
    )

    assert stored(metric) == [
        (history_value(start + minute) / 0.5, decision, float(minute))
        for start, decision in ((5, 1), (95, 0))
        for minute in (1, 2, 3)
    ]
    assert range_queries(prometheus) - before == 4


def test_a_query_with_the_window_reads_each_minute_over_that_minute(
    prometheus: PrometheusServer, metric: Metric, owner: User
) -> None:
    """A range query cannot widen its window step by step: in a fill, `{{ window }}` is 1."""
    bound(metric, prometheus.url, query=f"last_over_time({CHECKOUT}[{{{{ window }}}}m])")

    metric.queue_fill(fill_file(f"{moment(20)},rollout"), 5, owner, file_name="releases.csv")

    assert stored(metric) == [(history_value(20 + minute), 0, float(minute)) for minute in range(1, 6)]


def test_a_release_outside_the_stores_data_fails_the_whole_fill_naming_its_line_and_stores_nothing(
    prometheus: PrometheusServer, metric: Metric, owner: User
) -> None:
    bound(metric, prometheus.url)
    long_ago = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    metric.add_indicator(1.0, 0, 1.0, owner)
    version = Metric.objects.get(pk=metric.pk).data_version

    job = metric.queue_fill(
        fill_file(f"{moment(10)},rollout", f"{long_ago},rollback", f"{moment(70)},rollout"),
        10,
        owner,
        file_name="releases.csv",
    )

    job.refresh_from_db()
    assert (job.status, job.failure) == (JobStatus.FAILED, Failure.CSV_ERRORS)
    refusal = job.csv_error()
    assert refusal is not None
    assert refusal.message == "Nothing was stored: 1 release could not be filled."
    assert [(error.line, error.column) for error in refusal.row_errors] == [(3, None)]
    assert refusal.row_errors[0].reason.startswith(
        "“Prometheus 0” has no value in the 10 minutes after its start. No data: no series matches the query."
    )
    assert job.outcome() == refusal.message
    assert stored(metric) == [(1.0, 0, 1.0)]
    assert Metric.objects.get(pk=metric.pk).data_version == version
    assert ImportBatch.objects.get().rows == 0


def test_a_store_that_cannot_be_asked_fails_the_fill_at_the_first_release(
    closed_port: int, metric: Metric, owner: User
) -> None:
    bound(metric, f"http://127.0.0.1:{closed_port}")

    job = metric.queue_fill(fill_file(*THREE_RELEASES), 10, owner, file_name="releases.csv")

    job.refresh_from_db()
    refusal = job.csv_error()
    assert refusal is not None
    assert refusal.message == "Nothing was stored: the data source could not be asked."
    assert [error.line for error in refusal.row_errors] == [2]
    assert "The connection was refused" in refusal.row_errors[0].reason
    assert job.done == 0  # it stopped there: asking again for each release would only fail again
    assert not Indicator.objects.exists()


def test_undo_deletes_every_indicator_of_the_fill_and_the_models_go_stale(
    prometheus: PrometheusServer, metric: Metric, owner: User
) -> None:
    bound(metric, prometheus.url)
    metric.add_indicator(1.0, 0, 1.0, owner)
    metric.queue_fill(fill_file(*THREE_RELEASES), 10, owner, file_name="releases.csv")
    version = Metric.objects.get(pk=metric.pk).data_version

    deleted = ImportBatch.objects.get().undo()

    assert deleted == 30
    assert stored(metric) == [(1.0, 0, 1.0)]
    metric.refresh_from_db()
    assert (metric.indicator_count, metric.data_version) == (1, version + 1)


def test_the_same_file_filled_again_from_the_same_source_is_refused_until_undone(
    prometheus: PrometheusServer, metric: Metric, owner: User
) -> None:
    bound(metric, prometheus.url)
    file = fill_file(*THREE_RELEASES)
    metric.queue_fill(file, 10, owner, file_name="releases.csv")

    with changes_nothing(imports_state), pytest.raises(DuplicateFill) as refused:
        metric.queue_fill(file, 20, owner, file_name="again.csv")

    assert str(refused.value).startswith("The history of “Requests per minute” was already filled from these releases")
    assert str(refused.value).endswith("by owner (30 rows). Undo that fill to fill it again.")
    ImportBatch.objects.get().undo()
    metric.queue_fill(file, 10, owner, file_name="again.csv")
    assert metric.indicators.count() == 30


def test_a_file_an_upload_sent_is_not_a_duplicate_of_a_fill_nor_the_other_way(
    prometheus: PrometheusServer, metric: Metric, owner: User
) -> None:
    bound(metric, prometheus.url)
    file = fill_file(*THREE_RELEASES)
    metric.queue_import(owner, file_name="releases.csv", data=file.data, sha256=file.sha256, delimiter="detect")

    metric.queue_fill(file, 10, owner, file_name="releases.csv")

    assert metric.indicators.count() == 30


def test_each_bad_line_of_a_fill_file_is_named_and_nothing_is_asked_nor_stored(
    prometheus: PrometheusServer, metric: Metric, owner: User
) -> None:
    bound(metric, prometheus.url)
    in_an_hour = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    a_minute_ago = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    before = range_queries(prometheus)

    job = metric.queue_fill(
        fill_file(
            f"{moment(10)},rollout",
            "yesterday,rollout",
            "2026-03-01T14:30:00,rollback",
            f"{in_an_hour},rollout",
            f"{a_minute_ago},rollout",
            f"{moment(40)},maybe",
            f"{moment(10)},rollback",
            f"{moment(70)}",
        ),
        10,
        owner,
        file_name="releases.csv",
    )

    refusal = Job.objects.get(pk=job.pk).csv_error()
    assert refusal is not None
    assert refusal.message == "Nothing was imported: the file has 7 errors."
    assert [str(error) for error in refusal.row_errors] == [
        "Line 3, column “started_at”: expected a date and time in ISO 8601 (2026-03-01T14:30:00Z), got “yesterday”",
        "Line 4, column “started_at”: “2026-03-01T14:30:00” has no time zone: add its offset (+00:00, -03:00) or "
        "Z for UTC",
        f"Line 5, column “started_at”: “{in_an_hour}” is in the future",
        f"Line 6, column “started_at”: the first 10 minutes after “{a_minute_ago}” are not over yet",
        "Line 7, column “decision”: expected rollout, rollback, 0 (rollout) or 1 (rollback), got “maybe”",
        "Line 8: the same release as line 2",
        "Line 9: expected 2 fields, found 1",
    ]
    assert range_queries(prometheus) == before
    assert not Indicator.objects.exists()


def test_a_metric_not_bound_to_a_source_cannot_be_filled(metric: Metric, owner: User) -> None:
    with changes_nothing(imports_state), pytest.raises(NotBound) as refused:
        metric.queue_fill(fill_file(*THREE_RELEASES), 10, owner, file_name="releases.csv")

    assert str(refused.value) == (
        "“Requests per minute” is not bound to a data source: bind it to one first, then fill its history from it."
    )
    assert not Job.objects.exists()


def test_the_progress_is_reported_release_by_release(
    prometheus: PrometheusServer, metric: Metric, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    bound(metric, prometheus.url)
    reported: list[tuple[str, int, int, str, int]] = []
    report = Job.report

    def recorded(job: Job, stage: str, done: int = 0, total: int = 0) -> None:
        report(job, stage, done, total)
        polled = Job.objects.get(pk=job.pk)  # as the page's progress bar reads it
        reported.append((polled.stage, polled.done, polled.total, polled.stage_label, polled.percent_done))

    monkeypatch.setattr(Job, "report", recorded)
    monkeypatch.setattr("metrics.models.job.REPORT_EVERY_SECONDS", 0)

    metric.queue_fill(fill_file(*THREE_RELEASES), 10, owner, file_name="releases.csv")

    assert [(stage, done, total) for stage, done, total, _label, _percent in reported] == [
        ("parsing", 0, 0),
        ("pulling", 0, 3),
        ("pulling", 1, 3),
        ("pulling", 2, 3),
        ("pulling", 3, 3),
        ("importing", 0, 30),
    ]
    pulling = [(label, percent) for stage, _done, _total, label, percent in reported if stage == "pulling"]
    assert pulling[2] == ("Reading from the data source: 2 of 3 releases", 46)


def test_a_value_too_large_to_learn_from_fails_the_fill_naming_its_line(
    prometheus: PrometheusServer, metric: Metric, owner: User
) -> None:
    bound(metric, prometheus.url, query=f"{CHECKOUT} * 1e41")

    job = metric.queue_fill(fill_file(f"{moment(10)},rollout"), 2, owner, file_name="releases.csv")

    refusal = Job.objects.get(pk=job.pk).csv_error()
    assert refusal is not None
    assert [str(error) for error in refusal.row_errors] == [
        f"Line 2: minute 1's value {history_value(11) * 1e41!r} is too large to learn from (at most 3.4e+38)"
    ]
    assert not Indicator.objects.exists()


class SlowRangeQueries(ThreadingHTTPServer):
    """A store answering Prometheus' range queries (one series, 1 every step) after `delay`
    seconds each, counting how many it held at once."""

    def __init__(self, delay: float) -> None:
        super().__init__(("127.0.0.1", 0), SlowRangeQueryHandler)
        self.delay, self.in_flight, self.most_at_once, self.answered = delay, 0, 0, 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class SlowRangeQueryHandler(BaseHTTPRequestHandler):
    server: SlowRangeQueries

    def do_POST(self) -> None:
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        start, end, step = (float(form[name][0]) for name in ("start", "end", "step"))
        with self.server.lock:
            self.server.in_flight += 1
            self.server.most_at_once = max(self.server.most_at_once, self.server.in_flight)
        time.sleep(self.server.delay)
        with self.server.lock:
            self.server.in_flight -= 1
            self.server.answered += 1
        steps = int((end - start) // step) + 1
        values = [[start + index * step, "0.5"] for index in range(steps)]
        body = json.dumps(
            {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": values}]}}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def slow_store() -> Iterator[SlowRangeQueries]:
    server = SlowRangeQueries(delay=0.3)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_fill_asks_a_few_range_queries_at_once_and_stores_them_in_the_files_order(
    slow_store: SlowRangeQueries, metric: Metric, owner: User, settings
) -> None:
    settings.MBREAK_FILL_READERS = 3
    bound(metric, slow_store.url)
    releases = [f"{moment(10 + 30 * index)},{'rollback' if index % 2 else 'rollout'}" for index in range(6)]

    job = metric.queue_fill(fill_file(*releases), 5, owner, file_name="releases.csv")

    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.outcome()
    assert slow_store.answered == 6  # one range query a release
    assert slow_store.most_at_once == 3  # as many at once as MBREAK_FILL_READERS, never more
    decisions = [decision for _value, decision, _time in stored(metric)]
    assert decisions == [0] * 5 + [1] * 5 + [0] * 5 + [1] * 5 + [0] * 5 + [1] * 5  # the file's order


def test_a_fill_asks_its_releases_over_one_connection_for_each_reader_not_one_a_release(
    prometheus: PrometheusServer, metric: Metric, owner: User, settings
) -> None:
    settings.MBREAK_FILL_READERS = 2
    bound(metric, prometheus.url)
    releases = [f"{moment(10 + 10 * index)},{'rollback' if index % 2 else 'rollout'}" for index in range(8)]
    queries_before, connections_before = range_queries(prometheus), connections_accepted(prometheus)

    job = metric.queue_fill(fill_file(*releases), 5, owner, file_name="releases.csv")

    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.outcome()
    assert range_queries(prometheus) - queries_before == 8
    # The counters' own two questions opened one connection each: the fill opened at most 2.
    assert 1 <= connections_accepted(prometheus) - connections_before - 2 <= 2
