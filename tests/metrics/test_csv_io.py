"""The CSV rules, on bytes, without the database."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from metrics.csv_io import (
    MAX_REPORTED_ERRORS,
    CsvFormatError,
    neutralise_formula,
    normalise_header,
    parse_indicator_csv,
    write_indicator_csv,
)


def parse(text: str, delimiter: str = "detect", encoding: str = "utf-8"):
    return parse_indicator_csv(text.encode(encoding), delimiter)


def rows_of(parsed) -> list[tuple[float, int, float]]:
    """(value, decision, time) of each parsed row: the order of the CSV's columns."""
    return list(zip(parsed.values, parsed.decisions, parsed.times, strict=True))


def error_of(text: str | bytes, delimiter: str = "detect") -> CsvFormatError:
    data = text if isinstance(text, bytes) else text.encode()
    with pytest.raises(CsvFormatError) as caught:
        parse_indicator_csv(data, delimiter)
    return caught.value


def test_the_original_portuguese_header_is_accepted():
    parsed = parse("valor,decisao,tempo\n500,1,10\n600,0,60\n")
    assert rows_of(parsed) == [(500.0, 1, 10.0), (600.0, 0, 60.0)]


def test_the_english_header_is_accepted():
    parsed = parse("value,decision,time\n1.5,0,2.5\n")
    assert rows_of(parsed) == [(1.5, 0, 2.5)]


@pytest.mark.parametrize(
    "header",
    ["Valor,Decisão,Tempo", " VALOR , DECISÃO , TEMPO ", "Value,Decision,Time", "valor ,decisao , tempo"],
)
def test_header_is_case_accent_and_space_insensitive(header):
    assert len(parse(f"{header}\n1,1,1\n")) == 1


def test_columns_may_come_in_any_order():
    parsed = parse("tempo,valor,decisao\n30,700,1\n")
    assert rows_of(parsed) == [(700.0, 1, 30.0)]


def test_normalise_header_drops_accents_case_spaces_and_underscores():
    assert normalise_header(" Decisão ") == "decisao"
    assert normalise_header("Registrado_em") == "registradoem"


@pytest.mark.parametrize(
    ("delimiter_name", "separator"),
    [("comma", ","), ("semicolon", ";"), ("tab", "\t"), ("pipe", "|")],
)
def test_each_delimiter_works_when_chosen_and_when_detected(delimiter_name, separator):
    text = separator.join(["valor", "decisao", "tempo"]) + "\n" + separator.join(["5", "1", "7"]) + "\n"
    assert rows_of(parse(text, delimiter_name)) == [(5.0, 1, 7.0)]
    assert rows_of(parse(text, "detect")) == [(5.0, 1, 7.0)]


def test_decimal_comma_is_accepted_when_the_delimiter_is_not_a_comma():
    parsed = parse("valor;decisao;tempo\n1,5;0;2,25\n1.234,5;1;10\n")
    assert rows_of(parsed) == [(1.5, 0, 2.25), (1234.5, 1, 10.0)]


def test_decimal_comma_in_a_comma_separated_file_is_a_wrong_field_count():
    error = error_of("valor,decisao,tempo\n1,5,0,2\n")
    assert error.row_errors[0].line == 2
    assert "expected 3 fields, found 4" in error.row_errors[0].reason


def test_utf8_with_bom_and_crlf_line_ends():
    data = "\ufeffvalor,decisão,tempo\r\n1,0,2\r\n3,1,4\r\n".encode()
    assert len(parse_indicator_csv(data)) == 2


def test_windows_1252_file_from_brazilian_excel():
    data = "Valor;Decisão;Tempo\r\n1,5;1;10\r\n".encode("cp1252")
    assert rows_of(parse_indicator_csv(data)) == [(1.5, 1, 10.0)]


def test_a_file_neither_utf8_nor_windows_1252_is_refused_naming_the_first_bad_line():
    # 0xE3 is "ã" in Windows-1252, not UTF-8; 0x81 is undefined in Windows-1252.
    error = error_of(b"valor,decis\xe3o,tempo\r\n1,0,2\r\n3,1,\x81\r\n")
    assert error.message == (
        "The file is neither UTF-8 nor Windows-1252 text: line 3 holds bytes that neither can read. "
        "Save it again as CSV UTF-8."
    )
    assert error.row_errors == []


def test_a_utf8_file_with_one_windows_1252_byte_is_refused_as_mixed_not_as_a_garbled_header():
    data = "valor,decisão,tempo\n1,0,2\n".encode() + b"3,1,4 \xe9\n"
    error = error_of(data)
    assert "mixes text encodings" in error.message
    assert "line 3" in error.message
    assert "Ã" not in error.message


