"""`manage.py demo_prometheus`: the worked example of a gate that reads production itself.

Starts a real Prometheus (Debian's package) whose history holds the demo service's 40 past
releases (about a fifth rolled back) and which scrapes a live exporter; connects it as the
demo account's data source; binds the demo metrics to it by the release's key (Argo
Rollouts' pod-template hash); fills their labelled history from it, one range query per past
release; trains them; then plays two canaries, one healthy and one whose error rate climbs,
while the worker's beat schedule pulls their observations. It prints each release verdict
and its addresses as it changes.

`make demo-prometheus` runs it beside the web server and a worker (Procfile.demo). With
`--exit-when-decided`, it stops once both verdicts are in, exiting 1 when they are not the
expected ones (or not in by `--deadline`): the example says when it does not work.
"""

from __future__ import annotations

import csv
import hashlib
import io
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from metrics.demo import PAST_RELEASE_MINUTES, PROMETHEUS_SERIES, PastRelease, past_releases, service_values
from metrics.management.commands.load_demo import DEMO_USERNAME
from metrics.models import (
    DataSource,
    Decision,
    Gate,
    ImportBatch,
    Job,
    Metric,
    MetricQuery,
    Release,
    VerdictState,
)
from metrics.models.indicator import Upload
from stores import local_prometheus
from stores.local_prometheus import Exporter, Point

DEMO_SOURCE = "Demo Prometheus"
DEMO_PULLED_GATE = "Checkout canaries (pulled from Prometheus)"
# The demo pulls every 10 seconds, so that a canary's verdict changes while one watches.
DEMO_PULL_SECONDS = 10
SCRAPE_SECONDS = 2
# (metric, weight, critical): the error rate decides alone when it is bad.
GATE_METRICS = [("Error rate (%)", 2.0, True), ("Requests per minute", 1.0, False), ("p95 latency (ms)", 1.0, False)]


@dataclass
class Canary:
    release: Release
    climbing: bool
    expected: str  # the verdict the example expects of it
    shown: tuple[str, str] | None = None  # the (state, decided_by) printed last


