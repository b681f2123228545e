from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.db import models
from django.test import Client
from django.urls import reverse

from metrics.models import Indicator, Metric
from metrics.models import TrainedModel

MODELS: list[type[models.Model]] = [Metric, Indicator, TrainedModel, User]


def admin_url(model: type[models.Model], view: str, *args: object) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def superuser(db: None) -> User:
    return User.objects.create_superuser("admin", "admin@example.com", "not-used-here")


@pytest.fixture
def one_of_each(trained_metric: Metric) -> dict[type[models.Model], models.Model]:
    # The newest indicator, so that it is on the changelist's first page.
    newest_indicator = trained_metric.indicators.order_by("-pk").first()
    assert newest_indicator is not None
    return {
        Metric: trained_metric,
        Indicator: newest_indicator,
        TrainedModel: trained_metric.trained_models.get(),
        User: trained_metric.owner,
    }


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_model_is_registered_in_the_admin(model: type[models.Model]) -> None:
    assert admin.site.is_registered(model)


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_changelist_loads_for_a_superuser(client: Client, superuser: User, one_of_each, model) -> None:
    client.force_login(superuser)

    response = client.get(admin_url(model, "changelist"))

    assert response.status_code == 200
    assert f'href="{admin_url(model, "change", one_of_each[model].pk)}"' in response.content.decode()


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_change_page_loads_for_a_superuser(client: Client, superuser: User, one_of_each, model) -> None:
    client.force_login(superuser)

    response = client.get(admin_url(model, "change", one_of_each[model].pk))

    assert response.status_code == 200


@pytest.mark.parametrize("model", [Metric, Indicator], ids=lambda model: model.__name__)
def test_admin_search_works(client: Client, superuser: User, one_of_each, model) -> None:
    client.force_login(superuser)

    response = client.get(admin_url(model, "changelist"), {"q": "Requests"})

    assert response.status_code == 200


def test_trained_model_admin_never_shows_the_pickled_bytes(client: Client, superuser: User, one_of_each) -> None:
    client.force_login(superuser)

    response = client.get(admin_url(TrainedModel, "change", one_of_each[TrainedModel].pk))

    assert 'name="artifact"' not in response.content.decode()


def test_a_normal_user_is_kept_out_of_the_admin(client: Client, owner: User) -> None:
    client.force_login(owner)

    response = client.get(admin_url(Metric, "changelist"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_admin_refuses_a_duplicate_metric_with_a_message_and_creates_nothing(
    client: Client, superuser: User, metric: Metric
) -> None:
    client.force_login(superuser)

    response = client.post(
        admin_url(Metric, "add"),
        {
            "name": "REQUESTS PER MINUTE",
            "category": "traffic",
            "owner": metric.owner.pk,
            "created_at_0": "2026-01-01",
            "created_at_1": "00:00:00",
        },
    )

    assert response.status_code == 200
    assert "A metric named “REQUESTS PER MINUTE” already exists in the category “traffic”." in response.content.decode()
    assert Metric.objects.count() == 1
