"""A gate's outgoing webhooks: who hears about a release's verdict and outcome, and each
delivery of what they were sent (signed, retried with backoff, logged).

The methods that decide when to announce and how to deliver come with the notifications
capability; this module holds their records."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from metrics.models.gate import Gate, Release

WEBHOOK_URL_MAX_LENGTH = 2000
DELIVERY_ERROR_MAX_LENGTH = 500


class WebhookFormat(models.TextChoices):
    JSON = "json", _("JSON, signed")
    SLACK = "slack", _("Slack-compatible incoming webhook")


class DeliveryEvent(models.TextChoices):
    VERDICT = "verdict", _("Verdict changed")
    OUTCOME = "outcome", _("Outcome recorded")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    RETRYING = "retrying", _("Failed; will try again")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class Webhook(models.Model):
    """A URL that hears about a gate's releases: which verdict changes (each selectable) and
    outcomes, in which format, signed with its own secret (encrypted as a source's is)."""

    gate = models.ForeignKey(Gate, on_delete=models.CASCADE, related_name="webhooks", verbose_name=_("gate"))
    name = models.CharField(_("name"), max_length=100, blank=True, default="")
    url = models.URLField(_("URL"), max_length=WEBHOOK_URL_MAX_LENGTH)
    format = models.CharField(_("format"), max_length=8, choices=WebhookFormat.choices, default=WebhookFormat.JSON)
    # The HMAC-SHA256 signing secret, encrypted (`secret_box`).
    secret = models.TextField(blank=True, default="", editable=False)
    on_rollback = models.BooleanField(_("when the verdict turns rollback"), default=True)
    on_inconclusive = models.BooleanField(_("when the verdict turns inconclusive"), default=False)
    on_rollout = models.BooleanField(_("when the verdict turns rollout"), default=False)
    on_outcome = models.BooleanField(_("when an outcome is recorded"), default=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.name or self.url


class DeliveryQuerySet(models.QuerySet["Delivery"]):
    def counts_by_status(self) -> dict[str, int]:
        """How many deliveries are in each status (a DeliveryStatus value; none missing), in one query."""
        counted = self.order_by().values_list("status").annotate(count=models.Count("pk"))
        return dict.fromkeys(DeliveryStatus.values, 0) | dict(counted)


class Delivery(models.Model):
    """One message to a webhook: the exact body sent, and how its attempts went."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("webhook"))
    release = models.ForeignKey(
        Release, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("release")
    )
    event = models.CharField(_("event"), max_length=12, choices=DeliveryEvent.choices)
    # The verdict (a VerdictState) or the outcome (an Outcome value) it announces.
    state = models.CharField(_("state"), max_length=12)
    body = models.TextField(editable=False)
    status = models.CharField(
        _("status"), max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    response_status = models.PositiveSmallIntegerField(_("response status"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=DELIVERY_ERROR_MAX_LENGTH, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_attempt_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True, db_index=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    # A "send again" of an earlier delivery: the same body, signed anew.
    resent_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("sent again from")
    )

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        indexes = [models.Index(fields=["webhook", "-created_at"], name="delivery_webhook_newest")]

    def __str__(self) -> str:
        return f"{self.webhook}: {self.event} {self.state} ({self.status})"
