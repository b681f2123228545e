"""Data sources: added, changed and deleted by their owner on the pages, their secret kept
encrypted and never shown again; anyone else refused, and nothing changed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from metrics.models import DataSource, Metric, MetricQuery, SecretUnreadable, SourceAuth, SourceKind
from metrics.models.data_source import secret_keys
from tests.data import rows_of
from tests.factories import MetricFactory
from tests.pages import control, messages_of, table_rows
from tests.refusals import changes_nothing
from tests.stores.conftest import certificate_authority
from tests.test_content_security_policy import INLINE_HANDLER, INLINE_SCRIPT

PASSWORD = "s3cret-passphrase-of-the-store"
TOKEN = "t0ken-of-the-store-s3cret"
# CloudWatch credentials any user may give (the server's own are staff's).
ACCESS_KEY = {"auth": "access_key", "username": "AKIAEXAMPLE", "secret": "the-secret-access-key"}


def make_source(owner: User, name: str = "Production Prometheus", secret: str = "", **fields: Any) -> DataSource:
    """A source as its owner would have saved it (checked by its rules), with `secret` encrypted."""
    fields = {"kind": SourceKind.PROMETHEUS, "url": "http://prometheus.example:9090", **fields}
    source = DataSource(owner=owner, name=name, **fields)
    source.secret = source.replaced_secret(secret, source.auth)
    source.full_clean()
    source.save()
    return source


def sources_state() -> dict[str, list]:
    return {"sources": rows_of(DataSource), "queries": rows_of(MetricQuery)}


def form_data(**fields: Any) -> dict[str, Any]:
    """The source form as a browser posts it: a Prometheus server without credentials, unless told."""
    return {
        "name": "Production Prometheus",
        "kind": "prometheus",
        "url": "http://prometheus.example:9090",
        "region": "",
        "namespace": "",
        "auth": "none",
        "username": "",
        "secret": "",
        "ca_certificate": "",
        "timeout_seconds": "10",
        **fields,
    }


def stored_secret_column(source: DataSource) -> str:
    """The secret's column as the database holds it, read without the ORM."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT secret FROM {DataSource._meta.db_table} WHERE id = %s", [source.pk])  # noqa: S608
        return str(cursor.fetchone()[0])


def test_the_owner_adds_a_prometheus_source_with_a_password_kept_encrypted(client: Client, owner: User) -> None:
    client.force_login(owner)

    response = client.post(
        reverse("metrics:source_create"),
        form_data(auth="basic", username="make-or-break", secret=PASSWORD, timeout_seconds="2,5"),
        follow=True,
        headers={"accept-language": "pt-br"},
    )

    source = DataSource.objects.get()
    assert response.redirect_chain[-1][0] == reverse("metrics:source", args=[source.pk])
    assert (source.owner, source.name, source.kind, source.url) == (
        owner,
        "Production Prometheus",
        "prometheus",
        "http://prometheus.example:9090",
    )
    assert (source.auth, source.username, source.timeout_seconds) == ("basic", "make-or-break", 2.5)
    # At rest: no plain text in the row, and it decrypts with the server's key.
    row = stored_secret_column(source)
    assert PASSWORD not in row
    assert Fernet(secret_keys()[0]).decrypt(row.encode()).decode() == PASSWORD
    assert source.read_secret() == PASSWORD


def test_the_owner_adds_a_cloudwatch_source_with_an_access_key(client: Client, owner: User) -> None:
    client.force_login(owner)

    client.post(
        reverse("metrics:source_create"),
        form_data(
            name="AWS",
            kind="cloudwatch",
            url="",
            region="eu-west-1",
            namespace="AWS/ApplicationELB",
            auth="access_key",
            username="AKIAEXAMPLE",
            secret=PASSWORD,
        ),
    )

    source = DataSource.objects.get()
    assert (source.kind, source.region, source.namespace, source.auth, source.username) == (
        "cloudwatch",
        "eu-west-1",
        "AWS/ApplicationELB",
        "access_key",
        "AKIAEXAMPLE",
    )
    assert PASSWORD not in stored_secret_column(source)
    assert source.read_secret() == PASSWORD
    assert source.location == "eu-west-1"


