"""The refusals of the rollout domain: what a caller did that the rules do not allow, or a state
that stops a use case. Each says what happened in words a person can act on, names itself with a
`code` a program can test, and carries the HTTP `status` the API answers it with (`api/errors.py`
maps every one of them the same way, so no API view catches them one by one).

This module imports no model (the models import it), so that any layer can name a refusal.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext, ngettext

if TYPE_CHECKING:
    from metrics.models import (
        DataSource,
        Gate,
        ImportBatch,
        Job,
        Metric,
        Release,
        TrainedModel,
        Unusable,
        Verdict,
    )


class DomainError(Exception):
    """A refusal of the domain. `field`, when set, is the part of the request it is about: the
    API answers it as an error of that field (a 400), like a form error."""

    code: str
    status: HTTPStatus
    field: str | None = None
    retry_after: int | None = None  # seconds: a refusal that passes (the API sends Retry-After)


class MetricDeleted(DomainError):
    """The metric was deleted (by its owner, in another request) while data was sent to it."""

    code = "not_found"
    status = HTTPStatus.NOT_FOUND

    def __init__(self, metric: Metric) -> None:
        self.metric = metric
        super().__init__(
            gettext("The metric “%(name)s” was deleted while your data was being sent: nothing was stored.")
            % {"name": metric.name}
        )


class DuplicateMetric(DomainError):
    """A metric of that name and category was made by another request after this one was checked."""

    code = "duplicate"
    status = HTTPStatus.CONFLICT

    def __init__(self, metric: Metric) -> None:
        self.metric = metric
        super().__init__(metric.duplicate_message())


class NoTrainedModel(DomainError):
    code = "no_model"
    status = HTTPStatus.CONFLICT

    def __init__(self, metric: Metric) -> None:
        self.metric = metric
        super().__init__(
            gettext("“%(name)s” has no trained model yet. Train it, then run the prediction again.")
            % {"name": metric.name}
        )


class ModelUnusable(DomainError):
    code = "model_unusable"
    status = HTTPStatus.CONFLICT

    def __init__(self, model: TrainedModel, cause: Unusable) -> None:
        self.model = model
        self.cause = cause
        super().__init__(
            gettext("Version %(version)d of the model of “%(name)s” cannot be used: %(cause)s. Train it again.")
            % {"version": model.version, "name": model.metric.name, "cause": cause.label}
        )


class FeedbackAlreadyGiven(DomainError):
    code = "feedback_already_given"
    status = HTTPStatus.CONFLICT

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict
        super().__init__(gettext("What was decided for this verdict has already been recorded."))


class LabelledByOutcome(FeedbackAlreadyGiven):
    """The verdict's observation is labelled by its release's outcome: one point has one label,
    and the release's outcome says it for all of its observations (changing it relabels them)."""

    code = "labelled_by_outcome"

    def __init__(self, verdict: Verdict, release: Release) -> None:
        self.verdict = verdict
        self.release = release
        DomainError.__init__(
            self,
            gettext(
                "This observation is labelled by the outcome of release “%(release)s”: change the release's "
                "outcome instead."
            )
            % {"release": release},
        )


def _earlier_file(earlier: ImportBatch) -> dict[str, str]:
    """What a refusal says of the earlier import of the same file: into which metric, when, by whom, how many rows."""
    return {
        "name": earlier.metric.name if earlier.metric is not None else "",
        "when": date_format(earlier.created_at, "SHORT_DATETIME_FORMAT"),
        "who": earlier.uploaded_by.get_username() if earlier.uploaded_by else "—",
        "rows": number_format(earlier.rows, force_grouping=True),
    }


class DuplicateFile(DomainError):
    """The same file (same bytes) was imported into the metric already, or is being imported."""

    code = "duplicate_file"
    status = HTTPStatus.CONFLICT

    def __init__(self, earlier: ImportBatch) -> None:
        self.earlier = earlier
        params = _earlier_file(earlier)
        if earlier.rows:
            said = gettext("This file was already imported into “%(name)s” on %(when)s by %(who)s (%(rows)s rows).")
        else:
            # In parentheses: an English time ends with "p.m.", and a full stop after it would be doubled.
            said = gettext("This file is being imported into “%(name)s” (%(who)s uploaded it on %(when)s).")
        super().__init__(said % params)


