"""Reading and writing indicator CSV files.

This is the only place that knows the CSV format. It is pure: bytes in, parsed rows out
(or a `CsvFormatError` a person can act on); rows in, CSV lines out. No request, no ORM.

Accepted input, as teams export it from spreadsheets:
- header `valor,decisao,tempo` (the original format) or `value,decision,time`, in any
  order, case-, accent- and space-insensitive; the `usuario`/`registrado_em` columns that
  a download adds are recognised and ignored, so a downloaded file uploads back;
- delimiter comma, semicolon, tab or pipe, given or detected;
- UTF-8 with or without BOM (even repeated), Windows-1252, or UTF-16 with a BOM (Excel's
  "Unicode Text"); a file that mixes encodings, or is none of these, is refused with the
  line where it goes wrong;
- LF, CRLF or old Mac CR line ends, even mixed in one file;
- numbers with a decimal point, or a decimal comma when the delimiter is not a comma.

A line longer than `MAX_LINE_BYTES` is refused before anything is decoded: a file that is
one 50 MB line is turned down at once, not parsed for minutes.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import math
import re
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# Worded as Django does, but kept so that a job can word a refusal again in its reader's language.
from metrics.wording import Grouped, ngettext
from metrics.wording import gettext as _
from predictor.columns import ROLLBACK, ROLLOUT, IndicatorColumns

# scikit-learn's trees compute in 32-bit floats: a larger number cannot be learnt from.
LARGEST_NUMBER = 3.4028234663852886e38
DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|"}
DETECT = "detect"
MAX_REPORTED_ERRORS = 20
PROGRESS_EVERY_ROWS = 100_000
# Unquoted files are read in blocks of about this many bytes (about 1.4M lines of 6 bytes...).
PLAIN_BLOCK_BYTES = 8 * 1024 * 1024
# A line with more fields than that is left to the line-by-line reader (it is an error anyway).
MAX_EXTRA_FIELDS = 64
# The longest line a file may hold: a line of indicators (a value, a decision, a time, and
# a downloaded file's user name and date) takes a few hundred bytes at most.
MAX_LINE_BYTES = 10_000

# Canonical column -> the header spellings that mean it, after normalisation.
REQUIRED_COLUMNS = {
    "value": {"valor", "value"},
    "decision": {"decisao", "decision"},
    "time": {"tempo", "time", "minutos", "minutes", "timeminutes", "tempominutos"},
}
# Written by `write_indicator_csv`; accepted on upload and ignored, because the person
# who uploads is the one who registers the rows.
IGNORED_COLUMNS = {
    "usuario",
    "user",
    "author",
    "autor",
    "registradoem",
    "registeredat",
    "createdat",
}
EXPORT_HEADER = ["valor", "decisao", "tempo", "usuario", "registrado_em"]

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_LINE_BREAK_BYTES = re.compile(rb"\r\n|\r|\n")
# A multi-byte UTF-8 character: a lead byte and its continuation bytes.
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_BRAZILIAN_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+(,\d+)?$")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class RowError:
    line: int
    column: str | None  # None when the whole line is wrong
    reason: str

    def __str__(self) -> str:
        if self.column is None:
            return _("Line %(line)s: %(reason)s") % {"line": self.line, "reason": self.reason}
        return _("Line %(line)s, column “%(column)s”: %(reason)s") % {
            "line": self.line,
            "column": self.column,
            "reason": self.reason,
        }


class CsvFormatError(Exception):
    """The file cannot be imported. `message` says why; `row_errors` lists bad rows."""

    def __init__(
        self,
        message: str,
        row_errors: list[RowError] | None = None,
        total_errors: int = 0,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.row_errors = row_errors or []
        self.total_errors = total_errors or len(self.row_errors)


def parse_indicator_csv(
    data: bytes, delimiter: str = DETECT, progress: Callable[[int], None] | None = None
) -> IndicatorColumns:
    """Parse a whole CSV file of indicators, or raise `CsvFormatError`.

    `delimiter` is one of the `DELIMITERS` keys or `DETECT`. All or nothing: any bad row
    makes the whole file fail, with the first `MAX_REPORTED_ERRORS` errors listed.
    `progress`, if given, is called with the number of rows read so far.

    Files without quotes are read by pandas' C parser, a block of lines at a time; only
    the lines it cannot read plainly (blank, wrong number of fields, a bad or unusual
    cell) are then read one by one, by the same rules as every line of a quoted file.
    """
    refuse_long_lines(data)
    text = _decode(data)
    if not text.strip():
        raise CsvFormatError(_("The file is empty."))

    header_number, header_line, body_start = _find_header(text)
    sep = _choose_delimiter(header_line, delimiter)
    try:
        names = [cell.strip() for cell in next(csv.reader([header_line], delimiter=sep))]
    except csv.Error as error:
        raise CsvFormatError(_("The header cannot be read: %(reason)s.") % {"reason": error}) from error
    layout = _Layout(names, _read_header(names), sep)
    report = progress or (lambda rows: None)

    body = text[body_start:].encode("utf-8")
    if _is_plain(body):
        del text  # the file is held once more as bytes: do not hold it a third time as text
        parsed = _parse_plain(body, header_number, layout, report)
        if parsed is not None:
            return parsed
        text = _decode(data)
    del body
    return _parse_line_by_line(text, header_number, layout, report)


def refuse_long_lines(data: bytes) -> None:
    """Raise `CsvFormatError` at the first line longer than `MAX_LINE_BYTES`, naming it.

    Read a window of `MAX_LINE_BYTES + 1` bytes at a time from the start of a line: with no
    line break in it, that line is too long; otherwise the next window starts after its last
    line break. A file of short lines is crossed in steps of about that size, and a file
    that is one long line is refused after its first window.
    """
    start = 0
    while len(data) - start > MAX_LINE_BYTES:
        end = start + MAX_LINE_BYTES + 1
        last_break = max(data.rfind(b"\n", start, end), data.rfind(b"\r", start, end))
        if last_break < 0:
            raise CsvFormatError(
                _(
                    "Nothing was imported: line %(line)s is longer than %(limit)s bytes, far longer than a line of "
                    "indicators (a value, a decision and a time). Check that this is the right file, saved as CSV."
                )
                % {
                    "line": Grouped(_lines_before(data, start) + 1),
                    "limit": Grouped(MAX_LINE_BYTES),
                }
            )
        start = last_break + 1


def _lines_before(data: bytes, end: int) -> int:
    """How many lines end before `end` (LF, CRLF or CR), counted without copying the bytes."""
    return data.count(b"\n", 0, end) + data.count(b"\r", 0, end) - data.count(b"\r\n", 0, end)


@dataclass(frozen=True)
class _Layout:
    """Where the columns stand in the file's lines."""

    names: list[str]
    columns: list[str]
    sep: str

    @property
    def width(self) -> int:
        return len(self.columns)

    @property
    def decimal_comma(self) -> bool:
        return self.sep != ","

    def at(self, column: str) -> int:
        return self.columns.index(column)


