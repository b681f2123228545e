"""`manage.py replay GATE [--since DATE] [--until DATE] [--json]`: how a gate would have judged
the team's past releases, replayed here and reported, as the API's replay is."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext

from metrics.exceptions import NothingToReplay
from metrics.formatting import grouped, percent
from metrics.management.commands._arguments import gate_named
from metrics.models import Job, JobStatus, Outcome, Replay, ReplayedRelease
from metrics.models.replay import ReplayFigures, utc_text
from predictor.replay import Rate


def moment(text: str) -> datetime:
    """A --since or --until: a date (its midnight) or a date and time, in the server's time zone
    unless it says its own ("2026-09-01", "2026-09-01T12:00", "2026-09-01T12:00Z")."""
    try:
        parsed = parse_datetime(text)
        if parsed is None and (day := parse_date(text)) is not None:
            parsed = datetime(day.year, day.month, day.day, tzinfo=timezone.get_current_timezone())
    except ValueError:
        parsed = None
    if parsed is None:
        message = gettext("expected a date (2026-09-01) or a date and time (2026-09-01T12:00), got “%(text)s”")
        raise argparse.ArgumentTypeError(message % {"text": text})
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


class Command(BaseCommand):
    help = (
        "Replay a gate (GATE: its id or exact name) over its past releases with an outcome, started in "
        "[--since, --until) (all by default; the newest 1,000): for each minute of each release, the verdict the "
        "gate would have given under its rules now, with models trained only on what was known before that "
        "release. Run in this process, as the gate's owner (as the API's replay, which only the owner may ask "
        "for); stored as a replay that the pages and the API show. Prints the report (each rate with its 95% "
        "Wilson interval, its warnings, the confusion matrix, a line per release), or with --json the report and "
        "the releases as the API gives them. Exit status 0 when the replay finished; 1 for an unknown or "
        "ambiguous gate, no release with an outcome to replay, or a replay that failed; 2 when the arguments do "
        "not parse (a bad date, a range that ends before it starts)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("gate", metavar="GATE", help="the gate's id, or its exact name")
        parser.add_argument("--since", type=moment, metavar="DATE", help="releases started from then")
        parser.add_argument("--until", type=moment, metavar="DATE", help="releases started before then")
        parser.add_argument("--json", action="store_true", help="print the report and releases as the API's JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        gate = gate_named(options["gate"])
        try:
            replay = Replay.objects.start(
                gate, gate.owner, since=options["since"], until=options["until"], send_to_worker=False
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages), returncode=2) from None
        except NothingToReplay as error:
            raise CommandError(str(error)) from None
        job = Job.objects.run_here(replay.job)
        if job is None:  # deleted with its gate meanwhile
            raise CommandError(gettext("The gate was deleted while it was being replayed."))
        if job.status != JobStatus.DONE:
            raise CommandError(job.outcome())
        replay.refresh_from_db()
        rows = list(replay.replayed.order_by("started_at", "pk"))
        if options["json"]:
            self.print_json(replay, rows)
        else:
            self.print_report(replay, rows)

    def print_json(self, replay: Replay, rows: list[ReplayedRelease]) -> None:
        """The report and releases as the API words them (`as_data`), with what was replayed."""
        data = {
            "replay": replay.pk,
            "gate": replay.gate_id,
            "gate_name": replay.gate.name,
            "since": None if replay.since is None else utc_text(replay.since),
            "until": None if replay.until is None else utc_text(replay.until),
            "report": replay.figures.as_data(),
            "releases": [row.as_data() for row in rows],
        }
        self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))

    def print_report(self, replay: Replay, rows: list[ReplayedRelease]) -> None:
        figures = replay.figures
        write = self.stdout.write
        write(
            self.style.SUCCESS(
                gettext("Replay %(number)s of “%(gate)s”: %(releases)s replayed, %(judged)s judged.")
                % {
                    "number": replay.pk,
                    "gate": replay.gate.name,
                    "releases": grouped(figures.releases),
                    "judged": grouped(figures.judged),
                }
            )
        )
        write(range_words(replay))
        write("")
        catch, false, inconclusive = figures.catch_rate, figures.false_rollback_rate, figures.inconclusive_rate
        if catch.trials:
            write(
                gettext("Caught: %(hits)s of %(trials)s releases rolled back %(interval)s.")
                % {"hits": grouped(catch.hits), "trials": grouped(catch.trials), "interval": interval_words(catch)}
            )
        else:
            write(gettext("Caught: none to measure, no release rolled back was judged."))
        if figures.caught:
            write(
                "  "
                + gettext("Median minute %(median)s (each: %(minutes)s); %(before)s stopped before the team decided.")
                % {
                    "median": f"{figures.median_catch_minute:g}",
                    "minutes": ", ".join(str(minute) for minute in figures.caught_minutes),
                    "before": grouped(figures.caught_before_decision),
                }
            )
        if false.trials:
            write(
                gettext("False rollbacks: %(hits)s of %(trials)s releases rolled out %(interval)s.")
                % {"hits": grouped(false.hits), "trials": grouped(false.trials), "interval": interval_words(false)}
            )
        else:
            write(gettext("False rollbacks: none to measure, no release rolled out was judged."))
        if inconclusive.trials:
            write(
                gettext("Inconclusive (a person paged): %(hits)s of %(trials)s releases judged %(interval)s.")
                % {
                    "hits": grouped(inconclusive.hits),
                    "trials": grouped(inconclusive.trials),
                    "interval": interval_words(inconclusive),
                }
            )
        else:
            write(gettext("Inconclusive (a person paged): none to measure, no release was judged."))
        warnings = [
            *([figures.thin_words()] if figures.is_thin else []),
            *([figures.chance_words()] if figures.is_no_better_than_chance else []),
        ]
        for warning in warnings:
            write(self.style.WARNING(gettext("Warning: %(words)s") % {"words": warning}))
        write("")
        for line in confusion_lines(figures):
            write(line)
        write("")
        write(gettext("Releases, oldest first:"))
        for row in rows:
            write("  " + release_line(row))


def range_words(replay: Replay) -> str:
    def when(moment: datetime) -> str:
        return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")

    if replay.since is not None and replay.until is not None:
        return gettext("Releases with an outcome started from %(since)s to before %(until)s.") % {
            "since": when(replay.since),
            "until": when(replay.until),
        }
    if replay.since is not None:
        return gettext("Releases with an outcome started from %(since)s.") % {"since": when(replay.since)}
    if replay.until is not None:
        return gettext("Releases with an outcome started before %(until)s.") % {"until": when(replay.until)}
    return gettext("Every release with an outcome.")


def interval_words(rate: Rate) -> str:
    """The share measured and its 95% Wilson interval, in parentheses."""
    low, high = rate.interval or (0.0, 1.0)
    return gettext("(%(share)s, 95%% interval %(low)s to %(high)s)") % {
        "share": percent(rate.share),
        "low": percent(low),
        "high": percent(high),
    }


def confusion_lines(figures: ReplayFigures) -> list[str]:
    """The confusion matrix as a table: what the team did (rows) against what the replay would have said."""
    columns = ["rollback", "inconclusive", "rollout", "not_judged"]
    headings = [gettext("rollback"), gettext("inconclusive"), gettext("rollout"), gettext("not judged")]
    outcomes = {Outcome.ROLLBACK: gettext("rolled back"), Outcome.ROLLOUT: gettext("rolled out")}
    first = max(len(label) for label in outcomes.values())
    widths = [max(len(heading), 5) for heading in headings]
    lines = [gettext("What the team did, against what the replay would have said:")]
    lines.append("  " + " " * first + "  " + "  ".join(h.rjust(w) for h, w in zip(headings, widths, strict=True)))
    for outcome, label in outcomes.items():
        counts = figures.confusion.get(outcome, {})
        cells = [grouped(counts.get(column, 0)).rjust(width) for column, width in zip(columns, widths, strict=True)]
        lines.append("  " + label.ljust(first) + "  " + "  ".join(cells))
    return lines


def release_line(row: ReplayedRelease) -> str:
    """One release: when, what the team did, what the replay would have said and when."""
    started = timezone.localtime(row.started_at).strftime("%Y-%m-%d %H:%M")
    name = f"{row.name} {row.version}".strip()
    did = gettext("rolled back") if row.outcome == Outcome.ROLLBACK else gettext("rolled out")
    if not row.is_judged:
        said = gettext("not judged: %(why)s") % {"why": row.not_judged_words()}
    elif row.stopped_minute is not None:
        said = gettext("stopped at minute %(minute)s") % {"minute": row.stopped_minute}
    else:
        said = {"rollout": gettext("rollout"), "inconclusive": gettext("inconclusive")}.get(row.verdict, row.verdict)
    if row.decided_minute is not None:
        did += " (" + gettext("decided at minute %(minute)s") % {"minute": f"{row.decided_minute:g}"} + ")"
    return f"{started}  {name}: {did} → {said}"
