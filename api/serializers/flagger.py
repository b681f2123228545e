"""Flagger's webhook payload, exactly as Flagger sends it (fluxcd/flagger `CanaryWebhookPayload`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _
from rest_framework import serializers

from api.strict import StrictTypes
from metrics.flagger import FlaggerCall, Hook

# The metadata keys Make or Break reads; any other is the user's own, and left alone.
TOKEN, HOOK = "token", "hook"


class FlaggerPayloadSerializer(StrictTypes, serializers.Serializer[dict[str, Any]]):
    """The canary's name, namespace and phase, the checksum of its revision (Flagger 1.33 and
    later), and the webhook's metadata: a string map holding the token and the hook type."""

    name = serializers.CharField(max_length=253)
    namespace = serializers.CharField(max_length=63)
    phase = serializers.CharField(allow_blank=True, help_text="Flagger's phase of the canary.")
    checksum = serializers.CharField(
        max_length=64, help_text="Flagger's checksum of the canary's revision (Flagger 1.33 and later send it)."
    )
    metadata = serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        help_text="The webhook's metadata: `token` (a read-and-write API token of the gate's owner) and `hook` "
        "(the webhook's type), beside any of your own.",
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        # Only the fields Flagger sends today are read: one a later Flagger adds is left alone
        # rather than refused (a refusal would hold back or roll back every canary).
        known = (
            {name: value for name, value in data.items() if name in self.fields} if isinstance(data, Mapping) else data
        )
        return super().to_internal_value(known)  # type: ignore[no-any-return]

    def validate_metadata(self, metadata: dict[str, str]) -> dict[str, str]:
        if metadata.get(HOOK) not in Hook.values:
            raise serializers.ValidationError(
                _("Name the webhook's type in its metadata as “hook”: one of %(hooks)s (the same as its “type”).")
                % {"hooks": ", ".join(Hook.values)},
                code="hook",
            )
        return metadata

    def call(self) -> FlaggerCall:
        data = self.validated_data
        fields = {name: data[name] for name in ("name", "namespace", "phase", "checksum")}
        return FlaggerCall(**fields, hook=Hook(data["metadata"][HOOK]))