class DuplicateFill(DomainError):
    """The same fill file (same bytes) was filled into the metric from the same data source
    already (and not undone), or is being filled."""

    code = "duplicate_file"
    status = HTTPStatus.CONFLICT

    def __init__(self, earlier: ImportBatch, *, from_releases: bool = False) -> None:
        self.earlier = earlier
        params = _earlier_file(earlier)
        if from_releases and earlier.rows:
            said = gettext(
                "The history of “%(name)s” was already filled from the releases recorded here and this data source "
                "on %(when)s by %(who)s (%(rows)s rows). Undo that fill to fill it again, with the releases "
                "recorded since."
            )
        elif from_releases:
            said = gettext(
                "The history of “%(name)s” is being filled from the releases recorded here (%(who)s asked on %(when)s)."
            )
        elif earlier.rows:
            said = gettext(
                "The history of “%(name)s” was already filled from these releases and this data source on %(when)s "
                "by %(who)s (%(rows)s rows). Undo that fill to fill it again."
            )
        else:
            said = gettext(
                "The history of “%(name)s” is being filled from these releases (%(who)s sent them on %(when)s)."
            )
        super().__init__(said % params)


class NothingToFill(DomainError):
    """A history fill of the releases recorded here, when none is left to read (`counts`: how
    many have an outcome, and why each was left out)."""

    code = "no_releases"
    status = HTTPStatus.CONFLICT

    def __init__(self, metric: Metric, with_outcome: int, left_out: str) -> None:
        """`with_outcome`: how many releases of the caller's gates of `metric` have one;
        `left_out`: why each was left out, in words."""
        self.metric, self.with_outcome = metric, with_outcome
        if not with_outcome:
            said = gettext(
                "No release of your gates that judge with “%(name)s” has an outcome yet: record what was done with "
                "each (rolled back or rolled out), or give a file of past releases."
            ) % {"name": metric.name}
        else:
            said = ngettext(
                "No release recorded here is left to fill the history of “%(name)s” from: the one with an outcome "
                "cannot be read.",
                "No release recorded here is left to fill the history of “%(name)s” from: none of the %(count)d "
                "with an outcome can be read.",
                with_outcome,
            ) % {"name": metric.name, "count": with_outcome}
            said = f"{said} {left_out}"
        super().__init__(said)


class CannotUndo(DomainError):
    """An import that cannot be undone; `code` says why (`already_undone`, `not_finished`, `nothing_stored`)."""

    code = "cannot_undo"
    status = HTTPStatus.CONFLICT

    def __init__(self, batch: ImportBatch, code: str) -> None:
        self.batch, self.code = batch, code
        messages = {
            "already_undone": gettext("The import of “%(file)s” was already undone."),
            "not_finished": gettext("The import of “%(file)s” has not finished yet: undo it once it has."),
            "nothing_stored": gettext("The import of “%(file)s” stored no indicator: there is nothing to undo."),
        }
        super().__init__(messages[code] % {"file": batch.file_name})


class NotInGate(DomainError):
    """An observation of a metric that is not one of the gate's: an error of the `metric` sent."""

    code = "not_in_gate"
    status = HTTPStatus.BAD_REQUEST
    field = "metric"

    def __init__(self, gate: Gate, metric: Metric) -> None:
        super().__init__(
            gettext("“%(metric)s” is not one of the metrics of the gate “%(gate)s”.")
            % {"metric": metric.name, "gate": gate.name}
        )


class QueueUnavailable(DomainError):
    """A job could not be sent to its queue (the broker was unreachable): worth trying again soon.
    The job is kept, failed, and says so (`Failure.UNQUEUED`)."""

    code = "unqueued"
    status = HTTPStatus.SERVICE_UNAVAILABLE
    retry_after = 30

    def __init__(self, job: Job) -> None:
        self.job = job
        super().__init__(job.outcome())


class InvalidReleaseKey(DomainError):
    """A release key that cannot be one (empty, too long, or with a space or an invisible
    character): an error of the `key` sent."""

    code = "invalid_key"
    status = HTTPStatus.BAD_REQUEST
    field = "key"


class ReleaseKeyTaken(DomainError):
    """Another release of the gate already has this key (the deployer's name for a deployment
    is unique in its gate)."""

    code = "duplicate"
    status = HTTPStatus.CONFLICT

    def __init__(self, gate: Gate, key: str) -> None:
        super().__init__(
            gettext(
                "The gate “%(gate)s” already has a release with the key “%(key)s”: send its observations and ask its "
                "verdict by that key, or give this release another key."
            )
            % {"gate": gate.name, "key": key}
        )


