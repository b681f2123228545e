"""Names and categories that look the same are the same metric."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from metrics.models import Metric, normalise_label, search_key
from tests.factories import MetricFactory

CREATE_URL = reverse("metrics:create")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Comunicac\u0327a\u0303o", "Comunicação"),  # accents typed apart (decomposed)
        ("Ｒｅｑｕｅｓｔｓ", "Requests"),  # full-width letters
        ("Requ\u200bests", "Requests"),  # a zero-width space inside
        ("\ufeffRequests\u2060", "Requests"),  # a byte-order mark and a word joiner around
        ("Requests\u00a0per  minute", "Requests per minute"),  # no-break space, double space
    ],
)
def test_labels_are_stored_in_one_normal_form(typed: str, stored: str) -> None:
    assert normalise_label(typed) == stored


def test_the_same_name_typed_two_unicode_ways_is_a_duplicate(client: Client, owner: User) -> None:
    MetricFactory.create(owner=owner, name="Comunicação", category="Tráfego")
    client.force_login(owner)

    response = client.post(CREATE_URL, {"name": "Comunicac\u0327a\u0303o", "category": "TRA\u0301FEGO"})

    assert response.status_code == 200
    assert "A metric named “Comunicação” already exists in the category “TRÁFEGO”." in response.content.decode()
    assert Metric.objects.count() == 1


@pytest.mark.parametrize("name", ["Ｒｅｑｕｅｓｔｓ", "Requ\u200bests", "Requests\u200d"])
def test_names_that_only_look_alike_are_refused_as_duplicates(client: Client, owner: User, name: str) -> None:
    MetricFactory.create(owner=owner, name="Requests", category="Traffic")
    client.force_login(owner)

    response = client.post(CREATE_URL, {"name": name, "category": "Traffic"})

    assert response.status_code == 200
    assert Metric.objects.count() == 1


def test_a_created_metric_is_stored_normalised(client: Client, owner: User) -> None:
    client.force_login(owner)

    client.post(CREATE_URL, {"name": "Ｅｒｒｏｒ\u200b rate", "category": "Reliabi\u00adlity"})

    assert Metric.objects.values_list("name", "category").get() == ("Error rate", "Reliability")


@pytest.mark.parametrize("name", ["\u200b", "\u200b\u200c\u2060", "\ufeff \u00ad"])
def test_a_name_with_no_visible_character_is_refused_and_creates_nothing(
    client: Client, owner: User, name: str
) -> None:
    client.force_login(owner)

    response = client.post(CREATE_URL, {"name": name, "category": "Traffic"})

    assert response.status_code == 200
    assert "Enter a name with at least one visible character." in response.content.decode()
    assert not Metric.objects.exists()


def test_a_category_with_no_visible_character_is_refused(client: Client, owner: User) -> None:
    client.force_login(owner)

    response = client.post(CREATE_URL, {"name": "Error rate", "category": "\u200b"})

    assert "Enter a category with at least one visible character." in response.content.decode()
    assert not Metric.objects.exists()


def test_a_name_that_grows_past_the_limit_once_normalised_is_refused(client: Client, owner: User) -> None:
    # One character that NFKC spells out in 18 letters: the limit applies to what is stored.
    client.force_login(owner)

    response = client.post(CREATE_URL, {"name": "\ufdfa" * 10, "category": "Traffic"})

    assert response.status_code == 200
    assert "Ensure this value has at most 120 characters" in response.content.decode()
    assert not Metric.objects.exists()


def test_search_finds_a_metric_however_its_name_is_typed(owner: User) -> None:
    metric = MetricFactory.create(owner=owner, name="Comunicação", category="Tráfego")
    assert list(Metric.objects.search(name="comunicac\u0327a\u0303o")) == [metric]
    assert list(Metric.objects.search(category="ＴＲÁＦ")) == [metric]
    assert search_key("COMUNICAÇÃO") == search_key("Comunicação")


def test_saving_through_the_orm_normalises_too(owner: User) -> None:
    metric = Metric.objects.create(owner=owner, name="Req\u200buests", category="Ｔraffic")
    assert (metric.name, metric.name_key, metric.category) == ("Requests", "requests", "Traffic")
