from __future__ import annotations

import html as html_lib
import re

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from metrics.models import Metric, TrainedModel
from tests.data import rule_data
from tests.factories import IndicatorFactory, MetricFactory, TrainedModelFactory
from tests.pages import table_rows

LIST_URL = reverse("metrics:list")


def listed_names(response) -> list[str]:
    return [row[0] for row in table_rows(response)]


def make_model(metric: Metric, version: int, accuracy: float) -> TrainedModel:
    """A stored, usable model version (the list shows an unusable one as such, not its accuracy)."""
    return TrainedModelFactory.create(metric=metric, version=version, accuracy=accuracy)


@pytest.fixture
def catalogue(owner: User, stranger: User) -> None:
    MetricFactory.create(name="Requests per minute", category="Traffic", owner=owner)
    MetricFactory.create(name="Error rate", category="Reliability", owner=stranger)
    MetricFactory.create(name="Response time", category="Latency", owner=owner)
    MetricFactory.create(name="Requests in error", category="Reliability", owner=stranger)


def test_list_shows_every_metric_by_name(client: Client, owner: User, catalogue: None) -> None:
    client.force_login(owner)

    response = client.get(LIST_URL)

    assert response.status_code == 200
    assert listed_names(response) == ["Error rate", "Requests in error", "Requests per minute", "Response time"]


def test_list_filters_by_name_contains_ignoring_case(client: Client, owner: User, catalogue: None) -> None:
    client.force_login(owner)

    response = client.get(LIST_URL, {"name": "REQUESTS"})

    assert listed_names(response) == ["Requests in error", "Requests per minute"]


def test_list_filters_by_category_contains_ignoring_case(client: Client, owner: User, catalogue: None) -> None:
    client.force_login(owner)

    response = client.get(LIST_URL, {"category": "reliab"})

    assert listed_names(response) == ["Error rate", "Requests in error"]


def test_list_combines_name_and_category_filters(client: Client, owner: User, catalogue: None) -> None:
    client.force_login(owner)

    response = client.get(LIST_URL, {"name": "error", "category": "RELIABILITY"})

    assert listed_names(response) == ["Error rate", "Requests in error"]
    response = client.get(LIST_URL, {"name": "requests", "category": "reliability"})
    assert listed_names(response) == ["Requests in error"]


def test_list_filters_ignore_the_case_of_accented_letters(client: Client, owner: User) -> None:
    MetricFactory.create(name="Latência", category="Comunicação", owner=owner)
    MetricFactory.create(name="Erros", category="Infra", owner=owner)
    client.force_login(owner)

    assert listed_names(client.get(LIST_URL, {"name": "LATÊNCIA"})) == ["Latência"]
    assert listed_names(client.get(LIST_URL, {"category": "COMUNICAÇÃO"})) == ["Latência"]


def test_list_with_an_over_long_filter_does_not_list_everything(client: Client, owner: User, catalogue: None) -> None:
    client.force_login(owner)

    response = client.get(LIST_URL, {"name": "x" * 121})

    assert table_rows(response) == []


def test_list_with_a_null_character_in_a_filter_lists_nothing_and_says_why(
    client: Client, owner: User, catalogue: None
) -> None:
    client.force_login(owner)

    response = client.get(LIST_URL, {"name": "Requests\x00"})

    assert table_rows(response) == []
    assert "Null characters are not allowed." in response.content.decode()


def test_list_keeps_the_filters_in_the_form(client: Client, owner: User, catalogue: None) -> None:
    client.force_login(owner)

    html = client.get(LIST_URL, {"name": "requests", "category": "traffic"}).content.decode()

    assert 'name="name" value="requests"' in html
    assert 'name="category" value="traffic"' in html


def test_list_with_no_match_says_so(client: Client, owner: User, catalogue: None) -> None:
    client.force_login(owner)

    response = client.get(LIST_URL, {"name": "nothing like this"})

    assert table_rows(response) == []
    assert "No metric matches these filters." in response.content.decode()


def test_list_paginates_and_keeps_the_filters_in_the_page_links(client: Client, owner: User) -> None:
    for number in range(25):
        MetricFactory.create(name=f"Latency {number:02d}", category="Web", owner=owner)
    MetricFactory.create(name="Latency hidden", category="Batch", owner=owner)
    client.force_login(owner)

    first = client.get(LIST_URL, {"name": "latency", "category": "web"})

    html = first.content.decode()
    assert "Page 1 of 2" in html
    assert len(table_rows(first)) == 20
    links = {html_lib.unescape(href) for href in re.findall(r'class="page-link" href="([^"]+)"', html)}
    assert "?name=latency&category=web&page=2" in links

    second = client.get(LIST_URL, {"name": "latency", "category": "web", "page": "2"})

    assert "Page 2 of 2" in second.content.decode()
    assert listed_names(second) == [f"Latency {number:02d}" for number in range(20, 25)]
    links = {
        html_lib.unescape(href) for href in re.findall(r'class="page-link" href="([^"]+)"', second.content.decode())
    }
    assert "?name=latency&category=web&page=1" in links


