"""Unquoted files are read by pandas in blocks; every file must read exactly as the
line-by-line reader (the one quoted files take) reads it: same rows, or same errors."""

from __future__ import annotations

import random

import pytest

from metrics import csv_io
from metrics.csv_io import CsvFormatError, parse_indicator_csv

# Cells a spreadsheet, a script or a hostile tester may put in a numeric column.
CELLS = [
    "1", "0", "12", " 7 ", "3.5", "-2.25", "+4", ".5", "5.", "1e3", "-0", "0.0", "1.0",
    "", "   ", "inf", "-Infinity", "nan", "NaN", "NA", "null", "1e400", "-1e39", "3e38",
    "1_000", "0x1A", "١٢", "１", "1,5", "1.234,5", "12,", "True", "false", "abc", "1 2",
    "99999999999999999999", "0.1000000000000000055511151231257827",
]  # fmt: skip


def outcome(data: bytes, delimiter: str = "detect"):
    """What a reader makes of a file: its rows, or its error message and listed errors."""
    try:
        parsed = parse_indicator_csv(data, delimiter)
    except CsvFormatError as error:
        return ("refused", error.message, [str(row) for row in error.row_errors], error.total_errors)
    return ("read", list(parsed.values), list(parsed.times), list(parsed.decisions))


def line_by_line(data: bytes, delimiter: str = "detect", monkeypatch=None):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(csv_io, "_is_plain", lambda body: False)
        return outcome(data, delimiter)


def random_file(rng: random.Random, sep: str, good_only: bool) -> bytes:
    header = rng.choice([["valor", "decisao", "tempo"], ["tempo", "value", "decision"]])
    lines = [sep.join(header)]
    for _ in range(rng.randint(1, 40)):
        shape = rng.random()
        if shape < 0.05 and not good_only:
            lines.append(rng.choice(["", "  ", sep * 2, sep.join(["1"] * rng.choice([2, 4]))]))
            continue
        cells = {
            "valor": f"{rng.uniform(-1000, 1000):.3f}",
            "value": f"{rng.uniform(-1000, 1000):.3f}",
            "decisao": rng.choice(["0", "1"]),
            "decision": rng.choice(["0", "1"]),
            "tempo": f"{rng.uniform(0, 120):.1f}",
        }
        if not good_only and shape < 0.4:
            cells[rng.choice(header)] = rng.choice(CELLS)
        lines.append(sep.join(cells[name] for name in header))
    ending = rng.choice(["\n", "\r\n"])
    text = ending.join(lines) + rng.choice([ending, ""])
    return text.encode()


@pytest.mark.parametrize("seed", range(120))
def test_an_unquoted_file_reads_as_the_line_by_line_reader_reads_it(seed):
    rng = random.Random(seed)
    sep = rng.choice([",", ";", "\t", "|"])
    data = random_file(rng, sep, good_only=seed % 4 == 0)

    assert outcome(data) == line_by_line(data)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("column", ["valor", "decisao", "tempo"])
@pytest.mark.parametrize("sep", [",", ";"])
def test_each_unusual_cell_reads_as_the_line_by_line_reader_reads_it(cell, column, sep):
    good = {"valor": "10", "decisao": "1", "tempo": "30"}
    lines = [sep.join(good), sep.join(good.values()), sep.join(cell if name == column else good[name] for name in good)]
    data = ("\n".join(lines) + "\n").encode()

    assert outcome(data) == line_by_line(data)


def test_line_numbers_stay_right_across_blocks(monkeypatch):
    monkeypatch.setattr(csv_io, "PLAIN_BLOCK_BYTES", 16)
    lines = ["valor,decisao,tempo"] + [f"{n},1,{n}" for n in range(1, 200)]
    lines[57] = "57,2,57"  # line 58 of the file
    lines[150] = ""  # a blank line is skipped
    lines[151] = "151,1,-1"  # line 152
    data = ("\n".join(lines) + "\n").encode()

    error = outcome(data)

    assert error[0] == "refused"
    assert error[2] == [
        "Line 58, column “decisao”: expected 0 (rollout) or 1 (rollback), got “2”",
        "Line 152, column “tempo”: time must be 0 or more minutes, got “-1”",
    ]
    assert error == line_by_line(data)


def test_a_file_read_in_many_blocks_keeps_every_row_in_order(monkeypatch):
    monkeypatch.setattr(csv_io, "PLAIN_BLOCK_BYTES", 100)
    lines = ["value;decision;time"] + [f"{n},5;{n % 2};{n}" for n in range(1000)]
    data = ("\r\n".join(lines)).encode()

    parsed = parse_indicator_csv(data)

    assert list(parsed.values) == [n + 0.5 for n in range(1000)]
    assert list(parsed.decisions) == [n % 2 for n in range(1000)]
    assert list(parsed.times) == [float(n) for n in range(1000)]


def test_progress_counts_the_rows_read(monkeypatch):
    monkeypatch.setattr(csv_io, "PLAIN_BLOCK_BYTES", 1000)
    data = ("valor,decisao,tempo\n" + "".join(f"{n},0,1\n" for n in range(5000))).encode()
    seen: list[int] = []

    parse_indicator_csv(data, progress=seen.append)

    assert seen == sorted(seen)
    assert len(seen) > 1
    assert seen[-1] == 5000


def test_a_line_with_a_field_too_many_is_found_beside_one_with_a_field_too_few():
    data = b"valor,decisao,tempo\n1,1,1,1\n2,0,2\n3,1\n"

    error = outcome(data)

    assert error[2] == ["Line 2: expected 3 fields, found 4", "Line 4: expected 3 fields, found 2"]
