"""Argo Rollouts' notification of how a rollout ended, as the README's template writes it."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from api.strict import StrictTypes
from metrics.argo import ArgoEvent
from metrics.models.gate import OUTCOME_NOTE_MAX_LENGTH


class ArgoNotificationSerializer(StrictTypes, serializers.Serializer[dict[str, Any]]):
    key = serializers.CharField(
        trim_whitespace=False,  # the deployer's key, as sent: " abc" is refused, not changed
        help_text="The release's key in the gate: the canary's pod-template hash "
        "(`{{.rollout.status.currentPodHash}}` in the notification's template).",
    )
    event = serializers.ChoiceField(
        choices=ArgoEvent.values,
        help_text="The trigger that sent it: on-rollout-aborted (rolled back) or on-rollout-completed (rolled out).",
    )
    message = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text=f"The outcome's note; one longer than {OUTCOME_NOTE_MAX_LENGTH} characters is cut to it, "
        "with an ellipsis.",
    )
