"""Train the models that need it, from the shell or a scheduler: `manage.py train --stale --unusable`."""

from __future__ import annotations

import argparse
import math
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext

from metrics.management.commands._arguments import metric_named, user_named
from metrics.models import Job, Metric
from metrics.training_outcomes import TrainingOutcomes, labelled


def seconds(text: str) -> float:
    """A --budget: a finite number of seconds, 0 or more (nan would turn the budget off)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        message = gettext("expected a number of seconds, 0 or more, got “%(text)s”")
        raise argparse.ArgumentTypeError(message % {"text": text})
    return value


class Command(BaseCommand):
    help = (
        "Train a new model version for each metric whose model is stale (no model yet, or data changed "
        "since) and/or unusable (signed with a key the server no longer has, made by another "
        "scikit-learn, or altered): the Train button's training jobs, run in this process (a metric whose training "
        "is already queued or running is left to it). Prints what it did; skips and failures go to standard error. "
        "Exit status 1 when a training failed, or a metric named with --metric was not trained; "
        "a metric of a --stale or --unusable sweep without enough data is reported, not an error."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--metric", action="append", default=[], help="this metric (id or name), whatever its state; repeatable"
        )
        parser.add_argument("--stale", action="store_true", help="metrics with no model, or new data since their model")
        parser.add_argument("--unusable", action="store_true", help="metrics whose newest model cannot be used here")
        parser.add_argument("--user", help="username recorded as the trainer (default: none)")
        parser.add_argument("--budget", type=seconds, help="start no new training after this many seconds (0 or more)")

    def handle(self, *args: Any, **options: Any) -> None:
        if not (options["stale"] or options["unusable"] or options["metric"]):
            raise CommandError("Say which models to train: --metric NAME, --stale, --unusable, or several.")
        user = user_named(options["user"]) if options["user"] else None
        asked = {metric_named(reference).pk for reference in options["metric"]}
        metrics = chosen(asked, stale=options["stale"], unusable=options["unusable"])
        # The web's trainings, each run here as a worker runs it (the charts drawn too); a metric
        # whose training is already queued or running is left to it.
        outcomes = Job.objects.train_each(metrics, user, here=True, budget_seconds=options["budget"])
        for line in outcomes.command_report():
            self.stdout.write(line)
        for line in outcomes.command_problems():
            self.stderr.write(line)
        summary = outcomes.command_summary()
        if untrained := not_trained(outcomes, metrics, asked):
            self.stdout.write(summary)
            raise CommandError(
                gettext("Not trained: %(metrics)s.") % {"metrics": ", ".join(labelled(metric) for metric in untrained)}
            )
        self.stdout.write(summary if outcomes.did_nothing else self.style.SUCCESS(summary))


def chosen(asked: set[int], *, stale: bool, unusable: bool) -> list[Metric]:
    """The metrics named, and those of the sweeps asked for, oldest first."""
    if stale or unusable:
        needing = Metric.objects.needing_training(stale=stale, unusable=unusable)
        asked = asked | set(needing.values_list("pk", flat=True))
    return list(Metric.objects.filter(pk__in=asked).order_by("pk"))


def not_trained(outcomes: TrainingOutcomes, metrics: list[Metric], asked: set[int]) -> list[Metric]:
    """The metrics whose training failed, and those named that were not trained (without enough
    data, left for the next run, being trained already, or deleted meanwhile). A sweep's metric
    without enough data is reported, not an error: a scheduled run would otherwise fail until
    someone adds data."""
    trained = {job.metric_id for job in outcomes.done}
    failed = outcomes.failed
    named = [metric for metric in metrics if metric.pk in asked and metric.pk not in trained and metric not in failed]
    return failed + named