def test_a_source_with_its_own_ca_certificate_is_accepted(client: Client, owner: User, tmp_path: Path) -> None:
    ca, _cert, _key = certificate_authority(tmp_path)
    client.force_login(owner)

    client.post(
        reverse("metrics:source_create"), form_data(url="https://127.0.0.1:9090", ca_certificate=ca.read_text())
    )

    assert DataSource.objects.get().ca_certificate.startswith("-----BEGIN CERTIFICATE-----")


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"url": ""}, "url", "Enter the Prometheus server"),
        ({"url": "ftp://prometheus.example"}, "url", "Enter an http:// or https:// URL"),
        ({"url": "prometheus.example:9090"}, "url", "Enter an http:// or https:// URL"),
        ({"url": "http://admin:hunter2@prometheus.example"}, "url", "Leave the user name and password out of the URL"),
        ({"kind": "cloudwatch", "url": "", **ACCESS_KEY}, "region", "Enter the AWS region"),
        ({"kind": "cloudwatch", "url": "", "region": "Ireland", **ACCESS_KEY}, "region", "is not an AWS region"),
        (
            {"kind": "cloudwatch", "region": "eu-west-1", "url": "http://vpce.example", **ACCESS_KEY},
            "url",
            "Enter an https:// URL",
        ),
        ({"kind": "cloudwatch", "region": "eu-west-1", "url": ""}, "auth", "Amazon CloudWatch takes these credentials"),
        ({"auth": "access_key", "username": "AKIA", "secret": "x"}, "auth", "Prometheus takes these credentials"),
        ({"auth": "basic", "secret": PASSWORD}, "username", "Enter the user name."),
        (
            {"kind": "cloudwatch", "region": "eu-west-1", "url": "", "auth": "access_key", "secret": PASSWORD},
            "username",
            "Enter the access key ID.",
        ),
        ({"auth": "bearer"}, "secret", "Enter the bearer token."),
        ({"auth": "basic", "username": "me"}, "secret", "Enter the password."),
        ({"ca_certificate": "not a certificate"}, "ca_certificate", "This is not a PEM certificate"),
        ({"timeout_seconds": "0.1"}, "timeout_seconds", "greater than or equal to 0.5"),
        ({"name": " \u200b "}, "name", "Enter a name with at least one visible character."),
    ],
)
def test_a_bad_source_is_refused_on_the_field_at_fault_and_nothing_stored(
    client: Client, owner: User, fields: dict[str, str], field: str, message: str
) -> None:
    client.force_login(owner)

    with changes_nothing(sources_state):
        response = client.post(reverse("metrics:source_create"), form_data(**fields))

    assert response.status_code == 400
    assert list(response.context["form"].errors) == [field]
    assert message in response.context["form"].errors[field][0]
    # The error is tied to its field, for a screen reader.
    html = response.content.decode()
    assert re.search(rf'name="{field}"[^>]*aria-describedby="[^"]*id_{field}_error', html)


@pytest.mark.parametrize("region", ["eu-west-1", "us-gov-west-1", "cn-north-1", "ap-southeast-4", "us-isob-east-1"])
def test_every_shape_of_aws_region_is_taken(owner: User, region: str) -> None:
    source = make_source(owner, kind=SourceKind.CLOUDWATCH, url="", region=region, **ACCESS_KEY)

    assert source.location == region


@pytest.mark.parametrize("region", ["EU-WEST-1", "eu-west", "eu_west_1", "europe-west1", "eu-west-1 ", "eu-west-1\n"])
def test_what_is_not_an_aws_region_is_refused(owner: User, region: str) -> None:
    source = DataSource(owner=owner, name="AWS", kind=SourceKind.CLOUDWATCH, region=region, **ACCESS_KEY)

    with pytest.raises(ValidationError) as refused:
        source.full_clean()

    assert list(refused.value.message_dict) == ["region"]


