"""Argo Rollouts' notifications of how a rollout ended, as the outcome of its release.

Argo Rollouts (argoproj/argo-rollouts `utils/record/record.go`) notifies on the Kubernetes events
it records, each the trigger of its name: `RolloutAborted` is `on-rollout-aborted` (an analysis
failed, the progress deadline passed, or someone aborted it: the stable version takes the traffic
back), `RolloutCompleted` is `on-rollout-completed` (the new version became the stable one). The
webhook service POSTs the template's body, with the headers of its configuration.

The release is the one the AnalysisTemplate judged: its key is the canary's pod-template hash
(`podTemplateHashValue: Latest`). A notification's template is given the Rollout as it was when
the event was recorded, before the status the event reports is saved (`rollout/sync.go`):
`status.currentPodHash` is that same hash in both events, while `status.stableRS` is still the
previous version's on completion. A template is not told which trigger sent it, so each of the
two triggers has a template of its own, naming its event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.utils.translation import gettext_lazy as _

from metrics.models import Outcome, OutcomeVia
from metrics.models.gate import OUTCOME_NOTE_MAX_LENGTH, fitted

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from metrics.models import Release


class ArgoEvent(models.TextChoices):
    """The triggers whose notification says what was done with a rollout."""

    ROLLOUT_ABORTED = "on-rollout-aborted", _("the rollout was aborted: rolled back")
    ROLLOUT_COMPLETED = "on-rollout-completed", _("the rollout completed: rolled out")

    @property
    def outcome(self) -> Outcome:
        return Outcome.ROLLBACK if self is ArgoEvent.ROLLOUT_ABORTED else Outcome.ROLLOUT


def record_notification(release: Release, user: User, event: ArgoEvent, message: str = "") -> bool:
    """Record the outcome `event` says, through Argo Rollouts, by `user` (the token's), with the
    notification's `message` as its note: cut to the note's length with an ellipsis rather than
    refused (a refusal would lose the outcome, and the template would send as long a text at every
    rollout). Returns whether
    anything changed; raises what `Release.record_outcome` raises."""
    note = fitted(message, OUTCOME_NOTE_MAX_LENGTH)
    return release.record_outcome(event.outcome, user, via=OutcomeVia.ARGO, note=note)