class _Errors:
    """The errors of a file: all counted, the first `MAX_REPORTED_ERRORS` kept."""

    def __init__(self) -> None:
        self.kept: list[RowError] = []
        self.total = 0

    def add(self, row_errors: list[RowError]) -> None:
        self.total += len(row_errors)
        self.kept.extend(row_errors[: max(0, MAX_REPORTED_ERRORS - len(self.kept))])

    def raise_if_any(self) -> None:
        if self.total:
            message = ngettext(
                "Nothing was imported: the file has %(count)d error.",
                "Nothing was imported: the file has %(count)d errors.",
                self.total,
            ) % {"count": self.total}
            raise CsvFormatError(message, self.kept, self.total)


def _read_cells(
    cells: list[str], line_number: int, layout: _Layout
) -> tuple[float, float, int] | list[RowError] | None:
    """One line's cells as (value, minutes, decision), its errors, or None for a blank line (skipped)."""
    if not cells or all(not cell.strip() for cell in cells):
        return None
    if len(cells) != layout.width:
        reason = ngettext(
            "expected %(expected)d field, found %(found)d",
            "expected %(expected)d fields, found %(found)d",
            layout.width,
        ) % {"expected": layout.width, "found": len(cells)}
        return [RowError(line_number, None, reason)]
    row_errors: list[RowError] = []
    value = minutes = 0.0
    decision = ROLLOUT
    value_at, decision_at, time_at = layout.at("value"), layout.at("decision"), layout.at("time")
    try:
        value = _read_number(cells[value_at], layout.decimal_comma)
    except _BadCellError as bad:
        row_errors.append(RowError(line_number, layout.names[value_at], bad.reason))
    try:
        decision = _read_decision(cells[decision_at], layout.decimal_comma)
    except _BadCellError as bad:
        row_errors.append(RowError(line_number, layout.names[decision_at], bad.reason))
    try:
        minutes = _read_number(cells[time_at], layout.decimal_comma)
        if minutes < 0:
            raise _BadCellError(
                _("time must be 0 or more minutes, got “%(cell)s”") % {"cell": _shorten(cells[time_at])}
            )
    except _BadCellError as bad:
        row_errors.append(RowError(line_number, layout.names[time_at], bad.reason))
    return row_errors or (value, minutes, decision)


