"""A metric deleted while data is sent to it: a clear message for both users, and either
all of the rows or none of them — never a 500, never rows pointing at nothing."""

from __future__ import annotations

import io
import threading
import time
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import reverse

from metrics import csv_io
from metrics.exceptions import MetricDeleted
from metrics.models import Indicator, Metric
from tests.conftest import rule_data
from tests.pages import messages_of

GONE = "The metric “Requests per minute” was deleted while your data was being sent: nothing was stored."


def csv_file() -> io.BytesIO:
    upload = io.BytesIO(b"valor,decisao,tempo\n1,1,20\n2,0,3\n")
    upload.name = "data.csv"
    return upload


def test_an_upload_into_a_metric_deleted_while_the_file_was_read_stores_nothing_and_says_why(
    client: Client, metric: Metric, contributor: User
) -> None:
    parse = csv_io.parse_indicator_csv

    def owner_deletes_meanwhile(data: bytes, delimiter: str, **options):  # the owner presses Delete meanwhile
        Metric.objects.filter(pk=metric.pk).delete()
        return parse(data, delimiter, **options)

    client.force_login(contributor)
    with mock.patch.object(csv_io, "parse_indicator_csv", owner_deletes_meanwhile):
        response = client.post(
            reverse("metrics:upload"), {"metric": metric.pk, "delimiter": "detect", "file": csv_file()}
        )

    assert response.status_code == 302
    assert response["Location"] == reverse("metrics:list")
    assert messages_of(response) == [GONE]
    assert not Indicator.objects.exists()


def test_adding_an_indicator_to_a_metric_deleted_meanwhile_stores_nothing_and_says_why(
    metric: Metric, contributor: User
) -> None:
    Metric.objects.filter(pk=metric.pk).delete()
    with pytest.raises(MetricDeleted, match="was deleted while your data was being sent"):
        metric.add_indicator(value=1, decision=1, time=2, user=contributor)
    assert not Indicator.objects.exists()


def test_importing_into_a_deleted_metric_raises_and_stores_nothing(metric: Metric, contributor: User) -> None:
    Metric.objects.filter(pk=metric.pk).delete()
    with pytest.raises(MetricDeleted):
        metric.import_indicators(rule_data(50), contributor)
    assert not Indicator.objects.exists()


def test_the_owner_deleting_a_metric_already_deleted_is_told_so(client: Client, metric: Metric, owner: User) -> None:
    client.force_login(owner)
    with mock.patch.object(Metric, "_lock", side_effect=MetricDeleted(metric)):
        response = client.post(reverse("metrics:delete", args=[metric.pk]))
    assert response.status_code == 302
    assert messages_of(response) == ["Metric “Requests per minute” had already been deleted."]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks and concurrent sessions: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_delete_waits_for_an_upload_in_progress_then_removes_every_row(owner: User, contributor: User) -> None:
    metric = Metric.objects.create(name="Requests per minute", category="Traffic", owner=owner)
    rows_written = threading.Event()
    insert = Indicator.objects.bulk_insert
    errors: list[BaseException] = []

    def slow_insert(*args, **kwargs):
        count = insert(*args, **kwargs)
        rows_written.set()
        time.sleep(0.5)  # the upload is still running when the owner presses Delete
        return count

    refresh = Metric.refresh_from_db

    def slow_refresh(self, *args, **kwargs):
        time.sleep(0.3)  # gives a delete that did not wait the time to commit
        return refresh(self, *args, **kwargs)

    def upload() -> None:
        try:
            with (
                mock.patch.object(Indicator.objects, "bulk_insert", slow_insert),
                mock.patch.object(Metric, "refresh_from_db", slow_refresh),
            ):
                metric.import_indicators(rule_data(500), contributor)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    def delete() -> None:
        try:
            Metric.objects.get(pk=metric.pk).delete()
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    uploader = threading.Thread(target=upload)
    uploader.start()
    assert rows_written.wait(10)
    deleter = threading.Thread(target=delete)
    deleter.start()
    uploader.join(10)
    deleter.join(10)

    assert errors == []
    assert not Metric.objects.filter(pk=metric.pk).exists()
    assert not Indicator.objects.exists()
