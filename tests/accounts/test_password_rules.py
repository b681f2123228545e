from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

MESSAGE = "Your password must contain at least one visible character, not only spaces."


@pytest.mark.parametrize("password", [" " * 8, "\u3000" * 10, "\t \u00a0 \u200b  \u2060  "])
def test_signup_with_a_password_made_only_of_spaces_is_refused_and_creates_no_user(
    client: Client, db: None, password: str
) -> None:
    response = client.post(
        reverse("accounts:signup"), {"username": "wesley", "password1": password, "password2": password}
    )

    assert response.status_code == 200
    assert MESSAGE in response.content.decode()
    assert not User.objects.exists()
    assert SESSION_KEY not in client.session


def test_a_password_with_spaces_around_visible_characters_is_accepted(client: Client, db: None) -> None:
    password = "  correct horse battery staple  "
    response = client.post(
        reverse("accounts:signup"), {"username": "wesley", "password1": password, "password2": password}
    )

    assert response.status_code == 302
    assert User.objects.get().check_password(password)


def test_the_signup_page_tells_the_rule(client: Client, db: None) -> None:
    assert MESSAGE in client.get(reverse("accounts:signup")).content.decode()