def _parse_line_by_line(
    text: str, header_number: int, layout: _Layout, report: Callable[[int], None]
) -> IndicatorColumns:
    """Every line through Python's csv module: quoted cells, line breaks inside quotes, any line end."""
    # Lines are produced one at a time: a list of a million lines would double the memory.
    lines = itertools.islice(_iter_lines(text), header_number, None)
    # Lines keep their endings so that csv sees a quoted line break as one (invalid) cell.
    reader = csv.reader((line for _, line in lines), delimiter=layout.sep)
    parsed = IndicatorColumns()
    errors = _Errors()
    while True:
        line_number = header_number + reader.line_num + 1  # where the next record starts
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            # A cell beyond csv's size limit, or a quote left open: the rest cannot be trusted.
            errors.add([RowError(line_number, None, _("the line cannot be read: %(reason)s") % {"reason": error})])
            break
        row = _read_cells(cells, line_number, layout)
        if isinstance(row, list):
            errors.add(row)
        elif row is not None and not errors.total:  # once the file has failed, only count errors
            value, minutes, decision = row
            parsed.append(value=value, time=minutes, decision=decision)
            if len(parsed) % PROGRESS_EVERY_ROWS == 0:
                report(len(parsed))
    errors.raise_if_any()
    if not parsed:
        raise CsvFormatError(_("The file has a header but no data rows."))
    return parsed


def _is_plain(body: bytes) -> bool:
    """No quotes, no NUL, and no line that ends with a lone CR: pandas reads it as csv would."""
    return b'"' not in body and b"\x00" not in body and body.count(b"\r") == body.count(b"\r\n")


def _parse_plain(
    body: bytes, header_number: int, layout: _Layout, report: Callable[[int], None]
) -> IndicatorColumns | None:
    """The data lines of an unquoted file, read in blocks; None if a line is too odd for pandas."""
    import numpy as np

    parsed = IndicatorColumns()
    errors = _Errors()
    first_line = header_number + 1
    start = 0
    while start < len(body):
        end = body.find(b"\n", start + PLAIN_BLOCK_BYTES)
        end = len(body) if end < 0 else end + 1
        block = _parse_block(body[start:end], first_line, layout, errors)
        if block is None:
            return None
        if not errors.total:  # once the file has failed, only count errors
            # Straight into the typed arrays: memory holds the rows once, and one block's worth more.
            values, minutes, decisions = block
            parsed.values.frombytes(values.astype(np.float64, copy=False).tobytes())  # type: ignore[attr-defined]
            parsed.times.frombytes(minutes.astype(np.float64, copy=False).tobytes())  # type: ignore[attr-defined]
            parsed.decisions.frombytes(decisions.astype(np.int8).tobytes())  # type: ignore[attr-defined]
            report(len(parsed))
        first_line += body.count(b"\n", start, end)
        start = end
    errors.raise_if_any()
    if not parsed:
        raise CsvFormatError(_("The file has a header but no data rows."))
    return parsed


def _parse_block(
    block: bytes, first_line: int, layout: _Layout, errors: _Errors, *, quick: bool = True
) -> tuple[Any, Any, Any] | None:
    """(values, minutes, decisions) of a block of whole lines, its errors added to `errors`.

    Every line must have `width` fields. `quick`: when the last column is one the rows need
    and the block holds exactly `width - 1` separators a line, that is so unless some line
    lacks a field, which leaves its last cell empty (NaN): only then are fields counted line
    by line. Otherwise they are counted at once.
    """
    import numpy as np

    data = np.frombuffer(block, dtype=np.uint8)
    lines = block.count(b"\n") + (not block.endswith(b"\n"))
    last = layout.width - 1
    quick = quick and _may_count_fields_at_once(block, lines, layout)
    bounds = None if quick else _line_bounds(data, block)
    fields = layout.width if bounds is None else _fields_per_line(data, bounds, layout)
    if fields is None:
        return None
    wanted = [layout.at("value"), layout.at("time"), layout.at("decision")]
    frame = _read_frame(block, layout, int(np.max(fields)), sorted({*wanted, last}))
    if frame is None or len(frame) != lines:
        return None
    if quick and frame[last].isna().any():
        return _parse_block(block, first_line, layout, errors, quick=False)
    values, minutes, decisions = (_as_numbers(frame[at]) for at in wanted)
    odd = np.flatnonzero(~_is_plain_row(fields, values, minutes, decisions, layout)).tolist()
    if not odd:
        return values, minutes, decisions
    # Whatever pandas could not read plainly is read again, one line at a time, by the rules of `_read_cells`.
    keep = _read_odd_lines(
        block, bounds or _line_bounds(data, block), odd, first_line, layout, errors, (values, minutes, decisions)
    )
    if keep.all():
        return values, minutes, decisions
    return values[keep], minutes[keep], decisions[keep]


