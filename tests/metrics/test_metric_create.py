from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from metrics.models import Metric
from tests.pages import messages_of

CREATE_URL = reverse("metrics:create")


def test_create_page_asks_for_name_and_category(client: Client, owner: User) -> None:
    client.force_login(owner)

    response = client.get(CREATE_URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="name"' in html
    assert 'name="category"' in html


def test_create_metric_belongs_to_the_user_and_opens_its_page(client: Client, owner: User) -> None:
    client.force_login(owner)

    response = client.post(CREATE_URL, {"name": "Requests per minute", "category": "Comunicação"})

    metric = Metric.objects.get()
    assert metric.owner == owner
    assert (metric.name, metric.category) == ("Requests per minute", "Comunicação")
    assert response.status_code == 302
    assert response["Location"] == reverse("metrics:detail", args=[metric.pk])
    assert messages_of(response) == ["Metric “Requests per minute” created. Now add some data to it."]


def test_created_metric_page_shows_the_flash_message(client: Client, owner: User) -> None:
    client.force_login(owner)

    response = client.post(CREATE_URL, {"name": "Error rate", "category": "Reliability"}, follow=True)

    html = response.content.decode()
    assert "Metric “Error rate” created. Now add some data to it." in html
    assert '<h1 class="h3 mb-1">Error rate</h1>' in html


def test_create_strips_surrounding_spaces(client: Client, owner: User) -> None:
    client.force_login(owner)

    client.post(CREATE_URL, {"name": "  Error rate ", "category": " Reliability  "})

    assert Metric.objects.values_list("name", "category").get() == ("Error rate", "Reliability")


@pytest.mark.parametrize(
    "data",
    [{"name": "   ", "category": "Traffic"}, {"name": "Error rate", "category": ""}],
    ids=["empty-name", "empty-category"],
)
def test_create_with_an_empty_field_is_refused_and_creates_nothing(
    client: Client, owner: User, data: dict[str, str]
) -> None:
    client.force_login(owner)

    response = client.post(CREATE_URL, data)

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not Metric.objects.exists()


def test_create_duplicate_name_and_category_ignoring_case_is_refused_and_creates_nothing(
    client: Client, owner: User, stranger: User, metric: Metric
) -> None:
    client.force_login(stranger)

    response = client.post(CREATE_URL, {"name": "REQUESTS PER MINUTE", "category": "traffic"})

    assert response.status_code == 200
    assert "A metric named “REQUESTS PER MINUTE” already exists in the category “traffic”." in response.content.decode()
    assert list(Metric.objects.values_list("pk", "name", "category", "owner_id")) == [
        (metric.pk, "Requests per minute", "Traffic", owner.pk)
    ]


def test_a_metric_made_by_another_request_since_the_check_is_refused_on_the_form(
    client: Client, stranger: User, metric: Metric, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The race: another request stores the same metric between the form's check and the insert.
    monkeypatch.setattr(Metric, "validate_constraints", lambda self, exclude=None: None)
    monkeypatch.setattr(Metric, "validate_unique", lambda self, exclude=None: None)
    monkeypatch.setattr(Metric, "clean", lambda self: None)
    client.force_login(stranger)

    response = client.post(CREATE_URL, {"name": "Requests per minute", "category": "Traffic"})

    assert response.status_code == 200
    assert "A metric named “Requests per minute” already exists in the category “Traffic”." in response.content.decode()
    assert list(Metric.objects.values_list("pk", flat=True)) == [metric.pk]


def test_create_same_name_in_another_category_is_allowed(client: Client, owner: User, metric: Metric) -> None:
    client.force_login(owner)

    response = client.post(CREATE_URL, {"name": "Requests per minute", "category": "Batch jobs"})

    assert response.status_code == 302
    assert Metric.objects.filter(name="Requests per minute").count() == 2


def test_create_duplicate_with_accented_capitals_is_refused_and_creates_nothing(
    client: Client, owner: User, stranger: User
) -> None:
    client.force_login(owner)
    client.post(CREATE_URL, {"name": "Taxa de conversão", "category": "Comunicação"})
    client.force_login(stranger)

    response = client.post(CREATE_URL, {"name": "TAXA DE CONVERSÃO", "category": "COMUNICAÇÃO"})

    assert response.status_code == 200
    assert "already exists in the category" in response.content.decode()
    assert list(Metric.objects.values_list("name", "category", "owner_id")) == [
        ("Taxa de conversão", "Comunicação", owner.pk)
    ]


def test_metric_name_with_markup_is_shown_as_text_everywhere(client: Client, owner: User) -> None:
    client.force_login(owner)
    name = '<script>alert("x")</script>'

    created = client.post(CREATE_URL, {"name": name, "category": "<b>bold</b>"}, follow=True)

    metric = Metric.objects.get()
    pages = [
        created,
        client.get(reverse("metrics:list")),
        client.get(reverse("metrics:delete", args=[metric.pk])),
        client.get(reverse("metrics:predict"), {"metric": metric.pk, "value": 1, "minutes": 1}),
    ]
    for page in pages:
        html = page.content.decode()
        assert name not in html, page.wsgi_request.path
        assert "<b>bold</b>" not in html, page.wsgi_request.path
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html, page.wsgi_request.path


def test_a_name_that_grows_when_case_folded_is_stored_and_still_compared(client: Client, owner: User) -> None:
    client.force_login(owner)
    longest = "a" * 119 + "ß"  # 120 characters; compared as "a…ass", 121

    created = client.post(CREATE_URL, {"name": longest, "category": "İstanbul"})
    again = client.post(CREATE_URL, {"name": "A" * 119 + "ẞ", "category": "i̇stanbul"})  # capital sharp s

    assert created.status_code == 302
    assert again.status_code == 200
    assert "already exists" in again.content.decode()
    assert list(Metric.objects.values_list("name", "category")) == [(longest, "İstanbul")]
