from __future__ import annotations

import csv
import io
import re
from datetime import datetime

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken, TokenScope
from metrics.models import Indicator, Metric
from tests.data import rule_data
from tests.factories import IndicatorFactory, MetricFactory


def download(client: Client, metric: Metric):
    return client.get(reverse("metrics:download", args=[metric.pk]))


def body_of(response) -> str:
    return b"".join(response.streaming_content).decode("utf-8")


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body_of(response))))


def attachment_filename(response) -> str:
    disposition = response["Content-Disposition"]
    match = re.fullmatch(r'attachment; filename="([^"]*)"', disposition)
    assert match is not None, disposition
    return match.group(1)


def test_download_streams_a_csv_with_the_header_first(client: Client, owner: User, metric: Metric) -> None:
    IndicatorFactory.create(metric=metric, value=500, decision=0, time=10)
    client.force_login(owner)

    response = download(client, metric)

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    body = body_of(response)
    assert body.startswith("valor,decisao,tempo,usuario,registrado_em\r\n")


def test_download_lists_rows_in_insertion_order_with_author_and_time(
    client: Client, owner: User, contributor: User, metric: Metric
) -> None:
    first = IndicatorFactory.create(metric=metric, value=900, decision=0, time=30, created_by=contributor)
    IndicatorFactory.create(metric=metric, value=612.5, decision=1, time=0.25, created_by=owner)
    IndicatorFactory.create(metric=metric, value=100, decision=0, time=5, created_by=owner)
    IndicatorFactory.create(metric=MetricFactory.create(owner=owner), value=7, decision=1, time=7)
    client.force_login(owner)

    rows = csv_rows(download(client, metric))

    assert rows[0] == ["valor", "decisao", "tempo", "usuario", "registrado_em"]
    assert [row[:4] for row in rows[1:]] == [
        ["900", "0", "30", "contributor"],
        ["612.5", "1", "0.25", "owner"],
        ["100", "0", "5", "owner"],
    ]
    assert datetime.fromisoformat(rows[1][4]) == first.created_at.replace(microsecond=0)


def test_any_logged_in_user_may_download_any_metric(client: Client, stranger: User, metric: Metric) -> None:
    IndicatorFactory.create(metric=metric, value=500)
    client.force_login(stranger)

    response = download(client, metric)

    assert response.status_code == 200
    assert len(csv_rows(response)) == 2


def test_download_of_a_metric_without_indicators_is_just_the_header(
    client: Client, owner: User, metric: Metric
) -> None:
    client.force_login(owner)

    assert body_of(download(client, metric)) == "valor,decisao,tempo,usuario,registrado_em\r\n"


def test_download_of_a_missing_metric_is_404(client: Client, owner: User) -> None:
    client.force_login(owner)

    assert client.get(reverse("metrics:download", args=[999_999])).status_code == 404


@pytest.mark.parametrize("username", ["=cmd", "@evil", "+x", "-x", "=HYPERLINK(1)"])
def test_download_neutralises_usernames_a_spreadsheet_would_run_as_formulas(
    client: Client, owner: User, metric: Metric, username: str
) -> None:
    author = User.objects.create(username=username)
    IndicatorFactory.create(metric=metric, value=-12.5, decision=1, time=3, created_by=author)
    client.force_login(owner)

    rows = csv_rows(download(client, metric))

    assert rows[1][:4] == ["-12.5", "1", "3", "'" + username]


def test_download_keeps_negative_numbers_as_numbers(client: Client, owner: User, metric: Metric) -> None:
    IndicatorFactory.create(metric=metric, value=-3, decision=0, time=0)
    IndicatorFactory.create(metric=metric, value=-0.001, decision=1, time=2)
    client.force_login(owner)

    rows = csv_rows(download(client, metric))

    assert [row[0] for row in rows[1:]] == ["-3", "-0.001"]


def test_download_of_an_indicator_whose_author_was_deleted_leaves_the_user_blank(
    client: Client, owner: User, contributor: User, metric: Metric
) -> None:
    IndicatorFactory.create(metric=metric, value=1, created_by=contributor)
    contributor.delete()
    client.force_login(owner)

    rows = csv_rows(download(client, metric))

    assert rows[1][:4] == ["1", "0", "10", ""]


@pytest.mark.parametrize(
    "name",
    ['../../etc/passwd "quoted";', "a/b\\c", "\r\nSet-Cookie: x=1", "///", "Requisições por minuto"],
)
def test_download_file_name_is_safe_whatever_the_metric_name(client: Client, owner: User, name: str) -> None:
    metric = MetricFactory.create(name=name, owner=owner)
    client.force_login(owner)

    response = download(client, metric)

    filename = attachment_filename(response)
    assert filename.endswith(".csv")
    for unsafe in ("/", "\\", '"', ";", "\r", "\n", ".."):
        assert unsafe not in filename
    assert str(metric.pk) in filename


def test_download_file_name_says_which_metric(client: Client, owner: User, metric: Metric) -> None:
    client.force_login(owner)

    assert attachment_filename(download(client, metric)) == f"requests-per-minute-{metric.pk}-indicators.csv"


def test_the_apis_download_has_the_pages_file_name(client: Client, owner: User, metric: Metric) -> None:
    _token, secret = ApiToken.objects.issue(owner, "export", TokenScope.READ)
    client.force_login(owner)

    api = client.get(reverse("api:indicators_csv", args=[metric.pk]), headers={"Authorization": f"Bearer {secret}"})

    assert attachment_filename(api) == attachment_filename(download(client, metric)) == metric.export_file_name()


def test_downloaded_csv_uploads_back_into_another_metric_with_the_same_rows(
    client: Client, owner: User, contributor: User, metric: Metric
) -> None:
    # Awkward numbers too: the shortest text must read back as the very same float.
    metric.import_indicators(rule_data(150, noise=0.1), owner)
    for value, time in [(0.1 + 0.2, 1 / 3), (-1e-7, 0.0), (1e20, 123456.789), (-987654321.125, 2.5e-5)]:
        IndicatorFactory.create(metric=metric, value=value, decision=1, time=time, created_by=contributor)
    IndicatorFactory.create(metric=metric, value=5, decision=0, time=1, created_by=User.objects.create(username="=cmd"))
    copy = MetricFactory.create(name="Copy", owner=contributor)
    client.force_login(contributor)

    downloaded = b"".join(download(client, metric).streaming_content)
    response = client.post(
        reverse("metrics:upload"),
        {
            "metric": copy.pk,
            "delimiter": "detect",
            "file": SimpleUploadedFile("downloaded.csv", downloaded, content_type="text/csv"),
        },
    )

    assert response.status_code == 302

    def rows_of(target: Metric) -> list[tuple[float, int, float]]:
        return list(Indicator.objects.filter(metric=target).order_by("pk").values_list("value", "decision", "time"))

    assert len(rows_of(metric)) == 155
    assert rows_of(copy) == rows_of(metric)
    assert set(Indicator.objects.filter(metric=copy).values_list("created_by", flat=True)) == {contributor.pk}
