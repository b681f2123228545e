"""`manage.py verdict METRIC VALUE MINUTES [--json]`: the verdict a pipeline step would ask for."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext

from api.serializers import VerdictSerializer
from metrics.csv_io import LARGEST_NUMBER
from metrics.management.commands._arguments import metric_named, user_named
from metrics.models import ModelUnusable, NoTrainedModel, Source, VerdictState

EXIT_CODES = {VerdictState.ROLLOUT: 0, VerdictState.ROLLBACK: 3, VerdictState.INCONCLUSIVE: 4}


def number_as_entered(text: str) -> str:
    """A number, kept as it was typed so that it is printed back the same (1234567, not 1.23457e+06)."""
    try:
        float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(gettext("expected a number, got “%(text)s”") % {"text": text}) from None
    return text.strip()


class Command(BaseCommand):
    help = (
        "Ask a metric's model for a verdict on a value observed MINUTES after a deployment, and log it. "
        "Prints the verdict, its reasons, and the logged verdict's id and web page. "
        "Exit status: 0 rollout, 3 rollback, 4 inconclusive; 1 when no verdict could be given "
        "(no such metric or user, no usable model, a value out of bounds); 2 when the arguments do not parse."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("metric", help="the metric's id, or its name (name/category if two share it)")
        parser.add_argument("value", type=number_as_entered, help="the value observed")
        parser.add_argument("minutes", type=number_as_entered, help="minutes since the deployment")
        parser.add_argument("--user", help="the username the verdict is logged for (default: none)")
        parser.add_argument(
            "--json",
            action="store_true",
            help=(
                "print the verdict as the API gives it (the same fields); url and web_url are paths on this "
                "server (/api/v1/verdicts/ID/, /verdicts/ID/), as the command does not know its address"
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        value, minutes = float(options["value"]), float(options["minutes"])
        if not (math.isfinite(value) and abs(value) <= LARGEST_NUMBER):
            raise CommandError(f"VALUE must be a finite number no larger than {LARGEST_NUMBER:.1e}.")
        if not (math.isfinite(minutes) and 0 <= minutes <= LARGEST_NUMBER):
            raise CommandError("MINUTES must be a number of minutes, 0 or more.")
        metric = metric_named(options["metric"])
        user = user_named(options["user"]) if options["user"] else None
        try:
            verdict = metric.predict(value, minutes, user, source=Source.COMMAND)
        except (NoTrainedModel, ModelUnusable) as error:
            raise CommandError(str(error)) from None
        if options["json"]:
            self.stdout.write(json.dumps(VerdictSerializer(verdict).data, ensure_ascii=False))
        else:
            self.stdout.write(
                f"{verdict.get_state_display()}: {metric.name} = {options['value']} after {options['minutes']} "
                f"minutes (model version {verdict.model_version}; {verdict.leaf_rollbacks} rolled back and "
                f"{verdict.leaf_rollouts} rolled out among similar past cases)."
            )
            for text in verdict.reason_texts():
                self.stdout.write(f"  {text}")
            self.stdout.write(
                gettext("Logged as verdict %(id)d: %(path)s") % {"id": verdict.pk, "path": verdict.get_absolute_url()}
            )
        raise SystemExit(EXIT_CODES[VerdictState(verdict.state)])
