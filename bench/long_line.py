"""How long does refusing a file with an over-long line take, against parsing a normal file?

    .venv/bin/python bench/long_line.py            # 50 MB files, the upload limit
    .venv/bin/python bench/long_line.py --mib 10

A file that is one 50 MB header line once cost a worker 46 s (and minutes on a slower
machine) before it was refused; `csv_io` now refuses a line longer than `MAX_LINE_BYTES`
as soon as it reads it. Printed: the best of 3 times to refuse each file (by
`parse_indicator_csv`, as the worker and the command line call it), the time to parse a
normal file of the same size, and their ratio. No database is used.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial

from harness import best_of, print_table, setup_django


def normal_file(size: int) -> bytes:
    line = b"612.5,1,42.5\n"
    return b"valor,decisao,tempo\n" + line * (size // len(line))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=50, help="the size of each file, in MiB (default 50)")
    arguments = parser.parse_args(argv)
    setup_django()
    from metrics.csv_io import MAX_LINE_BYTES, CsvFormatError, parse_indicator_csv

    size = arguments.mib * 1024 * 1024
    long_files = {
        "one header line": b"valor,decisao,tempo" + b",x" * (size // 2),
        "a header, then one long line": b"valor,decisao,tempo\n" + b"5" * size,
        "a long line at the end": normal_file(size - 2 * MAX_LINE_BYTES) + b"7" * (2 * MAX_LINE_BYTES),
    }

    def refuse(data: bytes) -> None:
        try:
            parse_indicator_csv(data)
        except CsvFormatError as error:
            if "is longer than" not in error.message:
                raise RuntimeError(f"refused for another reason: {error.message}") from error
        else:
            raise RuntimeError("a file with an over-long line was parsed")

    normal = normal_file(size)
    parse_s = best_of(3, lambda: parse_indicator_csv(normal))
    rows: list[tuple[str, float, float]] = [("a normal file, parsed", parse_s * 1000, 1.0)]
    for name, data in long_files.items():
        refuse_s = best_of(3, partial(refuse, data))
        rows.append((name + ", refused", refuse_s * 1000, refuse_s / parse_s))
    print(f"{arguments.mib} MiB files; lines longer than {MAX_LINE_BYTES:,} bytes are refused")
    print_table([("file", "<38"), ("ms", ">10.3f"), ("vs parsing", ">11.5f")], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
