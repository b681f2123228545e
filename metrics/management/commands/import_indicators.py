"""`manage.py import_indicators METRIC FILE`: the upload's rules and messages, from the shell."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics import csv_io
from metrics.exceptions import MetricDeleted
from metrics.management.commands._arguments import metric_named, user_named
from metrics.models import ImportBatch


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
        sha256 = hashlib.sha256(data).hexdigest()
        earlier = metric.batches.imported_file(sha256)
        if earlier is not None and not options["again"]:
            raise CommandError(
                f"This file was already imported into {metric.name!r} on {earlier.created_at:%Y-%m-%d %H:%M} "
                f"({earlier.rows} rows). Pass --again to import it a second time."
            )
        try:
            parsed = csv_io.parse_indicator_csv(data, options["delimiter"])
        except csv_io.CsvFormatError as error:
            lines = [error.message, *(f"  {row}" for row in error.row_errors)]
            if error.total_errors > len(error.row_errors):
                lines.append(f"  … and {error.total_errors - len(error.row_errors)} more.")
            raise CommandError("\n".join(lines)) from None
        batch = ImportBatch.objects.create(
            metric=metric,
            uploaded_by=user,
            file_name=path.name[:255],
            sha256=sha256,
            size=len(data),
            delimiter=options["delimiter"],
        )
        try:
            stored = metric.import_indicators(parsed, user, batch)
        except MetricDeleted as error:
            raise CommandError(str(error)) from None
        ImportBatch.objects.filter(pk=batch.pk).update(rows=stored)
        self.stdout.write(self.style.SUCCESS(f"Imported {stored} indicators into {metric.name!r}."))
