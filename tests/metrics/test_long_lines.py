"""A file with a line far longer than a line of indicators is refused as soon as the line is
seen (a 50 MB file that is one header line cost a worker 46 s before), on the upload page, by
the API and by the command line, with a message that names the line and the limit."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.models import ApiToken, TokenScope
from metrics.csv_io import MAX_LINE_BYTES, CsvFormatError, parse_indicator_csv
from metrics.models import ImportBatch, Indicator, Job, Metric

ONE_HEADER_LINE = b"valor,decisao,tempo" + b",x" * (25 * 1024 * 1024)  # 50 MB, no line break
A_LONG_SECOND_LINE = b"valor,decisao,tempo\n" + b"5" * (5 * 1024 * 1024)


def refusal(data: bytes) -> str:
    with pytest.raises(CsvFormatError) as caught:
        parse_indicator_csv(data)
    assert caught.value.row_errors == []
    return caught.value.message


def line_too_long(line: int) -> str:
    return (
        f"Nothing was imported: line {line} is longer than 10,000 bytes, far longer than a line of indicators "
        "(a value, a decision and a time). Check that this is the right file, saved as CSV."
    )


def test_a_50_mb_file_that_is_one_header_line_is_refused_naming_the_line_and_the_limit() -> None:
    assert refusal(ONE_HEADER_LINE) == line_too_long(1)


@pytest.mark.parametrize("line_end", [b"\n", b"\r\n", b"\r"])
def test_the_first_long_line_is_named_whatever_the_line_ends(line_end: bytes) -> None:
    data = line_end.join([b"valor,decisao,tempo", b"500,0,10", b"600,1,20", b"7" * 20_000, b"8" * 30_000])

    assert refusal(data) == line_too_long(4)


def test_a_line_of_exactly_the_limit_is_read_and_one_byte_more_is_refused() -> None:
    padded = b"500,0," + b" " * (MAX_LINE_BYTES - len(b"500,0,10")) + b"10"
    assert len(padded) == MAX_LINE_BYTES

    parsed = parse_indicator_csv(b"valor,decisao,tempo\n" + padded + b"\n600,1,20\n")

    assert list(parsed.values) == [500.0, 600.0]
    assert refusal(b"valor,decisao,tempo\n" + padded + b" \n600,1,20\n") == line_too_long(2)


def test_the_refusal_is_worded_in_portuguese() -> None:
    with translation.override("pt-br"):
        message = refusal(ONE_HEADER_LINE)

    assert message == (
        "Nada foi importado: a linha 1 tem mais de 10.000 bytes, muito mais do que uma linha de indicadores "
        "(um valor, uma decisão e um tempo). Confira se este é o arquivo certo, salvo como CSV."
    )


def test_the_upload_page_refuses_it_at_once_storing_nothing(client: Client, metric: Metric, owner: User) -> None:
    client.force_login(owner)

    response = client.post(
        reverse("metrics:upload"),
        {"metric": metric.pk, "delimiter": "detect", "file": SimpleUploadedFile("big.csv", A_LONG_SECOND_LINE)},
    )

    assert response.status_code == 400
    assert line_too_long(2) in response.content.decode()
    # Refused before it was kept or queued: no worker reads it.
    assert not ImportBatch.objects.exists()
    assert not Job.objects.exists()
    assert not Indicator.objects.exists()


def test_the_api_refuses_it_at_once_storing_nothing(client: Client, metric: Metric, owner: User) -> None:
    _token, secret = ApiToken.objects.issue(owner, "pipeline", TokenScope.WRITE)

    response = client.post(
        reverse("api:imports", args=[metric.pk]),
        {"file": SimpleUploadedFile("big.csv", A_LONG_SECOND_LINE)},
        headers={"Authorization": f"Bearer {secret}"},
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "file", "code": "line_too_long", "message": line_too_long(2)}]
    assert not ImportBatch.objects.exists()
    assert not Job.objects.exists()


def test_the_import_command_refuses_it_storing_nothing(tmp_path: Path, metric: Metric, owner: User) -> None:
    big = tmp_path / "big.csv"
    big.write_bytes(ONE_HEADER_LINE)

    with pytest.raises(CommandError) as refused:
        call_command("import_indicators", str(metric.pk), str(big), "--user", "owner")

    assert str(refused.value) == line_too_long(1)
    assert not ImportBatch.objects.exists()
    assert not Indicator.objects.exists()