def test_a_name_is_used_once_per_owner_ignoring_case_but_others_may_use_it(
    client: Client, owner: User, stranger: User
) -> None:
    make_source(owner, "Production Prometheus")
    client.force_login(owner)

    with changes_nothing(sources_state):
        refused = client.post(reverse("metrics:source_create"), form_data(name="PRODUCTION prometheus"))
    client.force_login(stranger)
    client.post(reverse("metrics:source_create"), form_data(name="production prometheus"))

    assert refused.status_code == 400
    assert "You already have a data source named" in refused.context["form"].errors["name"][0]
    assert DataSource.objects.filter(owner=stranger).count() == 1


def test_the_secret_is_never_shown_on_any_page(client: Client, owner: User) -> None:
    source = make_source(owner, auth=SourceAuth.BASIC, username="make-or-break", secret=PASSWORD)
    ciphertext = source.secret
    client.force_login(owner)

    pages = [
        client.get(reverse("metrics:sources")),
        client.get(source.get_absolute_url()),
        client.get(reverse("metrics:source_edit", args=[source.pk])),
        # A form sent back with an error: the password typed is not written back either.
        client.post(reverse("metrics:source_create"), form_data(auth="basic", secret=TOKEN)),
        client.post(reverse("metrics:source_edit", args=[source.pk]), form_data(url="", secret=TOKEN)),
    ]

    for page in pages:
        html = page.content.decode()
        assert PASSWORD not in html
        assert TOKEN not in html
        assert ciphertext not in html
    edit_page = pages[2].content.decode()
    assert control(edit_page, "secret")["type"] == "password"
    assert "value" not in control(edit_page, "secret")
    assert "A secret is stored" in edit_page


def test_editing_with_the_secret_left_empty_keeps_the_stored_one(client: Client, owner: User) -> None:
    source = make_source(owner, auth=SourceAuth.BASIC, username="make-or-break", secret=PASSWORD)
    client.force_login(owner)

    response = client.post(
        reverse("metrics:source_edit", args=[source.pk]),
        form_data(name="Renamed", auth="basic", username="make-or-break", secret=""),
    )

    assert response.status_code == 302
    source.refresh_from_db()
    assert source.name == "Renamed"
    assert source.read_secret() == PASSWORD


def test_a_new_secret_replaces_the_stored_one(client: Client, owner: User) -> None:
    source = make_source(owner, auth=SourceAuth.BEARER, secret=TOKEN)
    client.force_login(owner)

    client.post(reverse("metrics:source_edit", args=[source.pk]), form_data(auth="bearer", secret="another-token"))

    source.refresh_from_db()
    assert source.read_secret() == "another-token"


def test_the_stored_secret_is_forgotten_when_asked_or_when_the_credentials_need_none(
    client: Client, owner: User
) -> None:
    source = make_source(owner, auth=SourceAuth.BEARER, secret=TOKEN)
    client.force_login(owner)

    # Asked to forget it while bearer still needs one: refused, the secret kept.
    with changes_nothing(sources_state):
        refused = client.post(
            reverse("metrics:source_edit", args=[source.pk]), form_data(auth="bearer", forget_secret="on")
        )
    client.post(reverse("metrics:source_edit", args=[source.pk]), form_data(auth="none"))

    assert "Enter the bearer token." in refused.context["form"].errors["secret"][0]
    source.refresh_from_db()
    assert (source.auth, source.secret) == ("none", "")


def test_changing_the_kind_of_credentials_asks_for_the_new_secret(client: Client, owner: User) -> None:
    """A password kept as a bearer token would be sent to the store in the clear as one."""
    source = make_source(owner, auth=SourceAuth.BASIC, username="me", secret=PASSWORD)
    client.force_login(owner)

    with changes_nothing(sources_state):
        response = client.post(reverse("metrics:source_edit", args=[source.pk]), form_data(auth="bearer"))

    assert "Enter the bearer token." in response.context["form"].errors["secret"][0]


