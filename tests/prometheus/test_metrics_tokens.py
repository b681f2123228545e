"""A metrics token is made on the API tokens page (which says what it is for) or with
`create_token --metrics`, and it scrapes /metrics."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken, TokenScope

TOKENS_URL = reverse("accounts:api_tokens")


def test_the_tokens_page_offers_a_metrics_token_and_says_it_only_reads_metrics(client: Client, owner: User) -> None:
    client.force_login(owner)

    page = client.get(TOKENS_URL).content.decode()
    made = client.post(TOKENS_URL, {"name": "Prometheus", "scope": "metrics", "expires_in": ""})

    assert '<option value="metrics">Prometheus scrape of /metrics only</option>' in page
    assert "only reads Make or Break's own figures at /metrics" in page
    assert "the API refuses it" in page
    token = ApiToken.objects.get()
    assert (token.name, token.scope) == ("Prometheus", TokenScope.METRICS)
    secret = made.context["secret"]
    assert client.get("/metrics", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    listed = client.get(TOKENS_URL).content.decode()
    assert "Prometheus scrape of /metrics only" in listed.split('data-testid="tokens"')[1]


def test_create_token_makes_a_metrics_token_with_metrics(client: Client, owner: User) -> None:
    out = StringIO()
    call_command("create_token", "owner", "Prometheus", "--metrics", stdout=out)

    token = ApiToken.objects.get()
    assert token.scope == TokenScope.METRICS
    assert client.get("/metrics", headers={"Authorization": f"Bearer {out.getvalue().strip()}"}).status_code == 200


def test_create_token_refuses_write_and_metrics_at_once_and_makes_nothing(owner: User) -> None:
    with pytest.raises(CommandError, match="not allowed with argument"):
        call_command("create_token", "owner", "Both", "--write", "--metrics")

    assert not ApiToken.objects.exists()
