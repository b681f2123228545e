"""What training several metrics came to, and how it is said, in the reader's language: the list
page's Train button (`messages`) and the `train` command (`command_report`, `command_problems`,
`command_summary`) word the same outcomes here, from the trainings' jobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.contrib.messages import constants as levels
from django.utils.translation import gettext, ngettext

from metrics.formatting import percent
from metrics.models import MIN_INDICATORS, MIN_PER_DECISION, Failure, Job, JobStatus, Metric

if TYPE_CHECKING:
    from collections.abc import Iterable

    from django.contrib.auth.models import AnonymousUser, User

# The names of others' metrics listed at most (then "…").
NOT_YOURS_LISTED = 10


def labelled(metric: Metric) -> str:
    """A metric as a command line names it: 'p95 latency' (Checkout)."""
    return f"{metric.name!r} ({metric.category})"


@dataclass
class TrainingOutcomes:
    # One per metric trained: its job as it ended, or as it waits for a worker.
    jobs: list[Job] = field(default_factory=list)
    # Not trained, and no job: too little data to train.
    short_of_data: list[Metric] = field(default_factory=list)
    # Not trained: left for the next run once the time budget was spent.
    remaining: list[Metric] = field(default_factory=list)
    # The names of metrics needing training that are others' to train (up to one more than listed).
    not_yours: list[str] = field(default_factory=list)

    @property
    def done(self) -> list[Job]:
        return [job for job in self.jobs if job.status == JobStatus.DONE]

    @property
    def waiting(self) -> list[Job]:
        return [job for job in self.jobs if job.is_active]

    @property
    def not_enough_data(self) -> list[Metric]:
        return self.short_of_data + self._failed_for(Failure.NOT_ENOUGH_DATA)

    @property
    def unlearnable(self) -> list[Metric]:
        return self._failed_for(Failure.BAD_DATA)

    @property
    def failed_otherwise(self) -> list[Job]:
        """The trainings that failed for another reason than their data (their outcome says why)."""
        reasons_in_the_data = (Failure.NOT_ENOUGH_DATA, Failure.BAD_DATA)
        return [job for job in self.jobs if job.status == JobStatus.FAILED and job.failure not in reasons_in_the_data]

    @property
    def failed(self) -> list[Metric]:
        """The metrics whose training failed, but for too little data."""
        return self.unlearnable + [job.target_metric for job in self.failed_otherwise]

    @property
    def did_nothing(self) -> bool:
        return not (self.jobs or self.short_of_data or self.remaining)

    def _failed_for(self, failure: Failure) -> list[Metric]:
        return [job.target_metric for job in self.jobs if job.status == JobStatus.FAILED and job.failure == failure]

    # The list page's messages, as (level, text).

    def messages(self, user: User | AnonymousUser) -> list[tuple[int, str]]:
        said = [
            *self._trained_message(),
            *self._data_messages(),
            *[(levels.ERROR, job.outcome()) for job in self.failed_otherwise],
            *self._waiting_message(),
            *self._not_yours_message(),
        ]
        return said + self._up_to_date_message(user)

    def _trained_message(self) -> list[tuple[int, str]]:
        done = self.done
        if not done:
            return []
        text = ngettext("Trained %(count)d model: %(names)s.", "Trained %(count)d models: %(names)s.", len(done))
        return [(levels.SUCCESS, text % {"count": len(done), "names": names_of(job.target_metric for job in done)})]

    def _data_messages(self) -> list[tuple[int, str]]:
        said = []
        if too_little := self.not_enough_data:
            text = gettext(
                "Not enough data to train: %(names)s. Each metric needs at least %(minimum)d indicators, "
                "with at least %(per_decision)d rollbacks and %(per_decision)d rollouts."
            )
            values = {"names": names_of(too_little), "minimum": MIN_INDICATORS, "per_decision": MIN_PER_DECISION}
            said.append((levels.WARNING, text % values))
        if unlearnable := self.unlearnable:
            text = gettext("These metrics hold values that cannot be learnt from; check their data: %(names)s.")
            said.append((levels.ERROR, text % {"names": names_of(unlearnable)}))
        return said

    def _waiting_message(self) -> list[tuple[int, str]]:
        waiting = self.waiting
        if not waiting:
            return []
        text = ngettext(
            "%(count)d training queued (%(names)s): follow it under Jobs.",
            "%(count)d trainings queued (%(names)s): follow them under Jobs.",
            len(waiting),
        )
        return [(levels.INFO, text % {"count": len(waiting), "names": names_of(job.target_metric for job in waiting)})]

    def _not_yours_message(self) -> list[tuple[int, str]]:
        if not self.not_yours:
            return []
        text = ngettext(
            "Not trained, as it is not yours (you neither own it nor added data to it): %(names)s.",
            "Not trained, as they are not yours (you neither own them nor added data to them): %(names)s.",
            len(self.not_yours),
        )
        names = ", ".join(self.not_yours[:NOT_YOURS_LISTED]) + (", …" if len(self.not_yours) > NOT_YOURS_LISTED else "")
        return [(levels.INFO, text % {"names": names})]

    def _up_to_date_message(self, user: User | AnonymousUser) -> list[tuple[int, str]]:
        if not (self.jobs or self.not_yours or self.short_of_data):
            return [
                (levels.INFO, gettext("Every model is up to date: no metric has new data since its last training."))
            ]
        if not (self.jobs or self.short_of_data) and Metric.objects.has_any_worked_on_by(user):
            return [(levels.INFO, gettext("The models of your metrics are up to date."))]
        return []

    # The `train` command's lines: what it did (standard output), what it did not (standard error).

    def command_report(self) -> list[str]:
        lines = []
        for job in self.done:
            if (model := job.result) is None:
                continue
            text = gettext(
                "Trained %(metric)s: version %(version)d, %(accuracy)s held-out accuracy on %(count)d indicators."
            )
            values = {"accuracy": percent(model.accuracy), "count": model.n_indicators}
            lines.append(text % {"metric": labelled(job.target_metric), "version": model.version, **values})
            if model.candidate_reason:
                why = gettext("Version %(version)d does not answer verdicts. %(why)s")
                lines.append("  " + why % {"version": model.version, "why": model.candidate_summary})
        left = gettext("Left %(metric)s for the next run: the time budget is spent.")
        return lines + [left % {"metric": labelled(metric)} for metric in self.remaining]

    def command_problems(self) -> list[str]:
        skipped = gettext("Skipped %(metric)s: not enough data to train.")
        unlearnt = gettext("Failed %(metric)s: its values cannot be learnt from.")
        busy = gettext("“%(name)s” is already being trained: its progress shows on its page.")
        return [
            *[skipped % {"metric": labelled(metric)} for metric in self.not_enough_data],
            *[unlearnt % {"metric": labelled(metric)} for metric in self.unlearnable],
            *[job.outcome() for job in self.failed_otherwise],
            *[busy % {"name": job.target_metric.name} for job in self.waiting],
        ]

    def command_summary(self) -> str:
        if self.did_nothing:
            return gettext("Nothing to train: every model is up to date and usable.")
        return gettext("%(trained)d trained, %(short)d without enough data, %(failed)d failed, %(left)d left.") % {
            "trained": len(self.done),
            "short": len(self.not_enough_data),
            "failed": len(self.failed),
            "left": len(self.remaining),
        }


def names_of(metrics: Iterable[Metric]) -> str:
    return ", ".join(metric.name for metric in metrics)