@pytest.mark.parametrize(
    "url",
    [
        "http://elsewhere.example:9090",  # another host
        "http://prometheus.example:9091",  # another port
        "https://prometheus.example:9090",  # another scheme
    ],
)
def test_a_new_url_asks_for_the_secret_again_and_changes_nothing_until_it_is_entered(
    client: Client, owner: User, url: str
) -> None:
    """A token typed for one server is never sent to another its owner did not type it for."""
    source = make_source(owner, auth=SourceAuth.BEARER, secret=TOKEN)
    client.force_login(owner)
    edit = reverse("metrics:source_edit", args=[source.pk])

    with changes_nothing(sources_state):
        refused = client.post(edit, form_data(url=url, auth="bearer"))
    entered = client.post(edit, form_data(url=url, auth="bearer", secret="the-token-for-it"))

    assert refused.status_code == 400
    assert refused.context["form"].errors["secret"] == [
        "The URL now points somewhere else: enter the bearer token again for it. The stored one is only sent "
        "where it was entered for."
    ]
    assert entered.status_code == 302
    source.refresh_from_db()
    assert (source.url, source.read_secret()) == (url, "the-token-for-it")


def test_a_new_url_with_the_secret_forgotten_and_no_credentials_keeps_no_secret(client: Client, owner: User) -> None:
    source = make_source(owner, auth=SourceAuth.BASIC, username="me", secret=PASSWORD)
    client.force_login(owner)

    client.post(
        reverse("metrics:source_edit", args=[source.pk]), form_data(url="http://elsewhere.example:9090", auth="none")
    )

    source.refresh_from_db()
    assert (source.url, source.auth, source.secret) == ("http://elsewhere.example:9090", "none", "")


def test_the_same_place_written_otherwise_keeps_the_stored_secret(client: Client, owner: User) -> None:
    """A path, a letter's case or the scheme's own port named: still the server the token was typed for."""
    source = make_source(owner, auth=SourceAuth.BEARER, secret=TOKEN, url="https://prometheus.example")
    client.force_login(owner)

    response = client.post(
        reverse("metrics:source_edit", args=[source.pk]),
        form_data(url="https://Prometheus.example:443/prometheus", auth="bearer"),
    )

    assert response.status_code == 302
    source.refresh_from_db()
    assert (source.url, source.read_secret()) == ("https://Prometheus.example:443/prometheus", TOKEN)


def test_a_cloudwatch_endpoint_set_or_changed_asks_for_the_secret_access_key_again(owner: User) -> None:
    source = make_source(
        owner,
        "AWS",
        kind=SourceKind.CLOUDWATCH,
        url="",
        region="eu-west-1",
        auth=SourceAuth.ACCESS_KEY,
        username="AKIAEXAMPLE",
        secret=PASSWORD,
    )
    source.url = "https://monitoring.elsewhere.example"

    with pytest.raises(ValidationError) as refused:
        source.full_clean()

    assert refused.value.message_dict["secret"] == [
        "The endpoint now points somewhere else: enter the secret access key again for it. The stored one is only "
        "sent where it was entered for."
    ]


def test_the_list_shows_the_users_own_sources_only(client: Client, owner: User, stranger: User) -> None:
    make_source(owner, "Production Prometheus")
    make_source(owner, "AWS", kind=SourceKind.CLOUDWATCH, url="", region="eu-west-1", **ACCESS_KEY)
    make_source(stranger, "The stranger's Prometheus")
    client.force_login(owner)

    rows = table_rows(client.get(reverse("metrics:sources")), "sources")

    assert rows == [
        ["AWS", "Amazon CloudWatch", "eu-west-1", "not tested yet", "0"],
        ["Production Prometheus", "Prometheus", "http://prometheus.example:9090", "not tested yet", "0"],
    ]


