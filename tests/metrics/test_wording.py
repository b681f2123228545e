"""Text a job stores as message ids and values is worded again in each reader's language."""

from __future__ import annotations

import json

import pytest
from django.utils import translation

from metrics import csv_io
from metrics.wording import as_stored, word_again


def refusal_of(data: bytes, delimiter: str = "detect") -> csv_io.CsvFormatError:
    with pytest.raises(csv_io.CsvFormatError) as refused:
        csv_io.parse_indicator_csv(data, delimiter)
    return refused.value


def test_a_refusal_worded_in_english_is_worded_again_in_portuguese_with_its_nested_words() -> None:
    error = refusal_of(b"valor;decisao;tempo\n1;0;2\n", delimiter="comma")
    stored = json.loads(json.dumps(as_stored(error.message)))  # as a JSON field keeps it

    with translation.override("pt-br"):
        again = word_again(stored, error.message)

    assert error.message.startswith("Wrong delimiter: the header is not separated by comma (,)")
    assert again.startswith("Delimitador errado")
    assert "vírgula (,)" in again
    assert "ponto e vírgula (;)" in again


def test_row_reasons_with_plurals_and_numbers_are_worded_again() -> None:
    error = refusal_of(b"valor,decisao,tempo\n1,0\n5,1,1e400\n")
    stored = [json.loads(json.dumps(as_stored(row.reason))) for row in error.row_errors]

    with translation.override("pt-br"):
        again = [word_again(data, row.reason) for data, row in zip(stored, error.row_errors, strict=True)]

    assert [row.reason for row in error.row_errors] == [
        "expected 3 fields, found 2",
        "expected a finite number, got “1e400”",
    ]
    assert all(portuguese != english.reason for portuguese, english in zip(again, error.row_errors, strict=True))
    assert "2" in again[0]
    assert "1e400" in again[1]


def test_grouped_numbers_are_grouped_again_in_the_readers_language_not_kept_as_the_senders() -> None:
    # A file refused in English says 10,000 bytes; a Portuguese reader must read 10.000, not
    # "10,000" (ten, in Portuguese), and the other way round.
    long_line = b"valor" * 3_000
    with translation.override("en"):
        english = refusal_of(long_line)
    with translation.override("pt-br"):
        portuguese = refusal_of(long_line)

    with translation.override("pt-br"):
        english_read_in_portuguese = word_again(json.loads(json.dumps(as_stored(english.message))), "")
    with translation.override("en"):
        portuguese_read_in_english = word_again(json.loads(json.dumps(as_stored(portuguese.message))), "")

    assert "10,000 bytes" in english.message
    assert "10.000 bytes" in english_read_in_portuguese
    assert "10,000 bytes" in portuguese_read_in_english


def test_text_stored_without_its_ids_is_shown_as_it_was() -> None:
    assert word_again(None, "Nothing was imported: the file has 1 error.") == (
        "Nothing was imported: the file has 1 error."
    )


def test_ids_that_no_longer_fit_the_catalogue_fall_back_to_the_stored_text() -> None:
    stored = {"msgid": "Line %(line)s", "plural": "", "count": None, "values": {"other": 3}}

    assert word_again(stored, "Line 3") == "Line 3"
