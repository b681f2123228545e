"""Flagger's webhooks, as Flagger calls them: what each hook type asks of a gate, and the answer.

Flagger (fluxcd/flagger, `pkg/controller/webhook.go`) POSTs `{name, namespace, phase, checksum,
metadata}` and reads only the status: 200 to 202 is yes, anything else no (the body goes into
its events). It cannot send headers, so the token and the hook type come in `metadata`. The
release is the deployer's key `namespace/name@checksum`: the checksum hashes the canary's
applied spec and tracked configs, so each new revision is a release of its own.

`confirm-rollout` is called before the new revision's spec is recorded in the canary's status:
its checksum is still the previous revision's (or the one before a failure's). It therefore
neither starts nor reads a release; it says whether the gate can judge one at all. The same
holds for `rollback` while the canary is `Waiting` for that confirmation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import models
from django.utils.translation import gettext, ngettext

from metrics.models import VerdictState

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from metrics.models import Gate, Release, ReleaseVerdict

# Flagger's phase while a confirm-rollout hook holds the canary back (its checksum is stale then).
WAITING = "Waiting"


class Hook(models.TextChoices):
    """The hook types that gate a canary (`metadata.hook`: the webhook's `type`)."""

    CONFIRM_ROLLOUT = "confirm-rollout"
    PRE_ROLLOUT = "pre-rollout"
    ROLLOUT = "rollout"
    CONFIRM_PROMOTION = "confirm-promotion"
    ROLLBACK = "rollback"
    POST_ROLLOUT = "post-rollout"


@dataclass(frozen=True)
class FlaggerCall:
    """One webhook call: Flagger's payload, and the hook type its metadata names."""

    name: str
    namespace: str
    phase: str
    checksum: str
    hook: Hook

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}@{self.checksum}"

    @property
    def canary(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class HookAnswer:
    """Yes (Flagger goes on) or no, with one line for Flagger's events, and the release it was about."""

    passes: bool
    text: str
    release: Release | None = None


def answer_hook(gate: Gate, user: User, call: FlaggerCall) -> HookAnswer:
    """The gate's answer to one of Flagger's hooks, `user` (the token's) being who may start its
    releases. A verdict asked is kept, as a pipeline's (`Release.answer`); dry run answers rollout."""
    if call.hook == Hook.CONFIRM_ROLLOUT:
        return _can_judge(gate)
    if call.hook == Hook.POST_ROLLOUT:
        return HookAnswer(True, gettext("Noted: the canary %(canary)s ended %(phase)s.") % _words(call))
    if call.hook == Hook.ROLLBACK and call.phase == WAITING:
        return HookAnswer(False, gettext("No rollback: the canary %(canary)s has not started.") % _words(call))
    release = gate.release_by_key(call.key, user, name=call.canary, version=call.checksum)
    if call.hook == Hook.PRE_ROLLOUT:
        text = gettext("The gate “%(gate)s” judges the canary %(canary)s as release %(release)d.")
        return HookAnswer(True, text % {**_words(call), "gate": gate.name, "release": release.pk}, release)
    verdict = release.answer(user)
    return HookAnswer(_passes(call.hook, verdict), verdict.answered_summary, release)


def _passes(hook: Hook, verdict: ReleaseVerdict) -> bool:
    """rollout: go on unless the verdict is rollback (a failed check); confirm-promotion: only
    on rollout (otherwise the canary waits); rollback: only on rollback (Flagger rolls back on yes)."""
    state = verdict.answered_state
    if hook == Hook.ROLLOUT:
        return state != VerdictState.ROLLBACK
    if hook == Hook.CONFIRM_PROMOTION:
        return state == VerdictState.ROLLOUT
    return state == VerdictState.ROLLBACK


def _can_judge(gate: Gate) -> HookAnswer:
    """Yes when every metric that counts has a trained model: otherwise a release would wait for
    it for ever, and the canary is better held back before it starts."""
    untrained = gate.metrics_without_model()
    if not untrained:
        return HookAnswer(True, gettext("The gate “%(gate)s” can judge the canary.") % {"gate": gate.name})
    names = ", ".join(f"“{metric.name}”" for metric in untrained)
    text = ngettext(
        "Waiting: %(names)s has no trained model yet; train it, and the canary can start.",
        "Waiting: %(names)s have no trained model yet; train them, and the canary can start.",
        len(untrained),
    )
    return HookAnswer(False, text % {"names": names})


def _words(call: FlaggerCall) -> dict[str, str]:
    return {"canary": call.canary, "phase": call.phase}