def test_excel_unicode_text_utf16_with_a_bom_and_tabs_is_read():
    text = "Valor\tDecisão\tTempo\r\n1,5\t1\t10\r\n700\t0\t3\r\n"
    for encoding in ("utf-16-le", "utf-16-be"):
        bom = "\ufeff".encode(encoding)
        assert rows_of(parse_indicator_csv(bom + text.encode(encoding))) == [(1.5, 1, 10.0), (700.0, 0, 3.0)]


def test_utf16_without_its_bom_is_still_refused_as_binary():
    error = error_of("valor,decisao,tempo\n1,0,2\n".encode("utf-16-le"))
    assert "looks binary" in error.message


def test_repeated_byte_order_marks_are_ignored():
    data = b"\xef\xbb\xbf\xef\xbb\xbfvalor,decisao,tempo\n1,0,2\n"
    assert rows_of(parse_indicator_csv(data)) == [(1.0, 0, 2.0)]


def test_mixed_line_endings_are_read_with_the_right_line_numbers():
    parsed = parse("valor,decisao,tempo\r\n1,0,2\n3,1,4\r5,0,6\r\n")
    assert rows_of(parsed) == [(1.0, 0, 2.0), (3.0, 1, 4.0), (5.0, 0, 6.0)]
    error = error_of(b"valor,decisao,tempo\r\n1,0,2\n3,1,4\rx,0,6\r\n")
    assert (error.row_errors[0].line, error.row_errors[0].column) == (4, "valor")


def test_invisible_characters_in_the_header_are_ignored():
    assert rows_of(parse("valor,deci\u200bsao,\u2060tempo\n1,0,2\n")) == [(1.0, 0, 2.0)]


def test_blank_lines_are_ignored():
    parsed = parse("\nvalor,decisao,tempo\n\n1,0,2\n\n3,1,4\n\n")
    assert len(parsed) == 2


def test_time_zero_and_negative_values_are_accepted():
    assert rows_of(parse("valor,decisao,tempo\n-5,0,0\n")) == [(-5.0, 0, 0.0)]


@pytest.mark.parametrize("decision", ["1.0", "0.0"])
def test_decision_written_as_a_float_is_accepted(decision):
    assert len(parse(f"valor,decisao,tempo\n1,{decision},2\n")) == 1


def test_empty_file_has_its_own_message():
    assert error_of(b"").message == "The file is empty."
    assert error_of(b"  \r\n \n").message == "The file is empty."


def test_header_only_file_has_its_own_message():
    assert error_of("valor,decisao,tempo\n").message == "The file has a header but no data rows."


def test_missing_column_is_named():
    error = error_of("valor,decisao\n1,0\n")
    assert error.message.startswith("Missing column: tempo.")


def test_unknown_column_is_named():
    error = error_of("valor,decisao,tempo,colour\n1,0,2,red\n")
    assert "Unknown column “colour”" in error.message


def test_duplicate_column_is_refused():
    error = error_of("valor,value,decisao,tempo\n1,1,0,2\n")
    assert "appears twice" in error.message


def test_wrong_delimiter_says_which_one_the_file_uses():
    error = error_of("valor;decisao;tempo\n1;0;2\n", "comma")
    assert "Wrong delimiter" in error.message
    assert "semicolon (;)" in error.message


def test_undetectable_delimiter_has_its_own_message():
    error = error_of("valor decisao tempo\n1 0 2\n")
    assert "Could not detect the delimiter" in error.message


def test_binary_file_is_refused():
    error = error_of(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert "looks binary" in error.message


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        ("abc,0,2", "valor", "expected a finite number, got “abc”"),
        ("nan,0,2", "valor", "expected a finite number, got “nan”"),
        ("inf,0,2", "valor", "expected a finite number, got “inf”"),
        ("1e999,0,2", "valor", "expected a finite number, got “1e999”"),
        (",0,2", "valor", "the cell is empty, expected a number"),
        ("1,2,2", "decisao", "expected 0 (rollout) or 1 (rollback), got “2”"),
        ("1,yes,2", "decisao", "expected 0 (rollout) or 1 (rollback), got “yes”"),
        ("1,0,-1", "tempo", "time must be 0 or more minutes, got “-1”"),
        ("1,0,infinity", "tempo", "expected a finite number, got “infinity”"),
    ],
)
def test_bad_cell_is_reported_with_line_column_and_reason(row, column, reason):
    error = error_of(f"valor,decisao,tempo\n1,0,2\n{row}\n")
    assert error.total_errors == 1
    assert (error.row_errors[0].line, error.row_errors[0].column, error.row_errors[0].reason) == (3, column, reason)
    assert str(error.row_errors[0]) == f"Line 3, column “{column}”: {reason}"