def test_the_form_marks_each_fields_kind_for_the_script_and_loads_it(client: Client, owner: User) -> None:
    client.force_login(owner)

    html = client.get(reverse("metrics:source_create")).content.decode()

    assert 'id="source-auths"' in html
    assert '"cloudwatch": ["access_key"]' in html  # the server's own credentials are staff's
    assert 'data-source-kinds="cloudwatch"' in html
    assert "js/sources.js" in html
    # Without the script every field is there, each label tied to its control.
    for name in ("name", "kind", "url", "region", "namespace", "auth", "username", "secret", "timeout_seconds"):
        assert f'for="id_{name}"' in html


def test_the_source_pages_run_no_inline_script(client: Client, owner: User) -> None:
    source = make_source(owner)
    client.force_login(owner)

    for url in (
        reverse("metrics:sources"),
        reverse("metrics:source_create"),
        source.get_absolute_url(),
        reverse("metrics:source_edit", args=[source.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 200
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert INLINE_SCRIPT.findall(response.content.decode()) == []
        assert INLINE_HANDLER.findall(response.content.decode()) == []


def source_urls(source: DataSource) -> dict[str, tuple[str, str]]:
    """Each page of a source, and the method it is asked with."""
    return {
        "detail": ("get", source.get_absolute_url()),
        "edit": ("get", reverse("metrics:source_edit", args=[source.pk])),
        "save": ("post", reverse("metrics:source_edit", args=[source.pk])),
        "delete": ("post", reverse("metrics:source_delete", args=[source.pk])),
        "test": ("post", reverse("metrics:source_test", args=[source.pk])),
    }


@pytest.mark.parametrize("page", ["detail", "edit", "save", "delete", "test"])
def test_a_stranger_gets_404_on_every_page_of_a_source_and_nothing_changes(
    client: Client, owner: User, stranger: User, page: str
) -> None:
    source = make_source(owner, auth=SourceAuth.BEARER, secret=TOKEN)
    method, url = source_urls(source)[page]
    client.force_login(stranger)

    with changes_nothing(sources_state):
        response = getattr(client, method)(url, form_data(name="Mine now") if method == "post" else None)

    assert response.status_code == 404
    assert TOKEN not in response.content.decode()


def test_deleting_a_source_a_metric_is_bound_to_is_refused_naming_it(client: Client, owner: User) -> None:
    source = make_source(owner)
    metric = MetricFactory.create(owner=owner, name="Error rate")
    MetricQuery.objects.create(metric=metric, source=source, query="up")
    client.force_login(owner)

    with changes_nothing(sources_state):
        response = client.post(reverse("metrics:source_delete", args=[source.pk]), follow=True)

    assert response.redirect_chain[-1][0] == source.get_absolute_url()
    assert messages_of(response) == [
        "The data source “Production Prometheus” cannot be deleted: these metrics read their values from it: "
        "“Error rate”. Bind them to another source, or unbind them, first."
    ]
    assert "Error rate" in response.content.decode()
    assert Metric.objects.filter(pk=metric.pk).exists()


def test_the_owner_deletes_a_source_no_metric_is_bound_to(client: Client, owner: User) -> None:
    source = make_source(owner)
    client.force_login(owner)

    response = client.post(reverse("metrics:source_delete", args=[source.pk]), follow=True)

    assert response.redirect_chain[-1][0] == reverse("metrics:sources")
    assert messages_of(response) == ["Data source “Production Prometheus” deleted."]
    assert not DataSource.objects.exists()


def test_the_admin_lists_and_edits_a_source_without_its_secret(client: Client, owner: User) -> None:
    source = make_source(owner, auth=SourceAuth.BEARER, secret=TOKEN)
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "not-used-here"))
    change_url = reverse("admin:metrics_datasource_change", args=[source.pk])

    pages = [client.get(reverse("admin:metrics_datasource_changelist")), client.get(change_url)]
    saved = client.post(
        change_url,
        {
            "owner": owner.pk,
            "name": "Renamed by staff",
            "kind": "prometheus",
            "url": source.url,
            "auth": "bearer",
            "timeout_seconds": "10",
            "created_at_0": "2026-01-01",
            "created_at_1": "00:00:00",
        },
    )

    for page in pages:
        assert page.status_code == 200
        assert TOKEN not in page.content.decode()
        assert source.secret not in page.content.decode()
    assert 'name="secret"' not in pages[1].content.decode()
    assert saved.status_code == 302
    source.refresh_from_db()
    assert source.name == "Renamed by staff"
    assert source.read_secret() == TOKEN


def test_staff_moving_a_source_with_a_secret_elsewhere_is_told_its_owner_must_enter_it_and_nothing_changes(
    client: Client, owner: User
) -> None:
    source = make_source(owner, auth=SourceAuth.BEARER, secret=TOKEN)
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "not-used-here"))

    with changes_nothing(sources_state):
        response = client.post(
            reverse("admin:metrics_datasource_change", args=[source.pk]),
            {
                "owner": owner.pk,
                "name": source.name,
                "kind": "prometheus",
                "url": "http://elsewhere.example:9090",
                "auth": "bearer",
                "timeout_seconds": "10",
                "created_at_0": "2026-01-01",
                "created_at_1": "00:00:00",
            },
        )

    assert response.status_code == 200
    assert "enter the bearer token again for it" in response.content.decode()


