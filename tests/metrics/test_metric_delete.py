from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from metrics.models import Indicator, Metric, TrainedModel
from tests.factories import IndicatorFactory, MetricFactory, TrainedModelFactory
from tests.refusals import changes_nothing


def delete_url(metric_id: int) -> str:
    return reverse("metrics:delete", args=[metric_id])


@pytest.fixture
def neighbour(stranger: User) -> Metric:
    """Another metric, whose data must survive the deletion of the first."""
    metric = MetricFactory.create(name="Error rate", owner=stranger)
    IndicatorFactory.create(metric=metric)
    return metric


def test_owner_sees_a_confirmation_page_with_what_will_be_deleted(
    client: Client, owner: User, trained_metric: Metric
) -> None:
    client.force_login(owner)
    with changes_nothing():
        response = client.get(delete_url(trained_metric.pk))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Delete the metric “Requests per minute”?" in html
    assert "Its 200 indicators will be deleted." in html
    assert "Its 1 trained model will be deleted." in html
    assert "This cannot be undone." in html
    assert f'action="{delete_url(trained_metric.pk)}"' in html


def test_owner_deletes_the_metric_with_its_indicators_and_models(
    client: Client, owner: User, trained_metric: Metric, neighbour: Metric
) -> None:
    client.force_login(owner)
    kept_indicators = list(Indicator.objects.filter(metric=neighbour).values_list("pk", flat=True))

    response = client.post(delete_url(trained_metric.pk))

    assert response.status_code == 302
    assert response["Location"] == reverse("metrics:list")
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Metric “Requests per minute” and all its data were deleted."
    ]
    assert list(Metric.objects.values_list("pk", flat=True)) == [neighbour.pk]
    assert list(Indicator.objects.values_list("pk", flat=True)) == kept_indicators
    assert not TrainedModel.objects.exists()


def test_stranger_cannot_see_the_delete_confirmation(client: Client, stranger: User, trained_metric: Metric) -> None:
    client.force_login(stranger)
    with changes_nothing():
        response = client.get(delete_url(trained_metric.pk))

    assert response.status_code == 403
    assert "Yes, delete it" not in response.content.decode()


@pytest.mark.parametrize("role", ["stranger", "contributor"])
def test_no_one_but_the_owner_may_delete_the_metric_and_nothing_changes(
    client: Client, contributed_metric: Metric, role: str, request: pytest.FixtureRequest
) -> None:
    # Not even a contributor who added indicators to it.
    TrainedModelFactory.create(metric=contributed_metric)
    client.force_login(request.getfixturevalue(role))
    with changes_nothing():
        response = client.post(delete_url(contributed_metric.pk))

    assert response.status_code == 403
    assert "Only the metric&#x27;s owner may delete it." in response.content.decode()


@pytest.mark.parametrize("method", ["get", "post"])
def test_deleting_a_missing_metric_is_404_and_nothing_changes(
    client: Client, owner: User, metric: Metric, method: str
) -> None:
    client.force_login(owner)
    with changes_nothing():
        response = getattr(client, method)(delete_url(999_999))

    assert response.status_code == 404


def test_deleting_a_metric_by_put_is_not_allowed(client: Client, owner: User, trained_metric: Metric) -> None:
    client.force_login(owner)
    with changes_nothing():
        response = client.put(delete_url(trained_metric.pk))

    assert response.status_code == 405


def test_cross_site_post_without_csrf_token_cannot_delete(owner: User, trained_metric: Metric) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    with changes_nothing():
        response = client.post(delete_url(trained_metric.pk))

    assert response.status_code == 403