def _read_odd_lines(
    block: bytes,
    bounds: tuple[Any, Any],
    odd: list[int],
    first_line: int,
    layout: _Layout,
    errors: _Errors,
    columns: tuple[Any, Any, Any],
) -> Any:
    """Read the `odd` lines again into `columns` (values, minutes, decisions), their errors
    added to `errors`; which lines to keep (a blank one is skipped)."""
    import numpy as np

    starts, ends = bounds
    values, minutes, decisions = columns
    keep = np.ones(len(values), dtype=bool)
    for index in odd:
        row = _read_line(block[starts[index] : ends[index]], first_line + index, layout)
        if isinstance(row, list):
            errors.add(row)
        elif row is None:
            keep[index] = False
        else:
            values[index], minutes[index], decisions[index] = row
    return keep


def _may_count_fields_at_once(block: bytes, lines: int, layout: _Layout) -> bool:
    """True if the last column is one the rows need and the block holds `width - 1`
    separators a line: then every line has `width` fields unless one lacks a field, which
    leaves its last cell empty."""
    last = layout.width - 1
    return not layout.columns[last].startswith("ignored:") and block.count(layout.sep.encode()) == last * lines


def _fields_per_line(data: Any, bounds: tuple[Any, Any], layout: _Layout) -> Any:
    """`width` if every line has that many fields, else each line's count (a blank line has
    one); None if a line has too many for pandas to be worth it."""
    import numpy as np

    if _every_line_has_width_fields(data, *bounds, layout):
        return layout.width
    fields = np.add.reduceat(data == ord(layout.sep), bounds[0], dtype=np.int64) + 1
    if int(fields.max()) > layout.width + MAX_EXTRA_FIELDS:
        return None
    return fields


def _read_frame(block: bytes, layout: _Layout, most_fields: int, usecols: list[int]) -> Any:
    """The block's `usecols` columns as pandas' C parser reads them; None if it cannot."""
    import pandas as pd

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pd.errors.ParserWarning)
            return pd.read_csv(
                io.BytesIO(block),
                sep=layout.sep,
                header=None,
                index_col=False,
                names=list(range(max(most_fields, layout.width))),
                usecols=usecols,
                skip_blank_lines=False,
                quoting=csv.QUOTE_NONE,
                skipinitialspace=True,
                keep_default_na=False,
                na_values=[""],
                decimal="," if layout.decimal_comma and b"," in block else ".",
                low_memory=False,
                engine="c",
            )
    except (ValueError, pd.errors.ParserError):
        return None


def _is_plain_row(fields: Any, values: Any, minutes: Any, decisions: Any, layout: _Layout) -> Any:
    """For each line, whether pandas read it as `_read_cells` would: all fields, numbers in range."""
    import numpy as np

    with np.errstate(invalid="ignore"):
        return (
            (fields == layout.width)
            & (np.abs(values) <= LARGEST_NUMBER)
            & (minutes >= 0)
            & (minutes <= LARGEST_NUMBER)
            & ((decisions == ROLLOUT) | (decisions == ROLLBACK))
        )


def _read_line(raw: bytes, line_number: int, layout: _Layout) -> tuple[float, float, int] | list[RowError] | None:
    """One line, read by Python's csv module then by `_read_cells`' rules."""
    line = raw.decode("utf-8").rstrip("\r")
    try:
        cells = next(csv.reader([line], delimiter=layout.sep), [])
    except csv.Error as error:
        return [RowError(line_number, None, _("the line cannot be read: %(reason)s") % {"reason": error})]
    return _read_cells(cells, line_number, layout)


