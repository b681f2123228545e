"""Repeated failed logins lock the account out for a while, with a message that says so."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache
from django.test import Client
from django.urls import reverse

from accounts.forms import LoginForm
from tests.concurrency import run_concurrently
from tests.factories import PASSWORD

LOCKED = "Too many failed log-in attempts for this account. Try again in 15 minutes."
LOGIN_URL = reverse("accounts:login")
REDIS_URL = os.environ.get("MBREAK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def log_in(client: Client, username: str, password: str):
    return client.post(LOGIN_URL, {"username": username, "password": password})


def test_five_failures_lock_the_account_even_for_the_right_password(client: Client, owner: User) -> None:
    for _ in range(5):
        response = log_in(client, "owner", "wrong password")
        assert LOCKED not in response.content.decode()

    response = log_in(client, "owner", PASSWORD)

    assert response.status_code == 200
    assert LOCKED in response.content.decode()
    assert SESSION_KEY not in client.session


def test_the_admins_log_in_counts_the_same_failures_and_locks_a_staff_account(client: Client, owner: User) -> None:
    owner.is_staff = True
    owner.save()
    admin_login = reverse("admin:login")
    for _ in range(3):
        log_in(client, "owner", "wrong password")
    for _ in range(2):
        client.post(admin_login, {"username": "owner", "password": "wrong password"})

    on_admin = client.post(admin_login, {"username": "owner", "password": PASSWORD})
    on_app = log_in(client, "owner", PASSWORD)

    assert LOCKED in on_admin.content.decode()
    assert LOCKED in on_app.content.decode()
    assert SESSION_KEY not in client.session


def test_the_lock_counts_the_username_whatever_its_case_or_spaces(client: Client, owner: User) -> None:
    for typed in ("owner", "OWNER", " Owner", "owner ", "oWnEr"):
        log_in(client, typed, "wrong password")
    assert LOCKED in log_in(client, "owner", PASSWORD).content.decode()


def test_a_success_before_the_limit_forgets_the_failures(client: Client, owner: User) -> None:
    for _ in range(4):
        log_in(client, "owner", "wrong password")
    assert log_in(client, "owner", PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        log_in(client, "owner", "wrong password")

    assert log_in(client, "owner", PASSWORD).status_code == 302


def test_other_accounts_are_not_locked(client: Client, owner: User, stranger: User) -> None:
    for _ in range(6):
        log_in(client, "owner", "wrong password")
    assert log_in(client, "stranger", PASSWORD).status_code == 302


def test_the_lock_ends_when_its_time_is_up(client: Client, owner: User, settings) -> None:
    settings.MBREAK_LOGIN_LOCKOUT_SECONDS = 60
    for _ in range(5):
        log_in(client, "owner", "wrong password")
    assert "Try again in 1 minute." in log_in(client, "owner", PASSWORD).content.decode()

    cache.clear()  # what the cache does when the window's 60 s have passed

    assert log_in(client, "owner", PASSWORD).status_code == 302


@pytest.mark.parametrize("language", ["pt-br"])
def test_the_lock_message_is_translated(client: Client, owner: User, language: str) -> None:
    for _ in range(5):
        log_in(client, "owner", "wrong password")
    client.cookies["django_language"] = language
    html = log_in(client, "owner", PASSWORD).content.decode()
    assert "Muitas tentativas de login com falha para esta conta. Tente de novo em 15 minutos." in html


def test_an_unreachable_cache_lets_people_log_in(client: Client, owner: User) -> None:
    down = ConnectionError("redis down")
    with mock.patch.multiple(
        "accounts.throttle.cache", add=mock.Mock(side_effect=down), incr=mock.Mock(side_effect=down)
    ):
        assert log_in(client, "owner", PASSWORD).status_code == 302


def test_attempts_made_at_once_get_no_more_password_checks_than_the_limit() -> None:
    """Against Redis, as in production: 16 guesses sent at once in several workers. Each is
    counted before its password is checked, so only the first five are checked."""
    shared = RedisCache(REDIS_URL, {"KEY_PREFIX": f"login-test-{uuid.uuid4()}"})
    errors: list[str] = []

    def slow_wrong_password(*_args: Any, **_kwargs: Any) -> None:
        time.sleep(0.05)  # as a password hash takes its time

    def guess() -> None:
        form = LoginForm(data={"username": "owner", "password": "guess"})
        form.is_valid()
        errors.extend(error.code or "" for error in form.non_field_errors().as_data())

    with (
        mock.patch("accounts.throttle.cache", shared),
        mock.patch("django.contrib.auth.forms.authenticate", side_effect=slow_wrong_password) as checked,
    ):
        run_concurrently(*[guess] * 16)

    assert checked.call_count == 5
    assert sorted(errors) == ["invalid_login"] * 5 + ["locked_out"] * 11
