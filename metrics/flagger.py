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

Flagger says what it did, and that is the release's outcome (`Release.record_outcome`, through
Flagger, by the token's user). A yes to `rollback` makes Flagger roll the canary back at once
(`scheduler.go`: "Rolling back ... manual webhook invoked"): answering it records the rollback.
`post-rollout` is called once the canary ended, with the phase `Succeeded` (promoted, or its
analysis skipped) or `Failed` (rolled back; in later Flagger also a primary that failed its
promotion), and the same checksum as the revision's other hooks: the release with that key, if
the gate has one, rolled out or back. Flagger reads nothing of post-rollout's answer but to write
an event (a warning, with the answer's text, when it is not 2xx), so a canary ends as it ends
whatever is answered: a refusal to record is answered as the refusal it is; a canary whose
revision the gate never judged (no release with its key) is noted, and nothing is started.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import models
from django.utils.translation import gettext, ngettext

from metrics.exceptions import OutcomeRefused
from metrics.models import Outcome, OutcomeVia, VerdictState
from metrics.models.gate import OUTCOME_NOTE_MAX_LENGTH, fitted

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from metrics.models import Gate, Release, ReleaseVerdict

# Flagger's phase while a confirm-rollout hook holds the canary back (its checksum is stale then).
WAITING = "Waiting"
# The phases post-rollout is called with (Flagger's CanaryPhaseSucceeded and CanaryPhaseFailed),
# and what each says was done with the revision.
ENDED = {"Succeeded": Outcome.ROLLOUT, "Failed": Outcome.ROLLBACK}


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
        return _record_end(gate, user, call)
    if call.hook == Hook.ROLLBACK and call.phase == WAITING:
        return HookAnswer(False, gettext("No rollback: the canary %(canary)s has not started.") % _words(call))
    release = gate.release_by_key(call.key, user, name=call.canary, version=call.checksum)
    if call.hook == Hook.PRE_ROLLOUT:
        text = gettext("The gate “%(gate)s” judges the canary %(canary)s as release %(release)d.")
        return HookAnswer(True, text % {**_words(call), "gate": gate.name, "release": release.pk}, release)
    verdict = release.answer(user)
    passes = _passes(call.hook, verdict)
    if call.hook == Hook.ROLLBACK and passes:
        return HookAnswer(True, f"{verdict.answered_summary} {_record_rollback(release, user, call)}", release)
    return HookAnswer(passes, verdict.answered_summary, release)


def _record_rollback(release: Release, user: User, call: FlaggerCall) -> str:
    """The rollback Flagger is told to make, recorded as the release's outcome; in words. A
    refusal to record it leaves the answer a yes: the verdict, not the record, rolls back."""
    note = gettext("Flagger was told to roll back the canary %(canary)s (its rollback hook).") % _words(call)
    try:
        changed = release.record_outcome(
            Outcome.ROLLBACK, user, via=OutcomeVia.FLAGGER, note=fitted(note, OUTCOME_NOTE_MAX_LENGTH)
        )
    except OutcomeRefused as refused:
        return gettext("Its outcome was not recorded: %(reason)s") % {"reason": refused}
    if changed:
        return gettext("Recorded as rolled back.")
    return gettext("Already recorded as rolled back.")


def _record_end(gate: Gate, user: User, call: FlaggerCall) -> HookAnswer:
    """How the canary ended, recorded as its release's outcome. The release is looked up, never
    started: a revision the gate never judged has nothing to record. Raises `OutcomeRefused`."""
    words = _words(call)
    outcome = ENDED.get(call.phase)
    if outcome is None:
        text = gettext(
            "Noted: the canary %(canary)s ended %(phase)s; only Succeeded or Failed is an outcome, so nothing was "
            "recorded."
        )
        return HookAnswer(True, text % words)
    release = gate.releases.filter(key=call.key).first()
    if release is None:
        text = gettext(
            "Noted: the canary %(canary)s ended %(phase)s; the gate has no release %(key)s, so nothing was recorded."
        )
        return HookAnswer(True, text % {**words, "key": call.key})
    note = (
        gettext("Flagger promoted the canary %(canary)s (it ended Succeeded).")
        if outcome == Outcome.ROLLOUT
        else gettext("Flagger rolled back the canary %(canary)s (it ended Failed).")
    ) % words
    changed = release.record_outcome(outcome, user, via=OutcomeVia.FLAGGER, note=fitted(note, OUTCOME_NOTE_MAX_LENGTH))
    text = (
        gettext("The canary %(canary)s ended %(phase)s: recorded as %(outcome)s.")
        if changed
        else gettext("The canary %(canary)s ended %(phase)s: already recorded as %(outcome)s.")
    )
    return HookAnswer(True, text % {**words, "outcome": outcome.label.lower()}, release)


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