def _line_bounds(data: Any, block: bytes) -> tuple[Any, Any]:
    """Where each line of the block starts, and where it ends (its line feed, or the block's end)."""
    import numpy as np

    ends = np.flatnonzero(data == ord("\n"))
    if not block.endswith(b"\n"):
        ends = np.append(ends, len(block))
    return np.concatenate(([0], ends[:-1] + 1)), ends


def _every_line_has_width_fields(data: Any, starts: Any, ends: Any, layout: _Layout) -> bool:
    """True if each line holds exactly `width - 1` separators; cheaper than counting line by line.

    With as many separators as that in all, give the k-th group of `width - 1` of them to
    line k: if each group lies within its line, no line can hold more or fewer.
    """
    import numpy as np

    per_line = layout.width - 1
    positions = np.flatnonzero(data == ord(layout.sep))
    if len(positions) != per_line * len(starts):
        return False
    groups = positions.reshape(len(starts), per_line)
    return bool((groups[:, 0] >= starts).all() and (groups[:, -1] < ends).all())


def _as_numbers(column: Any) -> Any:
    """A column as float64; NaN where a cell is not a plain number (read again one by one)."""
    import numpy as np
    import pandas as pd

    if column.dtype.kind in "iuf":
        return column.to_numpy(dtype=np.float64, copy=True)
    if column.dtype.kind == "b":  # "True"/"False": never a number here
        return np.full(len(column), np.nan)
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan, copy=True)


def write_indicator_csv(rows: Iterable[tuple[float, int, float, str, datetime]]) -> Iterator[str]:
    """Yield CSV lines (header first) for rows of (value, decision, time, author, registered_at).

    A generator, so that a download streams in constant memory.
    """
    buffer = _LineBuffer()
    writer = csv.writer(buffer, lineterminator="\r\n")
    yield writer.writerow(EXPORT_HEADER)
    for value, decision, minutes, author, registered_at in rows:
        yield writer.writerow(
            [
                format_number(value),
                str(int(decision)),
                format_number(minutes),
                neutralise_formula(author),
                registered_at.isoformat(timespec="seconds"),
            ]
        )


def format_number(number: float) -> str:
    """The shortest text that reads back as the same float ("500" rather than "500.0")."""
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)


# The sample file the upload page offers: the importer's own format, both decisions, and
# rows a tree can learn from (a rollback when the value is high for ten minutes or more).
SAMPLE_HEADER = ("valor", "decisao", "tempo")
SAMPLE_ROWS = (
    (180.0, ROLLOUT, 5.0),
    (212.5, ROLLOUT, 30.0),
    (250.0, ROLLOUT, 60.0),
    (320.0, ROLLOUT, 15.0),
    (410.0, ROLLOUT, 2.5),
    (480.0, ROLLOUT, 45.0),
    (520.0, ROLLOUT, 5.0),
    (560.0, ROLLBACK, 10.0),
    (640.0, ROLLBACK, 20.0),
    (725.5, ROLLBACK, 30.0),
    (810.0, ROLLBACK, 60.0),
    (900.0, ROLLBACK, 15.0),
)


def sample_indicator_csv() -> str:
    """A small file in the format `parse_indicator_csv` takes, to start from."""
    lines = [",".join(SAMPLE_HEADER)]
    lines += [f"{format_number(value)},{decision},{format_number(minutes)}" for value, decision, minutes in SAMPLE_ROWS]
    return "\n".join(lines) + "\n"


def neutralise_formula(text: str) -> str:
    """Keep spreadsheets from running a text cell as a formula (CSV injection)."""
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


class _LineBuffer:
    """A file-like object whose write returns the line, for csv.writer in a generator."""

    def write(self, line: str) -> str:
        return line


