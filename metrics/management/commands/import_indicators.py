"""`manage.py import_indicators METRIC FILE`: the upload's rules and messages, from the shell."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics import csv_io
from metrics.exceptions import DuplicateFile, MetricDeleted
from metrics.management.commands._arguments import metric_named, user_named
from metrics.models import Failure, Job, JobStatus


def delimiter_name(text: str) -> str:
    """A --delimiter as the upload form names it: "semicolon" for ";" ("\\t" typed for a tab)."""
    by_character = {character: name for name, character in csv_io.DELIMITERS.items()}
    by_character["\\t"] = "tab"
    return by_character.get(text, text)


class Command(BaseCommand):
    help = (
        "Import a CSV file of indicators into METRIC, all or nothing, by the same rules as the upload page "
        "(header valor,decisao,tempo or value,decision,time; errors name their line and column). The file is "
        "listed on the metric page as an import batch, undoable there."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("metric", help="the metric's id, or its name (name/category if two share it)")
        parser.add_argument("file", type=Path, help="the CSV file")
        parser.add_argument(
            "--delimiter",
            default=csv_io.DETECT,
            type=delimiter_name,
            choices=[csv_io.DETECT, *csv_io.DELIMITERS],
            help=(
                "what separates the columns: detect (from the header; the default), comma, semicolon, tab or "
                "pipe, or the character itself (',' ';' '|', or '\\t' for a tab)"
            ),
        )
        parser.add_argument("--user", required=True, help="the username the rows are registered by")
        parser.add_argument("--again", action="store_true", help="import a file already imported into this metric")

    def handle(self, *args: Any, **options: Any) -> None:
        metric = metric_named(options["metric"])
        user = user_named(options["user"])
        path: Path = options["file"]
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}.") from None
        # The upload's own path (its lock, its batch, its job), with the job run here rather
        # than by a worker: a file uploaded meanwhile waits for this one, or is refused as a duplicate.
        try:
            queued = metric.queue_import(
                user,
                file_name=path.name,
                data=data,
                sha256=hashlib.sha256(data).hexdigest(),
                delimiter=options["delimiter"],
                import_again=options["again"],
                send_to_worker=False,
            )
        except DuplicateFile as duplicate:
            raise CommandError(f"{duplicate} Pass --again to import it a second time.") from None
        except MetricDeleted as error:
            raise CommandError(str(error)) from None
        job = Job.objects.run_here(queued)
        if job is None:  # deleted with its metric
            raise CommandError(str(MetricDeleted(metric)))
        if job.status != JobStatus.DONE:
            if job.failure == Failure.CSV_ERRORS and job.batch is not None:
                # Nothing of a refused file is kept (its job goes with it): who ran the command
                # reads why below, and there is nothing to undo.
                job.batch.delete()
            raise CommandError(failure_text(job))
        self.stdout.write(self.style.SUCCESS(f"Imported {job.done} indicators into {metric.name!r}."))


def failure_text(job: Job) -> str:
    """Why an import failed; for a refused file, its errors line by line."""
    error = job.csv_error()
    if error is None:
        return job.outcome()
    lines = [error.message, *(f"  {row}" for row in error.row_errors)]
    if error.total_errors > len(error.row_errors):
        lines.append(f"  … and {error.total_errors - len(error.row_errors)} more.")
    return "\n".join(lines)