def test_one_bad_row_fails_the_whole_file():
    rows = "\n".join(f"{i},0,1" for i in range(1000))
    error = error_of(f"valor,decisao,tempo\n{rows}\n5,9,1\n")
    assert error.message == "Nothing was imported: the file has 1 error."
    assert error.row_errors[0].line == 1002


def test_many_errors_are_counted_but_only_the_first_are_listed():
    rows = "\n".join("x,0,1" for _ in range(150))
    error = error_of(f"valor,decisao,tempo\n{rows}\n")
    assert error.total_errors == 150
    assert len(error.row_errors) == MAX_REPORTED_ERRORS
    assert [e.line for e in error.row_errors[:3]] == [2, 3, 4]
    assert error.message == "Nothing was imported: the file has 150 errors."


def test_every_bad_cell_of_a_row_counts():
    error = error_of("valor,decisao,tempo\nx,7,-1\n")
    assert error.total_errors == 3
    assert [e.column for e in error.row_errors] == ["valor", "decisao", "tempo"]


def test_export_starts_with_the_original_header_and_neutralises_formulas():
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    lines = list(write_indicator_csv([(500.0, 1, 10.0, "=HYPERLINK()", when), (-1.25, 0, 0.5, "ana", when)]))
    assert lines[0] == "valor,decisao,tempo,usuario,registrado_em\r\n"
    assert lines[1] == "500,1,10,'=HYPERLINK(),2026-01-02T03:04:05+00:00\r\n"
    # A negative number is a number, not a formula: it stays as it is.
    assert lines[2] == "-1.25,0,0.5,ana,2026-01-02T03:04:05+00:00\r\n"


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_formula_prefixes_are_neutralised(text):
    assert neutralise_formula(text) == "'" + text


def test_plain_text_is_left_alone():
    assert neutralise_formula("maria.silva") == "maria.silva"


def test_exported_file_parses_back_to_the_same_numbers():
    when = datetime(2026, 1, 2, tzinfo=timezone.utc)
    rows = [(0.1 + 0.2, 1, 1e-7, "a", when), (123456789.123, 0, 59.999, "b", when), (1e20, 1, 3.0, "c", when)]
    parsed = parse_indicator_csv("".join(write_indicator_csv(rows)).encode())
    assert rows_of(parsed) == [(value, decision, minutes) for value, decision, minutes, _, _ in rows]


def test_old_mac_line_ends_are_read_and_line_numbers_stay_right():
    error = error_of(b"valor,decisao,tempo\r1,0,2\r\r3,x,4\r")
    assert (error.row_errors[0].line, error.row_errors[0].column) == (4, "decisao")


def test_line_numbers_count_blank_lines_and_lines_before_the_header():
    error = error_of("\n\nvalor,decisao,tempo\n1,0,2\n\nbad,0,2\n")
    assert error.row_errors[0].line == 6


@pytest.mark.parametrize("cell", ["1e300", "-4e38"])
def test_numbers_too_large_to_learn_from_are_refused(cell):
    error = error_of(f"valor,decisao,tempo\n{cell},0,2\n")
    assert error.row_errors[0].column == "valor"
    assert error.row_errors[0].reason == f"the number “{cell}” is too large (at most 3.4e+38)"


def test_largest_learnable_number_is_accepted():
    assert rows_of(parse("valor,decisao,tempo\n3.4e38,0,3.4e38\n")) == [(3.4e38, 0, 3.4e38)]


@pytest.mark.parametrize("cell", ["1_000", "١٢"])
def test_python_only_number_spellings_are_refused(cell):
    error = error_of(f"valor,decisao,tempo\n{cell},0,2\n")
    assert error.row_errors[0].reason == f"expected a finite number, got “{cell}”"


def test_a_quoted_line_break_in_a_number_is_an_error_not_a_different_number():
    error = error_of('valor,decisao,tempo\n"1\n2",0,1\n5,1,1\n')
    assert error.total_errors == 1
    assert (error.row_errors[0].line, error.row_errors[0].column) == (2, "valor")


def test_line_numbers_after_a_quoted_line_break_stay_right():
    error = error_of('valor,decisao,tempo\n"1\n2",0,1\nx,1,1\n')
    assert [e.line for e in error.row_errors] == [2, 4]


def test_a_cell_beyond_the_csv_size_limit_is_a_row_error_not_a_crash():
    # Quoted, over many short lines: no line is too long, the cell is.
    error = error_of('valor,decisao,tempo\n1,0,1\n"' + ("9" * 99 + "\n") * 2_000 + '",0,1\n')
    assert error.total_errors == 1
    assert error.row_errors[0].line == 3
    assert error.row_errors[0].reason.startswith("the line cannot be read")


def test_a_quote_left_open_is_reported():
    error = error_of('valor,decisao,tempo\n1,0,1\n"2,0,1\n')
    assert error.total_errors >= 1
    assert error.row_errors[0].line == 3