def _decode(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode Text": UTF-16 with a byte-order mark, tab-separated.
        text = _decode_utf16(data)
    else:
        if b"\x00" in data[:8192]:
            raise CsvFormatError(_("This file is not a CSV text file (it looks binary)."))
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            text = _decode_windows_1252(data, error)
    # Byte-order marks carry no data: a file saved twice by some tools starts with two.
    return text.replace("\ufeff", "")


def _decode_utf16(data: bytes) -> str:
    try:
        return data.decode("utf-16")  # the byte-order mark says which byte order
    except UnicodeDecodeError as error:
        line = _line_of(data[: error.start].decode("utf-16", errors="replace").encode())
        raise CsvFormatError(
            _("The file starts as UTF-16 text, but line %(line)d is not valid UTF-16. Save it again as CSV UTF-8.")
            % {"line": line}
        ) from error


def _decode_windows_1252(data: bytes, utf8_error: UnicodeDecodeError) -> str:
    if _UTF8_SEQUENCE.search(data):
        # Part of the file is UTF-8: reading all of it as Windows-1252 would garble that part
        # ("Decisão" -> "DecisÃ£o") and the error would blame the wrong thing.
        raise CsvFormatError(
            _(
                "The file mixes text encodings: it is UTF-8, but line %(line)d holds a character that is not "
                "UTF-8 (pasted from another file, perhaps). Save it again as CSV UTF-8."
            )
            % {"line": _line_of(data[: utf8_error.start])}
        )
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as error:
        raise CsvFormatError(
            _(
                "The file is neither UTF-8 nor Windows-1252 text: line %(line)d holds bytes that neither can "
                "read. Save it again as CSV UTF-8."
            )
            % {"line": _line_of(data[: error.start])}
        ) from error


def _line_of(before: bytes) -> int:
    """The number of the line on which the byte after `before` stands."""
    return len(_LINE_BREAK_BYTES.findall(before)) + 1


def _find_header(text: str) -> tuple[int, str, int]:
    """The header: its line number, its text without the line end, and where the data starts."""
    for number, match in enumerate(_LINE.finditer(text), start=1):
        if match.group().strip():
            return number, match.group().rstrip("\r\n"), match.end()
    raise CsvFormatError(_("The file is empty."))


def _iter_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number from 1, line with its ending), whatever the line ends: LF, CRLF, old Mac CR, or a mix."""
    for number, match in enumerate(_LINE.finditer(text), start=1):
        yield number, match.group()


def _choose_delimiter(header_line: str, choice: str) -> str:
    counts = {sep: header_line.count(sep) for sep in DELIMITERS.values()}
    if choice == DETECT:
        best = max(counts, key=lambda sep: counts[sep])
        if counts[best] == 0:
            raise CsvFormatError(
                _(
                    "Could not detect the delimiter: the header “%(header)s” has no comma, "
                    "semicolon, tab or pipe. The header must be valor, decisao, tempo."
                )
                % {"header": _shorten(header_line)}
            )
        return best
    if choice not in DELIMITERS:
        raise CsvFormatError(_("Unknown delimiter “%(choice)s”.") % {"choice": choice})
    sep = DELIMITERS[choice]
    if counts[sep] == 0:
        others = [name for name, other in DELIMITERS.items() if counts[other] > 0]
        if others:
            raise CsvFormatError(
                _(
                    "Wrong delimiter: the header is not separated by %(chosen)s but seems "
                    "separated by %(found)s. Choose that delimiter or “detect”."
                )
                % {"chosen": _delimiter_label(choice), "found": _delimiter_label(others[0])}
            )
    return sep


def _delimiter_label(name: str) -> str:
    labels = {
        "comma": _("comma (,)"),
        "semicolon": _("semicolon (;)"),
        "tab": _("tab"),
        "pipe": _("pipe (|)"),
    }
    return labels[name]


def normalise_header(name: str) -> str:
    """`Decisão ` -> `decisao`: lower case, no accents, no spaces, underscores or brackets."""
    decomposed = unicodedata.normalize("NFKD", name.strip().lower())
    without_accents = "".join(
        ch for ch in decomposed if not unicodedata.combining(ch) and unicodedata.category(ch) not in {"Cf", "Cc"}
    )
    return re.sub(r"[\s_\-()\[\]]+", "", without_accents)


def _read_header(cells: list[str]) -> list[str]:
    columns: list[str] = []
    unknown: list[str] = []
    for cell in cells:
        key = normalise_header(cell)
        canonical = next((name for name, spellings in REQUIRED_COLUMNS.items() if key in spellings), None)
        if canonical is not None:
            if canonical in columns:
                raise CsvFormatError(
                    _("The column “%(column)s” appears twice in the header.") % {"column": cell.strip()}
                )
            columns.append(canonical)
        elif key in IGNORED_COLUMNS:
            columns.append("ignored:" + key)
        else:
            unknown.append(cell.strip())
            columns.append("unknown")
    if unknown:
        raise CsvFormatError(
            _(
                "Unknown column “%(column)s” in the header. "
                "The header must be valor, decisao, tempo (or value, decision, time)."
            )
            % {"column": _shorten(unknown[0])}
        )
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        spelled = {"value": "valor", "decision": "decisao", "time": "tempo"}
        message = ngettext(
            "Missing column: %(columns)s. The header must be valor, decisao, tempo (or value, decision, time).",
            "Missing columns: %(columns)s. The header must be valor, decisao, tempo (or value, decision, time).",
            len(missing),
        )
        raise CsvFormatError(message % {"columns": ", ".join(spelled[name] for name in missing)})
    return columns


class _BadCellError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _read_number(cell: str, decimal_comma: bool) -> float:
    text = cell.strip()
    if not text:
        raise _BadCellError(_("the cell is empty, expected a number"))
    if decimal_comma and "," in text:
        if _BRAZILIAN_THOUSANDS.match(text):
            text = text.replace(".", "")
        text = text.replace(",", ".", 1) if text.count(",") == 1 else text
    try:
        # float() also reads "1_000" and non-ASCII digits; a CSV number is plainer than that.
        number = float(text) if text.isascii() and "_" not in text else math.nan
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise _BadCellError(_("expected a finite number, got “%(cell)s”") % {"cell": _shorten(cell)})
    if abs(number) > LARGEST_NUMBER:
        raise _BadCellError(
            _("the number “%(cell)s” is too large (at most %(largest).1e)")
            % {"cell": _shorten(cell), "largest": LARGEST_NUMBER}
        )
    return number


def _read_decision(cell: str, decimal_comma: bool) -> int:
    try:
        number = _read_number(cell, decimal_comma)
    except _BadCellError:
        number = math.nan
    if number == 0.0:
        return ROLLOUT
    if number == 1.0:
        return ROLLBACK
    raise _BadCellError(_("expected 0 (rollout) or 1 (rollback), got “%(cell)s”") % {"cell": _shorten(cell)})


def _shorten(text: str, limit: int = 40) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------------
# A history fill's file: the past releases whose values are read from a data source.

# The most releases one fill may list (each is one range query per side).
MAX_FILL_RELEASES = 1_000
FILL_COLUMNS = {
    "started_at": {"startedat", "started", "start", "inicio", "iniciadoem"},
    "decision": {"decision", "decisao"},
    "key": {"key", "chave", "release"},
    "version": {"version", "versao"},
    "name": {"name", "nome"},
}
# The optional columns of a fill file: what {{ key }} and {{ version }} stand for, and a name to
# tell the release by in errors.
OPTIONAL_FILL_COLUMNS = ("key", "version", "name")
# A decision as a fill file may write it: the API's words, or the upload's 0 and 1.
FILL_DECISIONS = {"rollout": ROLLOUT, "rollback": ROLLBACK, "0": ROLLOUT, "1": ROLLBACK}


@dataclass(frozen=True)
class PastRelease:
    """A release a fill file lists: the file's line, when it started, what was decided, its key
    and version (what `{{ key }}` and `{{ version }}` stand for), and a name to tell it by."""

    line: int
    started_at: datetime
    decision: int
    key: str = ""
    version: str = ""
    name: str = ""


def write_release_csv(releases: Iterable[PastRelease]) -> bytes:
    """A fill file listing `releases` (with every column `parse_release_csv` reads, the same
    releases read back, each on line 2, 3...)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["started_at", "decision", *OPTIONAL_FILL_COLUMNS])
    for release in releases:
        decision = "rollback" if release.decision == ROLLBACK else "rollout"
        writer.writerow([release.started_at.isoformat(), decision, release.key, release.version, release.name])
    return text.getvalue().encode()


