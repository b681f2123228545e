"""The API tokens page: a token is shown once, stored hashed, listed, and revoked by its owner only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken, TokenScope, token_digest
from tests.pages import messages_of
from tests.refusals import changes_nothing

TOKENS_URL = reverse("accounts:api_tokens")


def create(client: Client, **fields: str):
    return client.post(TOKENS_URL, {"name": "Deploy gate", "scope": "write", "expires_in": "90", **fields})


def tokens_state() -> list[tuple]:
    return list(ApiToken.objects.order_by("pk").values_list("pk", "user_id", "name", "scope", "revoked_at"))


def test_a_new_token_is_shown_once_and_stored_only_as_a_hash(client: Client, owner: User) -> None:
    client.force_login(owner)

    response = create(client)

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    secret = response.context["secret"]
    assert secret.startswith("mb_")
    assert "Copy it now: it will not be shown again." in response.content.decode()
    token = ApiToken.objects.get()
    assert (token.user, token.name, token.scope) == (owner, "Deploy gate", TokenScope.WRITE)
    assert token.digest == token_digest(secret)
    assert secret not in str(list(ApiToken.objects.values()))
    assert token.expires_at is not None

    again = client.get(TOKENS_URL).content.decode()
    assert secret not in again
    assert "Deploy gate" in again
    assert token.shown in again


def test_a_token_that_never_expires_can_be_made(client: Client, owner: User) -> None:
    client.force_login(owner)

    create(client, expires_in="", scope="read")

    token = ApiToken.objects.get()
    assert (token.expires_at, token.scope) == (None, TokenScope.READ)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "   "}, "This field is required."),
        ({"scope": "admin"}, "Select a valid choice."),
        ({"expires_in": "7000"}, "Select a valid choice."),
    ],
)
def test_a_bad_form_says_why_and_makes_no_token(client: Client, owner: User, fields: dict, message: str) -> None:
    client.force_login(owner)

    response = create(client, **fields)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ApiToken.objects.exists()


def test_a_second_live_token_of_the_same_name_is_refused(client: Client, owner: User) -> None:
    client.force_login(owner)
    create(client)
    with changes_nothing(tokens_state):
        response = create(client)

    assert response.status_code == 400
    assert "You already have a token named “Deploy gate”." in response.content.decode()


def test_a_name_with_nothing_visible_is_refused_and_one_written_backwards_is_stored_plain(
    client: Client, owner: User
) -> None:
    client.force_login(owner)

    invisible = create(client, name="\u200b\u202e")
    backwards = create(client, name="\u202eDeploy gate")  # would show as "etag yolpeD"

    assert invisible.status_code == 400
    assert "Give the token a name." in invisible.content.decode()
    assert list(ApiToken.objects.values_list("name", flat=True)) == ["Deploy gate"]
    assert backwards.status_code == 200


def test_revoking_a_token_keeps_it_listed_as_revoked_and_frees_its_name(client: Client, owner: User) -> None:
    client.force_login(owner)
    create(client)
    token = ApiToken.objects.get()

    response = client.post(reverse("accounts:api_token_revoke", args=[token.pk]), follow=True)

    token.refresh_from_db()
    assert token.revoked_at is not None
    assert messages_of(response) == ["Token “Deploy gate” revoked: it no longer works."]
    assert "Revoked" in response.content.decode()
    assert create(client).status_code == 200  # the name may be used again


def test_another_user_cannot_revoke_or_see_a_token(client: Client, owner: User, stranger: User) -> None:
    client.force_login(owner)
    create(client)
    token = ApiToken.objects.get()
    client.force_login(stranger)
    with changes_nothing(tokens_state):
        response = client.post(reverse("accounts:api_token_revoke", args=[token.pk]))

    assert response.status_code == 404
    assert "Deploy gate" not in client.get(TOKENS_URL).content.decode()


def test_an_anonymous_visitor_is_sent_to_log_in(client: Client, db: None) -> None:
    response = client.get(TOKENS_URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
