"""Train the models that need it, from the shell or a scheduler: `manage.py train --stale --unusable`."""

from __future__ import annotations

import argparse
import math
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext

from metrics.management.commands._arguments import metric_named
from metrics.models import Metric


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
        "scikit-learn, or altered). Prints what it did; skips and failures go to standard error. "
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
        user = None
        if options["user"]:
            try:
                user = get_user_model().objects.get(username=options["user"])
            except get_user_model().DoesNotExist as missing:
                raise CommandError(f"No user named {options['user']!r}.") from missing
        asked = {metric_named(reference).pk for reference in options["metric"]}
        chosen = set(asked)
        if options["stale"] or options["unusable"]:
            needing = Metric.objects.needing_training(stale=options["stale"], unusable=options["unusable"])
            chosen |= set(needing.values_list("pk", flat=True))
        metrics = Metric.objects.filter(pk__in=chosen).with_answering_version().order_by("pk")
        report = metrics.train_each(user, budget_seconds=options["budget"])
        for model in report.trained:
            self.stdout.write(
                f"Trained {model.metric.name!r} ({model.metric.category}): version {model.version}, "
                f"{model.accuracy:.1%} held-out accuracy on {model.n_indicators} indicators."
            )
            if model.candidate_reason:
                self.stdout.write(
                    "  "
                    + gettext("Version %(version)d does not answer verdicts. %(why)s")
                    % {"version": model.version, "why": model.candidate_summary}
                )
        for metric in report.not_enough_data:
            self.stderr.write(f"Skipped {metric.name!r} ({metric.category}): not enough data to train.")
        for metric in report.failed:
            self.stderr.write(f"Failed {metric.name!r} ({metric.category}): its values cannot be learnt from.")
        for metric in report.remaining:
            self.stdout.write(f"Left {metric.name!r} ({metric.category}) for the next run: the time budget is spent.")
        if report.did_nothing:
            self.stdout.write("Nothing to train: every model is up to date and usable.")
            return
        summary = (
            f"{len(report.trained)} trained, {len(report.not_enough_data)} without enough data, "
            f"{len(report.failed)} failed, {len(report.remaining)} left."
        )
        # A sweep's metric without enough data is reported, not an error: a scheduled run
        # would otherwise fail until someone adds data. One asked for by name is.
        untrained = report.failed + [
            metric for metric in report.not_enough_data + report.remaining if metric.pk in asked
        ]
        if untrained:
            self.stdout.write(summary)
            raise CommandError(
                gettext("Not trained: %(metrics)s.")
                % {"metrics": ", ".join(f"{metric.name!r} ({metric.category})" for metric in untrained)}
            )
        self.stdout.write(self.style.SUCCESS(summary))
