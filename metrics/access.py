"""The one way to fetch what a user touches: 404 if missing (or not visible), 403 if not allowed.

Every caller (HTML views now; the API and background jobs later) passes the user, so
the same rules hold whether the user comes from a session, a token or a task.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from metrics.exceptions import InvalidReleaseKey, ReplayRefused
from metrics.models import (
    DataSource,
    Delivery,
    Gate,
    ImportBatch,
    Indicator,
    Job,
    Metric,
    Release,
    Replay,
    TrainedModel,
    Verdict,
    Webhook,
)
from metrics.models.gate import release_key_error

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User
    from django.db.models import QuerySet


def get_metric(user: User | AnonymousUser, metric_id: int) -> Metric:
    return get_object_or_404(Metric.objects.visible_to(user).select_related("owner"), pk=metric_id)


def get_trained_model(user: User | AnonymousUser, model_id: int) -> TrainedModel:
    models = TrainedModel.objects.defer("artifact").select_related("metric")
    return get_object_or_404(models, pk=model_id, metric__in=Metric.objects.visible_to(user))


def get_metric_for_deletion(user: User | AnonymousUser, metric_id: int) -> Metric:
    metric = get_metric(user, metric_id)
    if not metric.can_delete(user):
        raise PermissionDenied(_("Only the metric's owner may delete it."))
    return metric


def get_metric_for_fill(user: User | AnonymousUser, metric_id: int) -> Metric:
    metric = get_metric(user, metric_id)
    if not metric.can_fill(user):
        raise PermissionDenied(_("Only the metric's owner may fill its history from its data source."))
    return metric


def get_indicator_for_deletion(user: User | AnonymousUser, metric_id: int, indicator_id: int) -> Indicator:
    indicator = get_object_or_404(
        Indicator.objects.select_related("metric"),
        pk=indicator_id,
        metric__in=Metric.objects.visible_to(user).filter(pk=metric_id),
    )
    if not indicator.can_delete(user):
        raise PermissionDenied(_("Only the indicator's author or the metric's owner may delete it."))
    return indicator


def get_verdict(user: User | AnonymousUser, verdict_id: int) -> Verdict:
    verdicts = Verdict.objects.select_related("metric", "model", "asked_by", "feedback_by")
    return get_object_or_404(verdicts, pk=verdict_id, metric__in=Metric.objects.visible_to(user))


def get_verdict_for_feedback(user: User | AnonymousUser, verdict_id: int) -> Verdict:
    verdict = get_verdict(user, verdict_id)
    if not verdict.can_give_feedback(user):
        raise PermissionDenied(_("Only who asked for this verdict, or the metric's owner, may say what was decided."))
    return verdict


def get_metric_for_settings(user: User | AnonymousUser, metric_id: int) -> Metric:
    metric = get_metric(user, metric_id)
    if not metric.can_change_settings(user):
        raise PermissionDenied(_("Only the metric's owner may change its settings and its active version."))
    return metric


def get_metric_for_binding(user: User | AnonymousUser, metric_id: int) -> Metric:
    """A metric whose production query `user` may see, change and preview: the owner's alone,
    as the data sources it reads are."""
    metric = get_metric(user, metric_id)
    if not metric.can_bind(user):
        raise PermissionDenied(_("Only the metric's owner may bind it to a data source."))
    return metric


def get_trained_model_for_activation(user: User | AnonymousUser, model_id: int) -> TrainedModel:
    model = get_trained_model(user, model_id)
    if not model.metric.can_change_settings(user):
        raise PermissionDenied(_("Only the metric's owner may change its settings and its active version."))
    return model


def get_job(user: User | AnonymousUser, job_id: int) -> Job:
    """A job's progress is as visible as its metric (the shared catalogue), or a replay's as its replay."""
    visible = Q(metric__in=Metric.objects.visible_to(user)) | Q(replay__in=Replay.objects.visible_to(user))
    return get_object_or_404(Job.objects.listed().filter(visible), pk=job_id)


def get_job_for_dismissal(user: User | AnonymousUser, job_id: int) -> Job:
    job = get_job(user, job_id)
    if not job.can_dismiss(user):
        raise PermissionDenied(_("Only who sent the file may dismiss why its import failed."))
    return job


def get_batch(user: User | AnonymousUser, batch_id: int) -> ImportBatch:
    """An uploaded file is as visible as its metric: the shared catalogue. A release's labels
    (of no one metric) are as visible as the release; once it is deleted, as the metrics they
    went into (the catalogue)."""
    batches = ImportBatch.objects.listed().select_related("metric", "release__gate")
    visible = (
        Q(metric__in=Metric.objects.visible_to(user))
        | Q(metric__isnull=True, release__in=Release.objects.visible_to(user))
        | Q(
            metric__isnull=True,
            release__isnull=True,
            pk__in=Indicator.objects.filter(metric__in=Metric.objects.visible_to(user)).values("batch_id"),
        )
    )
    return get_object_or_404(batches.filter(visible), pk=batch_id)


def get_batch_for_undo(user: User | AnonymousUser, batch_id: int) -> ImportBatch:
    batch = get_batch(user, batch_id)
    if not batch.can_undo(user):
        if batch.metric is None and batch.release is None:
            raise PermissionDenied(
                _(
                    "Only who recorded the release's outcome, or the owner of every metric its labels went into, "
                    "may undo them (the release was deleted)."
                )
            )
        if batch.metric is None:
            raise PermissionDenied(
                _("Only who recorded the release's outcome, or the gate's owner, may undo the labels it gave.")
            )
        raise PermissionDenied(_("Only who uploaded the file, or the metric's owner, may undo its import."))
    return batch


def _gates(user: User | AnonymousUser) -> QuerySet[Gate]:
    """Gates are shared like the catalogue: any active account sees them."""
    return Gate.objects.select_related("owner") if user.is_authenticated and user.is_active else Gate.objects.none()


def get_gate(user: User | AnonymousUser, gate_id: int) -> Gate:
    return get_object_or_404(_gates(user), pk=gate_id)


def get_gate_for_change(user: User | AnonymousUser, gate_id: int, *, lock: bool = False) -> Gate:
    """With `lock`, in a transaction: the gate's row stays locked until it ends, so that of two
    changes at once the second reads (and checks its change against) what the first saved,
    and a gate deleted meanwhile is a 404, not saved back."""
    gates = _gates(user).select_for_update(of=("self",)) if lock else _gates(user)
    gate = get_object_or_404(gates, pk=gate_id)
    if not gate.can_change(user):
        raise PermissionDenied(_("Only the gate's owner may change it."))
    return gate


def get_gate_for_release(user: User | AnonymousUser, gate_id: int) -> Gate:
    gate = get_gate(user, gate_id)
    if not gate.can_start_release(user):
        raise PermissionDenied(_("Only the gate's owner may start its releases."))
    return gate


def get_gate_for_replay(user: User | AnonymousUser, gate_id: int) -> Gate:
    """A gate its owner replays: anyone else is refused before anything is read of the request."""
    gate = get_gate(user, gate_id)
    if not gate.can_change(user):
        raise ReplayRefused(gate)
    return gate


def get_replay(user: User | AnonymousUser, replay_id: int) -> Replay:
    """Replays are read like their gates: by any active account."""
    replays = (
        Replay.objects.visible_to(user)
        .select_related("gate", "gate__owner", "requested_by", "compared_with")
        .with_jobs()
    )
    return get_object_or_404(replays, pk=replay_id)


def get_replay_for_change(user: User | AnonymousUser, replay_id: int) -> Replay:
    """A replay whose settings its gate's owner tries others of, or applies."""
    replay = get_replay(user, replay_id)
    if not replay.can_change(user):
        raise ReplayRefused(replay.gate)
    return replay