class Command(BaseCommand):
    help = "Run the worked example: a real Prometheus, its history filled and learnt, and two canaries pulled."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--web", default="http://127.0.0.1:8000/", help="The web server's address, for links.")
        parser.add_argument("--exit-when-decided", action="store_true", help="Stop once both canaries are decided.")
        parser.add_argument("--deadline", type=float, default=600, help="Seconds to wait for both verdicts.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=DEMO_USERNAME).first()
        if user is None:
            raise CommandError("No demo account: run `manage.py load_demo` first.")
        try:
            local_prometheus.binary()
            local_prometheus.binary("promtool")
        except local_prometheus.NotInstalled as error:
            raise CommandError(str(error)) from None
        history = past_releases()
        with ExitStack() as stack:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mbreak-demo-prometheus-")))
            self.say(f"Backfilling {len(history)} past releases into a new Prometheus ({folder})…")
            local_prometheus.backfill(folder / "data", history_text(history))
            exporter = stack.enter_context(Exporter().serving())
            config = local_prometheus.scrape_config(exporter, SCRAPE_SECONDS)
            url = stack.enter_context(
                local_prometheus.running_prometheus(folder, config, "--storage.tsdb.retention.time=30d")
            )
            self.say(f"Prometheus answers at {url}, scraping the live exporter at 127.0.0.1:{exporter.port}.")
            source = self.connect(user, url)
            metrics = self.bind_and_fill(user, source, history)
            gate = self.pulled_gate(user, metrics)
            canaries = self.start_canaries(user, gate)
            decided = self.play(exporter, canaries, options["web"], options["deadline"], options["exit_when_decided"])
        if options["exit_when_decided"] and not decided:
            sys.exit(1)

    def say(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()

    def connect(self, user: Any, url: str) -> DataSource:
        source, _created = DataSource.objects.update_or_create(
            owner=user, name=DEMO_SOURCE, defaults={"kind": "prometheus", "url": url, "timeout_seconds": 5}
        )
        return source

    def bind_and_fill(self, user: Any, source: DataSource, history: list[PastRelease]) -> dict[str, Metric]:
        """Each demo metric bound to its series by the release's key, its earlier fills from a
        previous run undone, its history filled from the store and its model trained."""
        file = releases_csv(history)
        metrics = {}
        for name, series in PROMETHEUS_SERIES.items():
            metric = Metric.objects.filter(owner=user, name=name).first()
            if metric is None:
                raise CommandError(f"The demo metric “{name}” is missing: run `manage.py load_demo` first.")
            MetricQuery.objects.update_or_create(
                metric=metric,
                defaults={"source": source, "query": f'{series}{{pod_template_hash="{{{{ key }}}}"}}'},
            )
            for earlier in ImportBatch.objects.filter(metric=metric, source__isnull=False, undone_at__isnull=True):
                earlier.undo()
            self.say(f"Filling “{name}” from Prometheus: {len(history)} releases × {PAST_RELEASE_MINUTES} minutes…")
            upload = Upload(file, hashlib.sha256(file).hexdigest())
            job = metric.queue_fill(
                upload, PAST_RELEASE_MINUTES, user, file_name="demo-past-releases.csv", send_to_worker=False
            )
            filled = Job.objects.run_here(job)
            if filled is None or filled.status != "done":
                raise CommandError(
                    f"Filling “{name}” failed: {filled.outcome() if filled else 'the metric was deleted'}"
                )
            self.say(f"  {filled.outcome()}")
            training, _new = Job.objects.enqueue_training(metric, user, send_to_worker=False)
            trained = Job.objects.run_here(training)
            if trained is None or trained.status != "done":
                raise CommandError(f"Training “{name}” failed: {trained.outcome() if trained else 'deleted'}")
            self.say(f"  {trained.outcome()}")
            metrics[name] = metric
        return metrics

    def pulled_gate(self, user: Any, metrics: dict[str, Metric]) -> Gate:
        with transaction.atomic():
            gate, _created = Gate.objects.update_or_create(
                owner=user,
                name=DEMO_PULLED_GATE,
                defaults={
                    "pull_interval_seconds": DEMO_PULL_SECONDS,
                    "pull_for_minutes": 30,
                    "missing_after_minutes": 2,
                },
            )
            gate.set_metrics(
                [
                    {"metric": metrics[name], "weight": weight, "critical": critical}
                    for name, weight, critical in GATE_METRICS
                ]
            )
        return gate

    def start_canaries(self, user: Any, gate: Gate) -> list[Canary]:
        stamp = timezone.now().strftime("%H%M%S")
        return [
            Canary(
                gate.start_release(user, name="healthy canary", version=f"v{stamp}a", key=f"healthy-{stamp}"),
                climbing=False,
                expected=VerdictState.ROLLOUT,
            ),
            Canary(
                gate.start_release(
                    user, name="canary whose errors climb", version=f"v{stamp}b", key=f"climbing-{stamp}"
                ),
                climbing=True,
                expected=VerdictState.ROLLBACK,
            ),
        ]

    def play(
        self, exporter: Exporter, canaries: list[Canary], web: str, deadline: float, exit_when_decided: bool
    ) -> bool:
        """Feed the canaries' live values to the exporter and print each verdict as it changes,
        until both are decided (or for ever, without `exit_when_decided`)."""
        stop = {"now": False}
        signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
        self.say(
            "Playing two canaries; the worker's beat schedule pulls them every "
            f"{DEMO_PULL_SECONDS} s. Ctrl+C stops the example."
        )
        for canary in canaries:
            self.say(
                f"  {canary.release.name}: {urljoin(web, canary.release.get_absolute_url())}\n"
                f"    Argo's verdict URL: "
                + urljoin(web, reverse("api:key_verdict", args=[canary.release.gate_id, canary.release.key]))
            )
        started = time.monotonic()
        decided = False
        try:
            while not stop["now"]:
                elapsed_minutes = (time.monotonic() - started) / 60
                for canary in canaries:
                    self.feed(exporter, canary, elapsed_minutes)
                    self.show(canary)
                decided = all(canary.shown and canary.shown[0] == canary.expected for canary in canaries)
                if exit_when_decided and (decided or time.monotonic() - started > deadline):
                    break
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        if exit_when_decided and not decided:
            self.stderr.write(
                "The canaries were not decided as expected (healthy: rollout, climbing: rollback) within "
                f"{deadline:g} s: "
                + "; ".join(f"{c.release.name}: {' by '.join(c.shown or ('no verdict',))}" for c in canaries)
            )
        return decided

    def feed(self, exporter: Exporter, canary: Canary, elapsed_minutes: float) -> None:
        """The canary's values now: the climbing one's harm grows as a bad past release's did,
        in seconds rather than minutes, so that the example decides while one watches."""
        import numpy as np

        generator = np.random.default_rng()
        minute = np.array([1 + elapsed_minutes * 15])
        for name, series in PROMETHEUS_SERIES.items():
            value = service_values(name, minute, bad=canary.climbing, generator=generator)[0]
            exporter.set(f'{series}{{pod_template_hash="{canary.release.key}"}}', float(value))

    def show(self, canary: Canary) -> None:
        verdict = Release.objects.get(pk=canary.release.pk).verdict()
        seen = (verdict.state, verdict.decided_by)
        if seen != canary.shown:
            canary.shown = seen
            at = datetime.now(UTC).strftime("%H:%M:%S")
            self.say(f"{at}  {canary.release.name}: {verdict.state} — {verdict.summary}")


def history_text(history: list[PastRelease]) -> str:
    """The past releases' series in the OpenMetrics text promtool backfills from."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    points = []
    for release in history:
        start = now - timedelta(hours=release.started_hours_ago)
        for name, series in PROMETHEUS_SERIES.items():
            for minute, value in enumerate(release.values[name], start=1):
                at = start + timedelta(minutes=minute)
                points.append(Point(f'{series}{{pod_template_hash="{release.key}"}}', value, at))
    return local_prometheus.openmetrics(points, PROMETHEUS_SERIES.values())


def releases_csv(history: list[PastRelease]) -> bytes:
    """The past releases as a fill reads them: started_at, decision, key."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["started_at", "decision", "key"])
    for release in history:
        started = now - timedelta(hours=release.started_hours_ago)
        decision = Decision.ROLLBACK if release.rolled_back else Decision.ROLLOUT
        writer.writerow([started.isoformat().replace("+00:00", "Z"), Decision(decision).word, release.key])
    return buffer.getvalue().encode()