# --- The key that encrypts the secrets -------------------------------------------------------


def test_a_secret_encrypted_with_an_old_key_reads_while_it_is_a_fallback_and_rotation_moves_it(
    owner: User, settings, capsys
) -> None:
    settings.MBREAK_SECRETS_KEY = "the old key"
    settings.MBREAK_SECRETS_KEY_FALLBACKS = []
    source = make_source(owner, auth=SourceAuth.BEARER, secret=TOKEN)
    old_row = stored_secret_column(source)

    settings.MBREAK_SECRETS_KEY = "the new key"
    settings.MBREAK_SECRETS_KEY_FALLBACKS = ["the old key"]
    assert DataSource.objects.get().read_secret() == TOKEN
    call_command("rotate_secrets")

    assert "1 secret encrypted again with the current key." in capsys.readouterr().out
    new_row = stored_secret_column(source)
    assert new_row != old_row
    assert TOKEN not in new_row
    settings.MBREAK_SECRETS_KEY_FALLBACKS = []  # the old key dropped: the secret still reads
    assert DataSource.objects.get().read_secret() == TOKEN


def test_a_secret_no_key_reads_is_named_by_the_rotation_and_left_as_it_is(owner: User, settings, capsys) -> None:
    settings.MBREAK_SECRETS_KEY = "a key that was lost"
    lost = make_source(owner, "Lost", auth=SourceAuth.BEARER, secret=TOKEN)
    settings.MBREAK_SECRETS_KEY = "the new key"
    kept = make_source(owner, "Kept", auth=SourceAuth.BEARER, secret=TOKEN)

    lost_row = stored_secret_column(lost)

    with pytest.raises(CommandError) as failed:
        call_command("rotate_secrets")

    assert "'Lost'" in str(failed.value)
    assert "'Kept'" not in str(failed.value)
    assert "1 secret encrypted again" in capsys.readouterr().out
    assert stored_secret_column(lost) == lost_row
    with pytest.raises(SecretUnreadable):
        DataSource.objects.get(pk=lost.pk).read_secret()
    assert DataSource.objects.get(pk=kept.pk).read_secret() == TOKEN


def test_a_source_with_metrics_bound_keeps_its_kind(owner: User) -> None:
    """Its metrics' queries are PromQL: made a CloudWatch source, every pull of theirs would fail."""
    source = make_source(owner)
    MetricQuery.objects.create(metric=MetricFactory.create(owner=owner), source=source, query="up")
    source.kind, source.region, source.auth = SourceKind.CLOUDWATCH, "eu-west-1", SourceAuth.ENVIRONMENT

    with changes_nothing(sources_state), pytest.raises(ValidationError) as refused:
        source.full_clean()

    assert refused.value.message_dict["kind"] == [
        "Metrics are bound to this source with queries of its kind: unbind them before changing its kind."
    ]