class OutcomeRefused(DomainError):
    """Who may not record this release's outcome (only its gate's owner, or whoever opened it), or
    change one already recorded (only the gate's owner)."""

    code = "forbidden"
    status = HTTPStatus.FORBIDDEN

    def __init__(self, release: Release, *, change: bool) -> None:
        self.release = release
        message = (
            gettext(
                "The outcome of this release is already recorded (%(outcome)s): only the owner of the gate "
                "“%(gate)s” may change it."
            )
            % {"outcome": release.get_outcome_display().lower(), "gate": release.gate.name}
            if change
            else gettext(
                "Only the owner of the gate “%(gate)s”, or whoever opened this release, may record its outcome."
            )
            % {"gate": release.gate.name}
        )
        super().__init__(message)


class NotBound(DomainError):
    """A history fill of a metric that is not bound to a data source: nothing to read it from."""

    code = "not_bound"
    status = HTTPStatus.CONFLICT

    def __init__(self, metric: Metric) -> None:
        self.metric = metric
        super().__init__(
            gettext("“%(name)s” is not bound to a data source: bind it to one first, then fill its history from it.")
            % {"name": metric.name}
        )


class SourceDeleted(DomainError):
    """The data source a metric was being bound to was deleted meanwhile (by its owner, in another
    request): an error of the `source` sent."""

    code = "source_deleted"
    status = HTTPStatus.BAD_REQUEST
    field = "source"

    def __init__(self) -> None:
        super().__init__(gettext("This data source was deleted meanwhile: choose another."))


class SourceInUse(DomainError):
    """A data source some metrics are bound to: it cannot be deleted before they are unbound."""

    code = "in_use"
    status = HTTPStatus.CONFLICT

    def __init__(self, source: DataSource, metric_names: list[str]) -> None:
        self.source = source
        super().__init__(
            gettext(
                "The data source “%(name)s” cannot be deleted: these metrics read their values from it: "
                "%(metrics)s. Bind them to another source, or unbind them, first."
            )
            % {"name": source.name, "metrics": ", ".join(f"“{name}”" for name in metric_names)}
        )


class DuplicateSource(DomainError):
    """The owner has a data source of that name already (made by another request after this one was checked)."""

    code = "duplicate"
    status = HTTPStatus.CONFLICT

    def __init__(self, name: str) -> None:
        super().__init__(duplicate_source_message(name))


def duplicate_source_message(name: str) -> str:
    return gettext("You already have a data source named “%(name)s”: give this one another name.") % {"name": name}


class ReplayRefused(DomainError, PermissionDenied):
    """Who may not replay a gate, try other settings on its replay or apply them: its owner alone
    changes what its releases are judged by. A `PermissionDenied` too: a page answers it 403."""

    code = "forbidden"
    status = HTTPStatus.FORBIDDEN

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        super().__init__(
            gettext("Only the owner of the gate “%(gate)s” may replay it, try other settings or apply them.")
            % {"gate": gate.name}
        )


class NothingToReplay(DomainError):
    """No release of the gate has an outcome in the range asked for: nothing to compare with."""

    code = "nothing_to_replay"
    status = HTTPStatus.CONFLICT

    def __init__(self, gate: Gate, *, ranged: bool) -> None:
        self.gate = gate
        message = (
            gettext(
                "No release of the gate “%(gate)s” started in that range has an outcome: a replay compares the "
                "gate with what the team did. Choose another range, or record the outcomes first."
            )
            if ranged
            else gettext(
                "No release of the gate “%(gate)s” has an outcome yet: a replay compares the gate with what the "
                "team did. Record what was done with its releases first."
            )
        )
        super().__init__(message % {"gate": gate.name})


class ReplayNotFinished(DomainError):
    """A replay that has not finished (or failed) has no report to compare with or apply."""

    code = "replay_not_finished"
    status = HTTPStatus.CONFLICT

    def __init__(self) -> None:
        super().__init__(gettext("This replay has not finished: wait for its report, or run it again."))


class GateChangedSinceReplay(DomainError):
    """The gate's metrics are not those the replay judged with: its settings cannot be applied."""

    code = "gate_changed"
    status = HTTPStatus.CONFLICT

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        super().__init__(
            gettext(
                "The metrics of the gate “%(gate)s” changed since this replay: its settings no longer fit the "
                "gate. Replay the gate again and compare with that."
            )
            % {"gate": gate.name}
        )
