"""`manage.py verdict METRIC VALUE MINUTES [--json]` or `manage.py verdict --release ID [--json]`:
the verdict a pipeline step would ask for, as its exit status (0 only for a rollout).

It lives in the API's app because `--json` prints the verdict as the API gives it, through the
API's own serializers: the domain app imports nothing of the API."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import BaseValidator
from django.utils.translation import gettext

from api.serializers import ReleaseVerdictSerializer, VerdictSerializer
from metrics.exceptions import ModelUnusable, NoTrainedModel
from metrics.management.commands._arguments import metric_named, user_named
from metrics.models import Release, ReleaseVerdict, Source, VerdictState
from metrics.models.gate import MetricJudgement
from metrics.models.indicator import MINUTES_VALIDATORS, VALUE_VALIDATORS
from metrics.models.metric import LARGEST_ID

# A pipeline gates on the status: anything but 0 stops the deployment. 1 is Python's (and
# CommandError's) status for a failure, 2 argparse's for arguments that do not parse.
EXIT_CODES = {VerdictState.ROLLOUT: 0, VerdictState.ROLLBACK: 3, VerdictState.INCONCLUSIVE: 4}
ARGUMENTS = "Give METRIC VALUE MINUTES for a metric's verdict, or --release ID for a release's, not both."


def observed(value_text: str, minutes_text: str) -> tuple[float, float]:
    """VALUE and MINUTES as numbers, within the limits the pages and the API check (the model's)."""
    value, minutes = float(value_text), float(minutes_text)
    if not is_valid(value, VALUE_VALIDATORS):
        largest = max(validator.limit_value for validator in VALUE_VALIDATORS)
        raise CommandError(f"VALUE must be a finite number no larger than {largest:.1e}.")
    if not is_valid(minutes, MINUTES_VALIDATORS):
        raise CommandError("MINUTES must be a number of minutes, 0 or more.")
    return value, minutes


def is_valid(number: float, validators: list[BaseValidator]) -> bool:
    """Whether `number` is finite and within the limits the pages and the API check (the model's)."""
    try:
        for validator in validators:
            validator(number)
    except ValidationError:
        return False
    return math.isfinite(number)


def number_as_entered(text: str) -> str:
    """A number, kept as it was typed so that it is printed back the same (1234567, not 1.23457e+06)."""
    try:
        float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(gettext("expected a number, got “%(text)s”") % {"text": text}) from None
    return text.strip()


class Command(BaseCommand):
    help = (
        "Ask a metric's model for a verdict on a value observed MINUTES after a deployment, and log it; "
        "or, with --release ID, the verdict of a release judged by its gate (kept as the release page's "
        "verdict over time, as the API's). Prints the verdict, its reasons, and where it is logged. "
        "A pipeline step gates on the exit status, 0 only for a rollout: "
        "0 rollout, 3 rollback, 4 inconclusive (a release also while it waits for an observation); "
        "a release whose gate is in dry run exits 0 as the pipeline is answered, and prints what it would have done; "
        "1 when no verdict could be given (no such metric, release or user, no usable model, a value out of "
        "bounds); 2 when the arguments do not parse."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("metric", nargs="?", help="the metric's id, or its name (name/category if two share it)")
        parser.add_argument("value", nargs="?", type=number_as_entered, help="the value observed")
        parser.add_argument("minutes", nargs="?", type=number_as_entered, help="minutes since the deployment")
        parser.add_argument(
            "--release", type=int, metavar="ID", help="the release's id: its verdict instead of a metric's"
        )
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
        positional = [options[name] for name in ("metric", "value", "minutes")]
        if options["release"] is not None:
            if any(argument is not None for argument in positional):
                raise CommandError(ARGUMENTS, returncode=2)
            self.release_verdict(options["release"], options)
        if any(argument is None for argument in positional):
            raise CommandError(ARGUMENTS, returncode=2)
        self.metric_verdict(options)

    def metric_verdict(self, options: dict[str, Any]) -> None:
        value, minutes = observed(options["value"], options["minutes"])
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
                "  " + gettext("Bad direction: %(direction)s.") % {"direction": verdict.bad_direction_display}
            )
            self.stdout.write(
                gettext("Logged as verdict %(id)d: %(path)s") % {"id": verdict.pk, "path": verdict.get_absolute_url()}
            )
        raise SystemExit(EXIT_CODES[VerdictState(verdict.state)])

    def release_verdict(self, release_id: int, options: dict[str, Any]) -> None:
        if not 0 < release_id <= LARGEST_ID:
            raise CommandError(f"No release {release_id}.")
        release = Release.objects.select_related("gate").filter(pk=release_id).first()
        if release is None:
            raise CommandError(f"No release {release_id}.")
        user = user_named(options["user"]) if options["user"] else None
        verdict = release.answer(user)
        if options["json"]:
            self.stdout.write(json.dumps(ReleaseVerdictSerializer(verdict).data, ensure_ascii=False))
        else:
            self.print_release_verdict(release, verdict)
        # In dry run, the status the pipeline would get from the API: 0 (the real verdict is printed).
        raise SystemExit(EXIT_CODES[VerdictState(verdict.answered_state)])

    def print_release_verdict(self, release: Release, verdict: ReleaseVerdict) -> None:
        self.stdout.write(f"{release.gate.name}, {release}: {verdict.answered_summary}")
        decided = gettext("Decided by: %(what)s (%(code)s).") % {
            "what": verdict.decided_by_display,
            "code": verdict.decided_by,
        }
        if verdict.dry_run:
            decided += " " + gettext("Dry run: the pipeline is answered rollout.")
        self.stdout.write(f"  {decided}")
        for judgement in verdict.metrics:
            self.stdout.write(f"  {judgement.metric.name}: {metric_line(judgement)}")
            for observation in judgement.caused_by:
                self.stdout.write(
                    "    "
                    + gettext("%(value)s after %(minutes)s minutes: %(state)s (verdict %(id)d)")
                    % {
                        "value": f"{observation.verdict.value:g}",
                        "minutes": f"{observation.verdict.minutes:g}",
                        "state": observation.verdict.get_state_display(),
                        "id": observation.verdict.pk,
                    }
                )
        self.stdout.write(gettext("Release page: %(path)s") % {"path": release.get_absolute_url()})


def metric_line(judgement: MetricJudgement) -> str:
    """A gate metric's verdict over the release, why, and whether it counts."""
    if judgement.state is None:
        state = gettext("not observed yet")
    else:
        state = f"{VerdictState(judgement.state).label} ({judgement.cause_display})"
    counted = f" ({gettext('observe only')})" if judgement.observe_only else ""
    return state + counted
