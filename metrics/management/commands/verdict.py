"""`manage.py verdict METRIC VALUE MINUTES [--json]`: the verdict a pipeline step would ask for."""

from __future__ import annotations

import json
import math
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.csv_io import LARGEST_NUMBER
from metrics.management.commands._arguments import metric_named, user_named
from metrics.models import ModelUnusable, NoTrainedModel, Source, VerdictState

EXIT_CODES = {VerdictState.ROLLOUT: 0, VerdictState.ROLLBACK: 3, VerdictState.INCONCLUSIVE: 4}


class Command(BaseCommand):
    help = (
        "Ask a metric's model for a verdict on a value observed MINUTES after a deployment, and log it. "
        "Exit status: 0 rollout, 3 rollback, 4 inconclusive; 1 when no verdict could be given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("metric", help="the metric's id, or its name (name/category if two share it)")
        parser.add_argument("value", type=float, help="the value observed")
        parser.add_argument("minutes", type=float, help="minutes since the deployment")
        parser.add_argument("--user", help="the username the verdict is logged for (default: none)")
        parser.add_argument("--json", action="store_true", help="print the verdict as the API's JSON fields")

    def handle(self, *args: Any, **options: Any) -> None:
        value, minutes = options["value"], options["minutes"]
        if not (math.isfinite(value) and abs(value) <= LARGEST_NUMBER):
            raise CommandError(f"VALUE must be a finite number no larger than {LARGEST_NUMBER:.1e}.")
        if not (math.isfinite(minutes) and 0 <= minutes <= LARGEST_NUMBER):
            raise CommandError("MINUTES must be a number of minutes, 0 or more.")
        metric = metric_named(options["metric"])
        user = user_named(options["user"]) if options["user"] else None
        try:
            verdict = metric.predict(value, minutes, user, source=Source.API)
        except (NoTrainedModel, ModelUnusable) as error:
            raise CommandError(str(error)) from None
        if options["json"]:
            body = {
                "id": verdict.pk,
                "verdict": verdict.state,
                "leaning": verdict.leaning,
                "metric": metric.pk,
                "value": verdict.value,
                "minutes": verdict.minutes,
                "reasons": [
                    {"code": reason["code"], "message": text}
                    for reason, text in zip(verdict.reasons, verdict.reason_texts(), strict=True)
                ],
                "similar_cases": {"rollbacks": verdict.leaf_rollbacks, "rollouts": verdict.leaf_rollouts},
                "model_version": verdict.model_version,
                "is_stale": verdict.is_stale,
            }
            self.stdout.write(json.dumps(body, ensure_ascii=False))
        else:
            self.stdout.write(
                f"{verdict.get_state_display()}: {metric.name} = {value:g} after {minutes:g} minutes "
                f"(model version {verdict.model_version}; {verdict.leaf_rollbacks} rolled back and "
                f"{verdict.leaf_rollouts} rolled out among similar past cases)."
            )
            for text in verdict.reason_texts():
                self.stdout.write(f"  {text}")
        raise SystemExit(EXIT_CODES[VerdictState(verdict.state)])
