"""Create the demo account with realistic metrics, indicators, trained models and logged verdicts.

Safe to run again: existing demo metrics are left as they are. A metric of the same name and
category (any case) owned by another account is left alone, and so is the demo's gate,
which is made whole (with its releases and their observations) or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from metrics.demo import DEMO_METRICS, demo_data
from metrics.exceptions import ModelUnusable, NoTrainedModel
from metrics.models import (
    Decision,
    Gate,
    GateMetric,
    Job,
    JobStatus,
    Metric,
    Outcome,
    OutcomeVia,
    Release,
    Replay,
    TrainedModel,
)
from predictor.columns import IndicatorColumns

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "make-or-break"  # noqa: S105 - printed for newcomers; a local demo only

# Verdicts the demo team asked for after past deployments, and what they then decided
# (None: no feedback yet): (value, minutes, decided) per metric, in DEMO_METRICS' order.
DEMO_VERDICTS: list[list[tuple[float, float, int | None]]] = [
    [(260, 45, Decision.ROLLBACK), (900, 30, Decision.ROLLOUT), (5_000, 30, None)],
    [(9.5, 60, Decision.ROLLBACK), (0.4, 10, Decision.ROLLBACK), (3.1, 8, None)],
    [(1_400, 20, Decision.ROLLBACK), (300, 15, Decision.ROLLOUT), (760, 30, None)],
]


DEMO_GATE = "Checkout deploys"
# (metric, weight, critical, observe only); each judged on every observation of a release, with
# the default failure limit 0: a metric judged rollback once stays rollback for the release.
DEMO_GATE_METRICS = [
    ("Error rate (%)", 2.0, True, False),
    ("Requests per minute", 1.0, False, False),
    ("p95 latency (ms)", 1.0, False, True),
]


@dataclass(frozen=True)
class DemoRelease:
    version: str
    started_minutes_ago: float
    observations: list[tuple[str, float, float]]  # (metric, value, minutes since it started)
    # What the team did in the end ("" while the release goes on), through what, and why.
    outcome: str = ""
    via: str = OutcomeVia.API
    note: str = ""


# The team records an outcome this long after a release started.
OUTCOME_AFTER_MINUTES = 60
# The demo metrics' history was registered this long before today: before the demo's releases,
# which a replay judges with only what was known before each of them.
HISTORY_DAYS_AGO = 30


DEMO_RELEASES = [
    # Release 1, as the README shows it: half an hour in, nothing wrong so far.
    DemoRelease(
        "v42",
        30,
        [
            ("Error rate (%)", 0.8, 10),
            ("Requests per minute", 820, 10),
            ("p95 latency (ms)", 640, 10),
            ("Error rate (%)", 1.1, 25),
            ("Requests per minute", 760, 25),
        ],
    ),
    # Release 2, the day before: errors spiked five minutes in (7.5%, where the team always rolled
    # back), then came down. The spike stays: the error rate is rolled back by its failure limit.
    DemoRelease(
        "v41",
        26 * 60,
        [
            ("Error rate (%)", 7.5, 5),
            ("Requests per minute", 880, 5),
            ("p95 latency (ms)", 610, 5),
            ("Error rate (%)", 0.6, 15),
            ("Requests per minute", 910, 15),
            ("Error rate (%)", 0.5, 30),
            ("Requests per minute", 930, 30),
        ],
        Outcome.ROLLBACK,
        OutcomeVia.PAGE,
        "Errors spiked to 7.5% five minutes in: rolled back before the evening peak.",
    ),
    # The gate's track record: older releases the team rolled out or back. The gate was right
    # about v40 and v39, wrong about v38, and had not made up its mind about v37.
    DemoRelease(
        "v40",
        50 * 60,
        [
            ("Error rate (%)", 0.7, 10),
            ("Requests per minute", 870, 10),
            ("p95 latency (ms)", 330, 10),
            ("Error rate (%)", 0.6, 30),
            ("Requests per minute", 890, 30),
        ],
        Outcome.ROLLOUT,
    ),
    DemoRelease(
        "v39",
        74 * 60,
        [
            ("Error rate (%)", 6.5, 12),
            ("Requests per minute", 300, 12),
            ("p95 latency (ms)", 1_500, 12),
            ("Requests per minute", 280, 20),
        ],
        Outcome.ROLLBACK,
        OutcomeVia.PAGE,
        "Checkout stopped answering for a third of the users.",
    ),
    DemoRelease(
        "v38",
        98 * 60,
        [
            ("Error rate (%)", 4.0, 12),
            ("Requests per minute", 860, 12),
            ("p95 latency (ms)", 350, 12),
        ],
        Outcome.ROLLOUT,
        OutcomeVia.PAGE,
        "Errors rose while the payment partner was down; the release itself was fine.",
    ),
    DemoRelease(
        "v37",
        122 * 60,
        [("Error rate (%)", 0.5, 2)],
        Outcome.ROLLOUT,
    ),
]


class Command(BaseCommand):
    help = "Create the demo account with demo metrics, indicators, trained models and verdicts with feedback."

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(username=DEMO_USERNAME)
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        # demo_data draws every metric's rows whether or not it is made: each demo metric's data is always the same.
        for (demo, data), verdicts in zip(demo_data(), DEMO_VERDICTS, strict=True):
            # The catalogue's rule for a duplicate (same words, any case), not the exact name.
            existing = Metric.objects.same_as(demo.name, demo.category).select_related("owner").first()
            if existing is not None:
                if existing.owner_id != user.pk:
                    self.stderr.write(
                        gettext("Skipped the demo metric “%(name)s”: “%(existing)s” belongs to %(owner)s.")
                        % {"name": demo.name, "existing": existing, "owner": existing.owner.username}
                    )
                continue
            with transaction.atomic():  # a demo metric with all its data and models, or none (run again to make it)
                metric = Metric.objects.create(
                    name=demo.name, category=demo.category, owner=user, bad_direction=demo.bad_direction
                )
                self.load_metric(metric, data, verdicts, user)
        self.load_gate(user)
        self.load_replay(user)
        self.stdout.write(self.style.SUCCESS(f"Demo login: username {DEMO_USERNAME!r}, password {DEMO_PASSWORD!r}"))

    def load_metric(
        self, metric: Metric, data: IndicatorColumns, verdicts: list[tuple[float, float, int | None]], user: Any
    ) -> None:
        """Its indicators, a model of them, verdicts with feedback, and a second version that learnt from it."""
        metric.import_indicators(data, user)
        metric.indicators.update(created_at=timezone.now() - timedelta(days=HISTORY_DAYS_AGO))
        model = TrainedModel.objects.train(metric, user)
        self.stdout.write(f"  {metric.name}: {len(data)} indicators, model accuracy {model.accuracy:.1%}")
        given = [(metric.predict(value, minutes, user), decided) for value, minutes, decided in verdicts]
        for verdict, decided in given:
            if decided is not None:
                verdict.add_feedback(decided, "", user)
        # The feedback is new data: a second version learns from it.
        TrainedModel.objects.train(metric, user)

    def load_gate(self, user: Any) -> None:
        """A gate over the three metrics, with its releases and their observations."""
        if Gate.objects.filter(name=DEMO_GATE, owner=user).exists():
            return
        # The demo's own metrics: another account may own one of the same name in another category.
        metrics = {}
        for demo in DEMO_METRICS:
            metric = Metric.objects.same_as(demo.name, demo.category).filter(owner=user).first()
            if metric is None:
                self.stderr.write(
                    gettext("Skipped the demo gate: the demo metric “%(name)s” could not be made.")
                    % {"name": demo.name}
                )
                return
            metrics[demo.name] = metric
        try:
            with transaction.atomic():  # the gate, its releases and their observations, or nothing
                gate = self.create_gate(user, metrics)
                releases = [self.create_release(gate, demo, user, metrics) for demo in DEMO_RELEASES]
        except (NoTrainedModel, ModelUnusable) as error:
            self.stderr.write(gettext("Skipped the demo gate: %(reason)s") % {"reason": error})
            return
        for release in releases:
            self.stdout.write(f"  Gate {DEMO_GATE!r}, release {release.pk} ({release}): {release.verdict().summary}")
            if release.outcome:
                self.stdout.write(
                    f"    {release.get_outcome_display()}; the gate said {release.gate_said} ({release.gate_was})."
                )

    def load_replay(self, user: Any) -> None:
        """A finished replay of the demo gate over its releases with an outcome, as its owner asks
        for one from the gate's page (run here rather than by a worker); kept once."""
        gate = Gate.objects.filter(name=DEMO_GATE, owner=user).first()
        if gate is None or gate.replays.exists():
            return
        replay = Replay.objects.start(gate, user, send_to_worker=False)
        job = Job.objects.run_here(replay.job)
        replay.refresh_from_db()
        if job is None or job.status != JobStatus.DONE:
            self.stderr.write(gettext("The demo gate's replay failed: %(why)s") % {"why": job.outcome() if job else ""})
            return
        figures = replay.figures
        self.stdout.write(
            f"  Replay of {DEMO_GATE!r}: {figures.releases} releases, {figures.caught} of {figures.bad} rolled back "
            f"caught, {figures.false_rollbacks} of {figures.good} rolled out stopped."
        )

    def create_gate(self, user: Any, metrics: dict[str, Metric]) -> Gate:
        gate = Gate.objects.create(name=DEMO_GATE, owner=user, pass_score=80, marginal_score=50)
        for name, weight, critical, observe_only in DEMO_GATE_METRICS:
            GateMetric.objects.create(
                gate=gate, metric=metrics[name], weight=weight, critical=critical, observe_only=observe_only
            )
        return gate

    def create_release(self, gate: Gate, demo: DemoRelease, user: Any, metrics: dict[str, Metric]) -> Release:
        release = Release.objects.create(
            gate=gate,
            name="checkout-web",
            version=demo.version,
            started_at=timezone.now() - timedelta(minutes=demo.started_minutes_ago),
            created_by=user,
        )
        for name, value, minutes in demo.observations:
            release.observe(metrics[name], value, user, minutes)
            release.answer(user, at=release.started_at + timedelta(minutes=minutes))  # as the pipeline asked
        if demo.outcome:
            decided_at = release.started_at + timedelta(minutes=OUTCOME_AFTER_MINUTES)
            release.record_outcome(demo.outcome, user, via=demo.via, note=demo.note, at=decided_at)
        return release
