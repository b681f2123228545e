"""A pipeline pushes a release's observation naming the metric as people do (its name), not
only by its database id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from metrics.models import Metric, Observation, Verdict
from tests.api.test_gates import ROLLBACK, ROLLOUT, bearer, checkout, make_gate, start_release, trained
from tests.factories import MetricFactory

__all__ = ["checkout"]  # the fixture, used by name


Observe = Callable[[object, dict], Any]


def observe_named(client: Client, headers: dict, release: dict, metric: object, observation: dict):
    url = reverse("api:release_observations", args=[release["id"]])
    return client.post(url, {"metric": metric, **observation}, content_type="application/json", headers=headers)


@pytest.fixture
def observe(client: Client, owner: User, checkout: dict[str, Metric]) -> Observe:
    """Posts an observation, naming its metric as given, to a new release of the owner's checkout gate."""
    headers = bearer(owner)
    release = start_release(client, headers, make_gate(client, headers, checkout))
    return lambda metric, observation: observe_named(client, headers, release, metric, observation)


def stored() -> list:
    return list(Observation.objects.values_list("metric_id", "verdict__value"))


def test_an_observation_by_the_metrics_name_in_any_case_is_judged_as_by_its_id(
    observe: Observe, checkout: dict[str, Metric]
) -> None:
    by_name = observe("  ERROR Rate ", ROLLBACK)
    by_id = observe(checkout["p95 latency"].pk, ROLLOUT)

    assert (by_name.status_code, by_id.status_code) == (201, 201)
    error_rate = next(item for item in by_id.json()["metrics"] if item["metric_name"] == "error rate")
    assert error_rate["verdict"]["verdict"] == "rollback"
    assert by_id.json()["verdict"] == "rollback"  # the critical metric, named by its name, vetoed
    assert sorted(stored()) == sorted([(checkout["error rate"].pk, 250), (checkout["p95 latency"].pk, 900)])


def test_a_name_two_of_the_gates_metrics_share_is_refused_unless_its_category_is_given(
    client: Client, owner: User, checkout: dict[str, Metric]
) -> None:
    headers = bearer(owner)
    namesake = MetricFactory.create(owner=owner, name="Error rate", category="Search")
    gate_metrics = [
        {"metric": checkout["error rate"].pk, "weight": 2, "critical": True},
        {"metric": namesake.pk, "weight": 1},
    ]
    gate = client.post(
        reverse("api:gates"),
        {"name": "Checkout", "pass_score": 80, "marginal_score": 50, "metrics": gate_metrics},
        content_type="application/json",
        headers=headers,
    )
    release = start_release(client, headers, gate.json())

    ambiguous = observe_named(client, headers, release, "error rate", ROLLOUT)

    assert ambiguous.status_code == 400
    assert ambiguous["Content-Type"] == "application/problem+json"
    (error,) = ambiguous.json()["errors"]
    assert (error["field"], error["code"]) == ("metric", "ambiguous")
    assert f"{namesake.pk}: Error rate/Search" in error["message"]
    assert not stored()
    assert not Verdict.objects.exists()

    chosen = observe_named(client, headers, release, "error rate/Traffic", ROLLOUT)

    assert chosen.status_code == 201
    assert stored() == [(checkout["error rate"].pk, 900)]


@pytest.mark.parametrize("namesake", ["Error rate", "Error rate/Traffic"])
def test_a_strangers_namesake_outside_the_gate_changes_nothing_for_the_owners_pipeline(
    observe: Observe, stranger: User, checkout: dict[str, Metric], namesake: str
) -> None:
    # The catalogue is shared: anyone may add a metric of the same name in another category,
    # or one whose whole name is the owner's "name/category". The owner's pushes must still
    # reach the gate's own metric.
    MetricFactory.create(owner=stranger, name=namesake, category="Other")

    by_name = observe("error rate", ROLLBACK)
    by_name_and_category = observe("error rate/Traffic", ROLLBACK)

    assert (by_name.status_code, by_name_and_category.status_code) == (201, 201)
    assert stored() == [(checkout["error rate"].pk, 250), (checkout["error rate"].pk, 250)]


@pytest.mark.parametrize("name", ["error-rate", "   ", "error rate\u0000", "12"])
def test_a_name_no_metric_has_is_refused_and_nothing_is_stored(observe: Observe, name: str) -> None:
    response = observe(name, ROLLOUT)

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert (error["field"], error["code"]) == ("metric", "unknown_name")
    assert error["message"].startswith("No metric is named")
    assert not stored()
    assert not Verdict.objects.exists()


def test_a_digit_string_is_a_name_not_an_id(observe: Observe, checkout: dict[str, Metric]) -> None:
    response = observe(str(checkout["error rate"].pk), ROLLOUT)

    assert (response.status_code, response.json()["errors"][0]["code"]) == (400, "unknown_name")


def test_a_named_metric_outside_the_gate_is_refused_as_by_id(observe: Observe, owner: User) -> None:
    trained(owner, "queue depth")

    response = observe("Queue depth", ROLLOUT)

    assert (response.status_code, response.json()["errors"][0]["code"]) == (400, "not_in_gate")
    assert not stored()


@pytest.mark.parametrize("metric", [["error rate"], {"name": "error rate"}, True, None, ""])
def test_a_metric_that_is_neither_an_id_nor_a_name_is_a_type_error(observe: Observe, metric: object) -> None:
    response = observe(metric, ROLLOUT)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "metric"
    assert not stored()