def get_release(user: User | AnonymousUser, release_id: int) -> Release:
    """Releases are read like the gates: by any active account."""
    releases = Release.objects.visible_to(user).select_related("gate", "gate__owner", "created_by", "outcome_by")
    return get_object_or_404(releases, pk=release_id)


def get_release_by_key(user: User | AnonymousUser, gate_id: int, key: str, *, may_start: bool) -> Release:
    """A gate's release by the deployer's key, read like a release by its id (by any active
    account). A key the gate has no release for yet starts one, when `may_start` (the caller
    may write: not a read-only token) and the caller may start the gate's releases: Argo
    Rollouts' first measurement may come before any observation. Anyone else gets a 404."""
    gate = get_gate(user, gate_id)
    if may_start and gate.can_start_release(user):
        return gate.release_by_key(key, cast("User", user))  # signed in: it may start releases
    if message := release_key_error(key):  # no release has it (and PostgreSQL refuses a NUL in a query)
        raise InvalidReleaseKey(message)
    return get_object_or_404(Release.objects.visible_to(user).select_related("gate", "gate__owner"), gate=gate, key=key)


def get_release_for_observation(user: User | AnonymousUser, release_id: int) -> Release:
    release = get_release(user, release_id)
    if not release.can_observe(user):
        raise PermissionDenied(_("Only the gate's owner may push observations to its releases."))
    return release


def get_release_for_outcome(user: User | AnonymousUser, release_id: int) -> Release:
    """A release whose outcome `user` may record (changing one recorded is checked when it is)."""
    return _may_record_outcome(user, get_release(user, release_id))


def get_release_by_key_for_outcome(user: User | AnonymousUser, gate_id: int, key: str) -> Release:
    """A gate's release by its key, whose outcome `user` may record: an outcome starts no release
    (a key the gate has none for is a 404)."""
    return _may_record_outcome(user, get_release_by_key(user, gate_id, key, may_start=False))


def _may_record_outcome(user: User | AnonymousUser, release: Release) -> Release:
    if not release.can_record_outcome(user):
        raise PermissionDenied(_("Only the gate's owner, or whoever opened this release, may record its outcome."))
    return release


def get_data_source(user: User | AnonymousUser, source_id: int, *, lock: bool = False) -> DataSource:
    """A data source is its owner's alone: to anyone else it does not exist (404), whether to read,
    change, delete or test it. With `lock`, in a transaction: the row stays locked until it ends
    (a change checked against what another just saved, a source deleted meanwhile a 404)."""
    sources = DataSource.objects.visible_to(user).select_related("owner")
    return get_object_or_404(sources.select_for_update(of=("self",)) if lock else sources, pk=source_id)


def get_webhook(user: User | AnonymousUser, webhook_id: int, *, lock: bool = False) -> Webhook:
    """A gate's webhook is its owner's alone, like a data source: its address and its secret are
    not the catalogue's. To anyone else it does not exist (404), whether to read, change or delete
    it. With `lock`, in a transaction: the row stays locked until it ends."""
    webhooks = Webhook.objects.select_related("gate", "gate__owner")
    webhook = get_object_or_404(webhooks.select_for_update(of=("self",)) if lock else webhooks, pk=webhook_id)
    if not webhook.can_change(user):
        raise Http404
    return webhook


def get_delivery(user: User | AnonymousUser, delivery_id: int) -> Delivery:
    """A delivery, as visible as its webhook (to its gate's owner alone), to send it again."""
    delivery = get_object_or_404(Delivery.objects.select_related("webhook", "webhook__gate"), pk=delivery_id)
    if not delivery.webhook.can_change(user):
        raise Http404
    return delivery