def parse_release_csv(data: bytes, *, now: datetime, minutes: int) -> list[PastRelease]:
    """The past releases a fill file lists (`started_at,decision[,key]` with a header, in any
    order), or `CsvFormatError` with each bad line: a start that is not an ISO 8601 moment with
    its time zone, in the future, or whose first `minutes` minutes are not over at `now`; a
    decision other than rollout, rollback, 0 or 1; the same start (and key) twice; more than
    `MAX_FILL_RELEASES` releases. Delimited by commas, semicolons or tabs."""
    refuse_long_lines(data)
    text = _decode(data)
    if not text.strip():
        raise CsvFormatError(_("The file is empty."))
    header_number, header_line, _body_start = _find_header(text)
    sep = max((",", ";", "\t"), key=header_line.count)
    names = [cell.strip() for cell in next(csv.reader([header_line], delimiter=sep), [])]
    columns = _read_fill_header(names)
    errors = _Errors()
    releases: list[PastRelease] = []
    seen: dict[tuple[datetime, str], int] = {}
    lines = (line for _, line in itertools.islice(_iter_lines(text), header_number, None))
    reader = csv.reader(lines, delimiter=sep)
    while True:
        line_number = header_number + reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            errors.add([RowError(line_number, None, _("the line cannot be read: %(reason)s") % {"reason": error})])
            break
        if not cells or all(not cell.strip() for cell in cells):
            continue
        row = _read_release(cells, line_number, names, columns, now, minutes)
        if isinstance(row, list):
            errors.add(row)
            continue
        if (earlier := seen.setdefault((row.started_at, row.key), line_number)) != line_number:
            errors.add([RowError(line_number, None, _("the same release as line %(line)d") % {"line": earlier})])
            continue
        releases.append(row)
    errors.raise_if_any()
    if not releases:
        raise CsvFormatError(_("The file has a header but no releases."))
    if len(releases) > MAX_FILL_RELEASES:
        raise CsvFormatError(
            _("Nothing was stored: the file lists %(count)s releases; a fill takes at most %(limit)s.")
            % {"count": Grouped(len(releases)), "limit": Grouped(MAX_FILL_RELEASES)}
        )
    return releases


