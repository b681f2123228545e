"""The metric page's history fill: the form its owner sees when the metric is bound to a data
source, the fill it sends (against the real Prometheus of tests/stores/conftest.py), and the
fill in the page's list of files, undoable."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from metrics.models import ImportBatch, Job, JobStatus, Metric
from tests.data import imports_state
from tests.pages import messages_of
from tests.refusals import changes_nothing
from tests.stores.conftest import PrometheusServer, history_value
from tests.stores.test_fill import THREE_RELEASES, bound, moment

FILE = ("started_at,decision\n" + "\n".join(THREE_RELEASES) + "\n").encode()


def fill(client: Client, metric: Metric, data: bytes = FILE, minutes: str = "10", name: str = "releases.csv"):
    file = io.BytesIO(data)
    file.name = name
    return client.post(reverse("metrics:fill", args=[metric.pk]), {"file": file, "minutes": minutes})


def test_the_owner_of_a_bound_metric_is_offered_the_fill_and_no_one_else(
    prometheus: PrometheusServer, client: Client, metric: Metric, owner: User, contributor: User
) -> None:
    unbound = Metric.objects.create(name="Unbound", category="Traffic", owner=owner)
    bound(metric, prometheus.url)
    client.force_login(owner)

    page = client.get(metric.get_absolute_url()).content.decode()

    assert "Fill history from the data source" in page
    assert "read from “Prometheus 0” (one range query per release)" in page
    assert 'name="minutes"' in page
    assert 'value="60"' in page
    assert "Fill history from the data source" not in client.get(unbound.get_absolute_url()).content.decode()
    client.force_login(contributor)
    assert "Fill history from the data source" not in client.get(metric.get_absolute_url()).content.decode()


def test_the_page_says_what_the_window_stands_for_in_a_fill_when_the_query_uses_it(
    prometheus: PrometheusServer, client: Client, metric: Metric, owner: User
) -> None:
    query = bound(metric, prometheus.url)
    client.force_login(owner)
    assert 'data-testid="fill-window-note"' not in client.get(metric.get_absolute_url()).content.decode()
    query.query = 'rate(requests_total{service="checkout"}[{{ window }}m])'
    query.save()

    page = client.get(metric.get_absolute_url()).content.decode()

    assert "In a fill, {{ window }} stands for 1: each minute is read over that minute alone" in page


def test_a_fill_sent_from_the_page_stores_the_releases_and_is_listed_undoable(
    prometheus: PrometheusServer, client: Client, metric: Metric, owner: User
) -> None:
    bound(metric, prometheus.url)
    client.force_login(owner)

    response = fill(client, metric)

    assert response.status_code == 302
    assert response.url == metric.get_absolute_url()
    assert messages_of(response) == ["Filled 30 indicators into “Requests per minute” from its data source."]
    assert metric.indicators.count() == 30
    assert metric.indicators.order_by("pk").values_list("value", "time").first() == (history_value(11), 1.0)
    page = client.get(metric.get_absolute_url()).content.decode()
    assert "History filled from “Prometheus 0”, 10 minutes of each release:" in page
    assert "30 rows, by owner on" in page
    batch = ImportBatch.objects.get()
    assert reverse("metrics:undo_import", args=[batch.pk]) in page

    undone = client.post(reverse("metrics:undo_import", args=[batch.pk]))

    assert messages_of(undone)[-1] == "Undone: the 30 indicators of “releases.csv” were deleted."
    assert not metric.indicators.exists()


def test_others_read_that_a_fill_came_from_a_data_source_without_its_name(
    prometheus: PrometheusServer, client: Client, metric: Metric, owner: User, contributor: User
) -> None:
    bound(metric, prometheus.url)
    client.force_login(owner)
    fill(client, metric)
    client.force_login(contributor)

    page = client.get(metric.get_absolute_url()).content.decode()

    assert "History filled from a data source, 10 minutes of each release:" in page
    assert "Prometheus 0" not in page


def test_a_fill_that_failed_is_shown_on_the_metric_page_with_the_line_at_fault(
    prometheus: PrometheusServer, client: Client, metric: Metric, owner: User
) -> None:
    bound(metric, prometheus.url)
    client.force_login(owner)
    data = f"started_at,decision\n{moment(10)},rollout\n2020-01-01T00:00:00Z,rollback\n".encode()

    response = fill(client, metric, data)

    page = client.get(response.url).content.decode()
    assert "The history fill of “Requests per minute” from “releases.csv” (" in page
    assert "Nothing was stored: 1 release could not be filled." in page
    assert "Line 3: “Prometheus 0” has no value in the 10 minutes after its start." in page
    assert not metric.indicators.exists()


def test_a_stranger_may_not_fill_and_nothing_changes(
    prometheus: PrometheusServer, client: Client, metric: Metric, stranger: User, contributor: User
) -> None:
    bound(metric, prometheus.url)
    for someone in (stranger, contributor):
        client.force_login(someone)
        with changes_nothing(imports_state):
            response = fill(client, metric)
        assert response.status_code == 403
    assert not Job.objects.exists()


def test_the_owner_of_a_metric_not_bound_is_told_to_bind_it_and_nothing_changes(
    client: Client, metric: Metric, owner: User
) -> None:
    client.force_login(owner)

    with changes_nothing(imports_state):
        response = fill(client, metric)

    assert messages_of(response) == [
        "“Requests per minute” is not bound to a data source: bind it to one first, then fill its history from it."
    ]
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("minutes", "error"),
    [
        ("0", "Ensure this value is greater than or equal to 1."),
        ("1441", "Ensure this value is less than or equal to 1440."),
        ("1.000", "Type a whole number, without separators: 1000."),
        ("", "This field is required."),
    ],
)
def test_minutes_out_of_bounds_are_refused_on_the_form_and_nothing_changes(
    prometheus: PrometheusServer, client: Client, metric: Metric, owner: User, minutes: str, error: str
) -> None:
    bound(metric, prometheus.url)
    client.force_login(owner)

    with changes_nothing(imports_state):
        response = fill(client, metric, minutes=minutes)

    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Job.objects.exists()


def test_the_same_file_filled_twice_is_refused_on_the_form(
    prometheus: PrometheusServer, client: Client, metric: Metric, owner: User
) -> None:
    bound(metric, prometheus.url)
    client.force_login(owner)
    fill(client, metric)

    with changes_nothing(imports_state):
        response = fill(client, metric, name="again.csv")

    assert response.status_code == 400
    assert "The history of “Requests per minute” was already filled from these releases and this data source on" in (
        response.content.decode()
    )
    assert Job.objects.filter(status=JobStatus.DONE).count() == 1
