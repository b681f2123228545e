"""A metrics token (made for Prometheus' scrape of /metrics) is refused by every path of the API,
whatever the method, and changes nothing: a token kept in a Prometheus configuration is no
pipeline's token."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, reverse

from accounts.models import ApiToken, TokenScope
from api import urls as api_urls
from metrics.models import Gate, Release
from tests.api.test_gates import trained
from tests.data import database_state
from tests.refusals import changes_nothing

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# What each kind of path parameter is given: objects that exist, so that only the scope refuses.
EXAMPLE_KEY = "checkout/web@a1b2c3"
# The API's description and its docs page answer anyone, with a token or not.
PUBLIC = {"schema", "docs"}


def api_paths() -> list[tuple[str, str]]:
    """Every named path of the API but the catch-all 404, as (name, path)."""
    found = []
    for pattern in api_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        if pattern.name in {None, "not_found", *PUBLIC}:
            continue
        found.append((str(pattern.name), str(pattern.pattern)))
    return found


@pytest.fixture
def objects(owner: User) -> dict[str, object]:
    """An object of each kind the paths name, all the owner's."""
    metric = trained(owner, "Error rate")
    gate = Gate.objects.create(name="Checkout", owner=owner, pass_score=80, marginal_score=50)
    release = Release.objects.create(gate=gate, name="checkout-web", key=EXAMPLE_KEY, created_by=owner)
    verdict = metric.predict(900, 5, owner)
    version = metric.answering_model()
    assert version is not None
    return {
        "metric_id": metric.pk,
        "gate_id": gate.pk,
        "release_id": release.pk,
        "verdict_id": verdict.pk,
        "version_id": version.pk,
        "key": EXAMPLE_KEY,
        "import_id": 1,
        "job_id": 1,
        "source_id": 1,
        "replay_id": 1,
    }


def path_of(name: str, route: str, objects: dict[str, object]) -> str:
    kwargs = {parameter: objects[parameter] for parameter in objects if f":{parameter}>" in route}
    return reverse(f"api:{name}", kwargs=kwargs)


def test_every_path_of_the_api_refuses_a_metrics_token_whatever_the_method(
    client: Client, owner: User, objects: dict[str, object]
) -> None:
    _token, secret = ApiToken.objects.issue(owner, "Prometheus", TokenScope.METRICS)
    # Flagger cannot send headers: its token is in the body.
    body = {"metadata": {"token": secret, "hook": "rollout"}, "name": "x", "namespace": "y"}
    paths = api_paths()
    assert len(paths) > 30  # every resource's, not an empty sweep

    with changes_nothing(database_state):
        for name, route in paths:
            path = path_of(name, route, objects)
            for method in METHODS:
                response = client.generic(
                    method,
                    path,
                    data=json.dumps(body),
                    content_type="application/json",
                    headers={"Authorization": f"Bearer {secret}"},
                )
                if name == "flagger" and method != "POST":
                    assert response.status_code == 405, (path, method)  # Flagger only posts
                    continue
                assert response.status_code == 403, (path, method, response.content)
                assert response.json()["code"] == "metrics_token", (path, method)


def test_the_api_s_description_is_public_token_or_not(client: Client, db: None) -> None:
    for name in PUBLIC:
        assert client.get(reverse(f"api:{name}")).status_code == 200


def test_the_same_account_s_read_token_reads_what_its_metrics_token_may_not(client: Client, owner: User) -> None:
    _token, scrape = ApiToken.objects.issue(owner, "Prometheus", TokenScope.METRICS)
    _token, read = ApiToken.objects.issue(owner, "pipeline", TokenScope.READ)

    refused = client.get(reverse("api:metrics"), headers={"Authorization": f"Bearer {scrape}"})
    allowed = client.get(reverse("api:metrics"), headers={"Authorization": f"Bearer {read}"})

    assert (refused.status_code, allowed.status_code) == (403, 200)
    assert "only lets Prometheus read /metrics" in refused.json()["detail"]
