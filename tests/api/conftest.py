"""Fixtures the API's release tests share (a module may define its own of the same name):
a gate over three trained metrics of the owner."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from metrics.models import Metric
from tests.api.test_gates import bearer, make_gate, trained


@pytest.fixture
def checkout(owner: User) -> dict[str, Metric]:
    """Three trained metrics of the owner: error rate, p95 latency and cpu."""
    return {name: trained(owner, name) for name in ("error rate", "p95 latency", "cpu")}


@pytest.fixture
def gate(client: Client, owner: User, checkout: dict[str, Metric]) -> dict:
    """A gate over `checkout`, made through the API, as its JSON."""
    return make_gate(client, bearer(owner), checkout)