def test_list_shows_owner_indicator_count_and_latest_model_accuracy(
    client: Client, owner: User, stranger: User
) -> None:
    trained = MetricFactory.create(name="Alpha", category="Traffic", owner=stranger)
    for _ in range(3):
        IndicatorFactory.create(metric=trained)
    make_model(trained, version=1, accuracy=0.5)
    make_model(trained, version=2, accuracy=0.8154)
    MetricFactory.create(name="Beta", category="Traffic", owner=owner)
    client.force_login(owner)

    rows = table_rows(client.get(LIST_URL))

    alpha, beta = rows
    assert alpha[:4] == ["Alpha", "Traffic", "stranger", "3"]
    assert "81.5%" in alpha[4]
    assert "v2" in alpha[4]
    assert "50.0%" not in alpha[4]
    assert beta[:4] == ["Beta", "Traffic", "owner", "0"]
    assert beta[4] == "Not trained"


def test_delete_action_is_shown_only_on_the_users_own_metrics(client: Client, owner: User, stranger: User) -> None:
    mine = MetricFactory.create(name="Mine", owner=owner)
    theirs = MetricFactory.create(name="Theirs", owner=stranger)
    client.force_login(owner)

    html = client.get(LIST_URL).content.decode()

    assert f'href="{reverse("metrics:delete", args=[mine.pk])}"' in html
    assert f'href="{reverse("metrics:delete", args=[theirs.pk])}"' not in html


def test_list_offers_create_bulk_insert_and_train_all(client: Client, owner: User, metric: Metric) -> None:
    metric.import_indicators(rule_data(20), owner)  # new data, enough to train
    client.force_login(owner)

    html = client.get(LIST_URL).content.decode()

    assert "The more information you give the model, the better!" in html
    assert f'action="{reverse("metrics:train_all")}"' in html
    assert f'href="{reverse("metrics:create")}"' in html
    assert f'href="{reverse("metrics:upload")}"' in html


def populate(first: int, last: int) -> None:
    """Metrics numbered first..last-1, each by its own owner, with indicators by other users and two models."""
    for number in range(first, last):
        # Users without a password hash: hashing hundreds of passwords only slows the test.
        metric = MetricFactory.create(name=f"Metric {number:02d}", owner=User.objects.create(username=f"owner{number}"))
        for author in range(2):
            IndicatorFactory.create(metric=metric, created_by=User.objects.create(username=f"author{number}-{author}"))
        make_model(metric, version=1, accuracy=0.6)
        make_model(metric, version=2, accuracy=0.7)


def test_list_runs_the_same_number_of_queries_whatever_the_number_of_metrics(
    client: Client, owner: User, django_assert_num_queries
) -> None:
    client.force_login(owner)
    populate(0, 3)
    with CaptureQueriesContext(connection) as few:
        response = client.get(LIST_URL)
    assert len(table_rows(response)) == 3

    populate(3, 20)

    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(LIST_URL)
    assert len(table_rows(response)) == 20


def test_a_head_request_is_answered_as_a_get_without_its_body(client: Client, owner: User, catalogue: None) -> None:
    """Uptime checks and link checkers ask with HEAD."""
    client.force_login(owner)

    response = client.head(reverse("metrics:list"))

    assert response.status_code == 200
    assert response.content == b""


@pytest.mark.parametrize(
    ("name", "with_metric"),
    [
        ("metrics:create", False),
        ("metrics:upload", False),
        ("metrics:predict", False),
        ("metrics:gate_create", False),
        ("accounts:api_tokens", False),
        ("metrics:settings", True),
        ("metrics:delete", True),
    ],
)
def test_a_page_with_a_form_answers_a_head_request_and_changes_nothing(
    client: Client, owner: User, catalogue: None, name: str, with_metric: bool
) -> None:
    client.force_login(owner)
    metric = Metric.objects.get(name="Requests per minute")
    url = reverse(name, args=[metric.pk] if with_metric else [])

    response = client.head(url)

    assert response.status_code == 200
    assert response.content == b""
    assert Metric.objects.count() == 4