def _read_fill_header(names: list[str]) -> dict[str, int]:
    """Where each column of a fill file is: `started_at`, `decision`, and `key` if it has one."""
    columns: dict[str, int] = {}
    for at, name in enumerate(names):
        key = normalise_header(name)
        canonical = next((column for column, spellings in FILL_COLUMNS.items() if key in spellings), None)
        if canonical is None:
            raise CsvFormatError(
                _(
                    "Unknown column “%(column)s” in the header. The header must be started_at, decision (and key, "
                    "version, name)."
                )
                % {"column": _shorten(name)}
            )
        if canonical in columns:
            raise CsvFormatError(_("The column “%(column)s” appears twice in the header.") % {"column": name})
        columns[canonical] = at
    missing = [name for name in ("started_at", "decision") if name not in columns]
    if missing:
        raise CsvFormatError(
            ngettext(
                "Missing column: %(columns)s. The header must be started_at, decision (and key, version, name).",
                "Missing columns: %(columns)s. The header must be started_at, decision (and key, version, name).",
                len(missing),
            )
            % {"columns": ", ".join(missing)}
        )
    return columns


def _read_release(
    cells: list[str], line_number: int, names: list[str], columns: dict[str, int], now: datetime, minutes: int
) -> PastRelease | list[RowError]:
    if len(cells) != len(names):
        reason = ngettext(
            "expected %(expected)d field, found %(found)d",
            "expected %(expected)d fields, found %(found)d",
            len(names),
        ) % {"expected": len(names), "found": len(cells)}
        return [RowError(line_number, None, reason)]
    row_errors: list[RowError] = []
    started_at = now
    start_cell = cells[columns["started_at"]].strip()
    try:
        started_at = datetime.fromisoformat(start_cell)
    except ValueError:
        reason = _("expected a date and time in ISO 8601 (2026-03-01T14:30:00Z), got “%(cell)s”")
        row_errors.append(RowError(line_number, names[columns["started_at"]], reason % {"cell": _shorten(start_cell)}))
    else:
        reason = ""
        if started_at.tzinfo is None:
            reason = _("“%(cell)s” has no time zone: add its offset (+00:00, -03:00) or Z for UTC")
        elif started_at > now:
            reason = _("“%(cell)s” is in the future")
        elif (started_at - now).total_seconds() + 60 * minutes > 0:
            reason = ngettext(
                "the first %(minutes)d minute after “%(cell)s” is not over yet",
                "the first %(minutes)d minutes after “%(cell)s” are not over yet",
                minutes,
            )
        if reason:
            values = {"cell": _shorten(start_cell), "minutes": minutes}
            row_errors.append(RowError(line_number, names[columns["started_at"]], reason % values))
    decision_cell = cells[columns["decision"]].strip()
    decision = FILL_DECISIONS.get(decision_cell.lower())
    if decision is None:
        reason = _("expected rollout, rollback, 0 (rollout) or 1 (rollback), got “%(cell)s”")
        row_errors.append(RowError(line_number, names[columns["decision"]], reason % {"cell": _shorten(decision_cell)}))
    optional = {name: cells[columns[name]].strip() if name in columns else "" for name in OPTIONAL_FILL_COLUMNS}
    if row_errors or decision is None:
        return row_errors
    return PastRelease(line_number, started_at, decision, **optional)
