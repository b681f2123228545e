"""Data sources: the metric stores a user connects, their own alone.

The secret (a bearer token, a password or a secret access key, as `auth` says) is one
write-only field, `secret`: kept encrypted, never answered (`has_secret` says whether one is
stored). Left out of a change, the stored one is kept, unless the credentials change kind (a
password is no bearer token); `""` forgets it.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers.base import ChoiceField, Link, UtcDateTimeField, ValidatedModelSerializer
from metrics.models import DataSource, SourceAuth, SourceKind
from metrics.models.data_source import credentials_for

AUTH_HELP = (
    "How Make or Break proves who it is to the source. Prometheus: `none`, `bearer` (a token) or `basic` (a user "
    "name and password); CloudWatch: `environment` (the server's environment or instance role: staff's sources only, "
    "unless the server's settings allow it to everyone) or `access_key`. When a source is made without it: `none` "
    "for Prometheus; for CloudWatch, `environment` if its owner may use it, else `access_key`."
)
WRITE_ONLY_HELP = (
    "Write-only, never answered: the bearer token (`bearer`), the password (`basic`) or the secret access key "
    "(`access_key`). Kept encrypted. Left out of a change, the stored one is kept (unless `auth` changes); an empty "
    "string forgets it."
)


class ConnectionCheckSerializer(serializers.Serializer[DataSource]):
    """What a "Test connection" of a source found: whether it answered, and if not why, in words."""

    ok = serializers.BooleanField(source="is_working", read_only=True)
    result = serializers.CharField(
        source="check_result",
        read_only=True,
        help_text="`ok`, or what went wrong: `dns`, `refused`, `tls`, `timeout`, `unauthorized`, `http_status`, "
        "`not_a_store`, `bad_query`, ...",
    )
    detail = serializers.CharField(
        source="check_words", read_only=True, help_text="What came of it in plain words, with what the store said."
    )
    checked_at = UtcDateTimeField(read_only=True)


class DataSourceSerializer(ValidatedModelSerializer[DataSource]):
    """A data source: a Prometheus server or Amazon CloudWatch in a region, with its credentials."""

    auth = ChoiceField(choices=SourceAuth.choices, required=False, help_text=AUTH_HELP)
    secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, trim_whitespace=False, help_text=WRITE_ONLY_HELP
    )
    has_secret = serializers.BooleanField(read_only=True)
    last_check = serializers.SerializerMethodField()
    created_at = UtcDateTimeField(read_only=True)
    link = Link("api:source")

    class Meta:
        model = DataSource
        fields = [
            "id",
            "name",
            "kind",
            "url",
            "region",
            "namespace",
            "auth",
            "username",
            "secret",
            "has_secret",
            "ca_certificate",
            "timeout_seconds",
            "last_check",
            "created_at",
            "link",
        ]
        read_only_fields = ["id", "has_secret", "last_check", "created_at", "link"]
        extra_kwargs = {
            "url": {
                "help_text": "Prometheus: its base URL, what comes before /api/v1/ (http or https, without "
                "credentials in it). CloudWatch: an https endpoint to use instead of the region's, or empty."
            }
        }

    @extend_schema_field(ConnectionCheckSerializer(allow_null=True))
    def get_last_check(self, source: DataSource) -> dict[str, Any] | None:
        """The last "Test connection" (null if never tested)."""
        return ConnectionCheckSerializer(source).data if source.checked_at else None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Always given an instance: a new source is its owner's unsaved one, so that its
        # name is checked against the owner's other sources.
        stored: DataSource = self.instance  # type: ignore[assignment]
        if stored.pk is None and "auth" not in attrs:
            kind = attrs.get("kind", stored.kind)
            # The first credentials its kind takes as its owner may give them: CloudWatch's are the
            # server's own for staff, an access key for anyone else.
            attrs["auth"] = credentials_for(stored.owner)[SourceKind(kind)][0]
        typed = attrs.pop("secret", None)
        # The secret as it will be stored (encrypted), before the source's own rules need it.
        attrs["secret"] = stored.replaced_secret(typed, attrs.get("auth", stored.auth), forget=typed == "")
        return super().validate(attrs)
