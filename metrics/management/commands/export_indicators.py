"""`manage.py export_indicators METRIC [--output FILE]`: the download page's CSV, from the shell."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.management.commands._arguments import metric_named


class Command(BaseCommand):
    help = "Write METRIC's indicators as CSV (the download's format, which uploads back) to stdout or --output."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("metric", help="the metric's id, or its name (name/category if two share it)")
        parser.add_argument("--output", type=Path, help="a file to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        metric = metric_named(options["metric"])
        if options["output"] is None:
            for piece in metric.indicators.csv_file():
                self.stdout.write(piece.decode("utf-8"), ending="")
            return
        try:
            with options["output"].open("wb") as target:
                for piece in metric.indicators.csv_file():
                    target.write(piece)
        except OSError as error:
            raise CommandError(f"Cannot write {options['output']}: {error.strerror}.") from None
