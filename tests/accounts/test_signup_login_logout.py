from __future__ import annotations

from urllib.parse import parse_qs

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from metrics.models import Indicator, Metric, TrainedModel
from tests.factories import PASSWORD, IndicatorFactory
from tests.pages import messages_of
from tests.refusals import changes_nothing

LOGIN_URL = reverse("accounts:login")


def database_state() -> dict[str, object]:
    """Everything an anonymous write could change, to compare before and after."""
    return {
        "users": sorted(User.objects.values_list("username", flat=True)),
        "metrics": sorted(Metric.objects.values_list("pk", "name", "category", "owner_id", "data_version")),
        "indicators": sorted(Indicator.objects.values_list("pk", "metric_id", "value", "decision", "time")),
        "models": sorted(TrainedModel.objects.values_list("pk", "metric_id", "version")),
    }


# --- Sign up ---------------------------------------------------------------------------


def test_signup_page_asks_for_username_password_and_confirmation(client: Client, db: None) -> None:
    response = client.get(reverse("accounts:signup"))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="username"' in html
    assert 'name="password1"' in html
    assert 'name="password2"' in html


def test_signup_creates_the_account_logs_in_and_goes_to_the_metric_list(client: Client, db: None) -> None:
    response = client.post(
        reverse("accounts:signup"),
        {"username": "wesley", "password1": PASSWORD, "password2": PASSWORD},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("metrics:list")
    user = User.objects.get(username="wesley")
    assert user.check_password(PASSWORD)
    assert client.session[SESSION_KEY] == str(user.pk)
    assert "Welcome, wesley! Your account is ready." in messages_of(response)
    page = client.get(response["Location"])
    assert "Good to see you, wesley!" in page.content.decode()


def test_signup_follows_a_same_site_next_but_not_another_site(client: Client, db: None) -> None:
    response = client.post(
        reverse("accounts:signup"),
        {"username": "ana", "password1": PASSWORD, "password2": PASSWORD, "next": "/predict/"},
    )
    assert response["Location"] == "/predict/"

    other = Client()
    response = other.post(
        reverse("accounts:signup"),
        {"username": "bia", "password1": PASSWORD, "password2": PASSWORD, "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("metrics:list")


def test_signup_with_mismatched_confirmation_is_refused_and_creates_no_user(client: Client, db: None) -> None:
    response = client.post(
        reverse("accounts:signup"),
        {"username": "wesley", "password1": PASSWORD, "password2": PASSWORD + "x"},
    )

    assert response.status_code == 200
    assert "The two password fields didn’t match." in response.content.decode()
    assert not User.objects.exists()
    assert SESSION_KEY not in client.session


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("password", "This password is too common."),
        ("Zq7#", "This password is too short. It must contain at least 8 characters."),
        ("83749201573", "This password is entirely numeric."),
    ],
)
def test_signup_with_a_weak_password_is_refused_with_the_validator_message(
    client: Client, db: None, password: str, message: str
) -> None:
    response = client.post(
        reverse("accounts:signup"),
        {"username": "wesley", "password1": password, "password2": password},
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.exists()


def test_signup_with_a_taken_username_is_refused(client: Client, owner: User) -> None:
    response = client.post(
        reverse("accounts:signup"),
        {"username": "owner", "password1": PASSWORD, "password2": PASSWORD},
    )

    assert response.status_code == 200
    assert "A user with that username already exists." in response.content.decode()
    assert User.objects.count() == 1
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)


def test_logged_in_user_visiting_signup_goes_to_the_list(client: Client, owner: User) -> None:
    client.force_login(owner)

    response = client.get(reverse("accounts:signup"))

    assert response.status_code == 302
    assert response["Location"] == reverse("metrics:list")


# --- Log in ----------------------------------------------------------------------------


def test_login_page_offers_sign_up(client: Client, db: None) -> None:
    response = client.get(LOGIN_URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert "New here?" in html
    assert f'href="{reverse("accounts:signup")}"' in html


def test_login_with_right_password_opens_a_session(client: Client, owner: User) -> None:
    response = client.post(LOGIN_URL, {"username": "owner", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == reverse("metrics:list")
    assert client.session[SESSION_KEY] == str(owner.pk)


def test_login_says_welcome_back(client: Client, owner: User) -> None:
    response = client.post(LOGIN_URL, {"username": "owner", "password": PASSWORD}, follow=True)

    assert "Welcome back, owner!" in response.content.decode()


def test_login_follows_next_to_the_page_asked_for(client: Client, owner: User, metric: Metric) -> None:
    response = client.post(LOGIN_URL, {"username": "owner", "password": PASSWORD, "next": metric.get_absolute_url()})

    assert response["Location"] == metric.get_absolute_url()


def test_login_with_wrong_password_is_refused(client: Client, owner: User) -> None:
    response = client.post(LOGIN_URL, {"username": "owner", "password": "wrong-password"})

    assert response.status_code == 200
    assert "Please enter a correct username and password." in response.content.decode()
    assert SESSION_KEY not in client.session


def test_header_greets_the_user_by_name(client: Client, owner: User) -> None:
    client.force_login(owner)

    response = client.get(reverse("metrics:list"))

    assert "Good to see you, owner!" in response.content.decode()


# --- Log out ---------------------------------------------------------------------------


def test_logout_by_get_is_refused_and_keeps_the_session(client: Client, owner: User) -> None:
    client.force_login(owner)

    response = client.get(reverse("accounts:logout"))

    assert response.status_code == 405
    assert client.session[SESSION_KEY] == str(owner.pk)


def test_logout_by_post_ends_the_session(client: Client, owner: User) -> None:
    client.force_login(owner)
    old_session_key = client.session.session_key

    response = client.post(reverse("accounts:logout"))

    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    assert SESSION_KEY not in client.session
    assert client.session.session_key != old_session_key
    assert "You have logged out." in messages_of(response)
    after = client.get(reverse("metrics:list"))
    assert after.status_code == 302
    assert after["Location"].startswith(LOGIN_URL)


# --- Every page requires login -----------------------------------------------------------


@pytest.fixture
def everything(trained_metric: Metric) -> dict[str, int]:
    model = TrainedModel.objects.get(metric=trained_metric)
    indicator = trained_metric.indicators.order_by("pk").first()
    assert indicator is not None
    return {"metric": trained_metric.pk, "indicator": indicator.pk, "model": model.pk}


def read_urls(ids: dict[str, int]) -> list[str]:
    return [
        reverse("metrics:list"),
        reverse("metrics:create"),
        reverse("metrics:detail", args=[ids["metric"]]),
        reverse("metrics:delete", args=[ids["metric"]]),
        reverse("metrics:upload"),
        reverse("metrics:download", args=[ids["metric"]]),
        reverse("metrics:predict") + f"?metric={ids['metric']}&value=200&minutes=30",
        reverse("metrics:pairplot", args=[ids["model"]]),
    ]


def write_urls(ids: dict[str, int]) -> list[tuple[str, dict[str, object]]]:
    return [
        (reverse("metrics:create"), {"name": "Sneaky", "category": "Anon"}),
        (reverse("metrics:add_indicator", args=[ids["metric"]]), {"value": 1, "decision": 1, "minutes": 1}),
        (reverse("metrics:delete_indicator", args=[ids["metric"], ids["indicator"]]), {}),
        (reverse("metrics:delete", args=[ids["metric"]]), {}),
        (reverse("metrics:train", args=[ids["metric"]]), {}),
        (reverse("metrics:train_all"), {}),
        (reverse("accounts:logout"), {}),
    ]


def test_anonymous_get_of_every_page_redirects_to_login_with_next(client: Client, everything: dict[str, int]) -> None:
    for url in read_urls(everything):
        response = client.get(url)

        assert response.status_code == 302, url
        path, _, query = response["Location"].partition("?")
        assert path == LOGIN_URL, url
        assert parse_qs(query) == {"next": [url]}, url


def test_anonymous_post_to_every_write_url_redirects_to_login_and_changes_nothing(
    client: Client, everything: dict[str, int]
) -> None:
    before = database_state()

    for url, data in write_urls(everything):
        response = client.post(url, data)

        assert response.status_code == 302, url
        assert response["Location"].startswith(f"{LOGIN_URL}?next="), url

    assert database_state() == before


def test_anonymous_upload_redirects_to_login_and_imports_nothing(client: Client, metric: Metric) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("data.csv", b"valor,decisao,tempo\n1,1,1\n", content_type="text/csv")
    with changes_nothing(database_state):
        response = client.post(reverse("metrics:upload"), {"metric": metric.pk, "delimiter": "detect", "file": upload})

    assert response.status_code == 302
    assert response["Location"].startswith(f"{LOGIN_URL}?next=")


def test_anonymous_sees_no_data_in_the_login_redirect(client: Client, metric: Metric) -> None:
    IndicatorFactory.create(metric=metric, value=123456.0)

    response = client.get(reverse("metrics:detail", args=[metric.pk]), follow=True)

    html = response.content.decode()
    assert response.redirect_chain[-1][0].startswith(LOGIN_URL)
    assert "Requests per minute" not in html
    assert "123456" not in html
