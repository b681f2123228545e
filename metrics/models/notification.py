"""A gate's outgoing webhooks: who hears about a release's verdict and outcome, and each
delivery of what they were sent (signed, retried with backoff, logged).

When a release's real verdict changes (`WebhookQuerySet.announce_verdict`, called wherever the
verdict is computed for a pipeline or a pull) and when an outcome is recorded
(`announce_outcome`), each active webhook of the gate that asked for it gets one `Delivery`: the
exact JSON text to send, composed once, in the server's language. It is sent once the
transaction commits, by a Celery task (`Delivery.attempt`), never within the request that
changed the verdict: a receiver that hangs or fails slows no pipeline. A failed try that may
pass (no answer, a 5xx, a 408 or a 429) is tried again after a wait that doubles each time.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from celery import signature
from cryptography.fernet import InvalidToken
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from metrics import webhook_http
from metrics.formatting import number
from metrics.models.data_source import SecretUnreadable, secret_box
from metrics.models.gate import DecidedBy, Gate, MetricCause, MetricJudgement, Outcome, Release, ReleaseVerdict
from metrics.models.verdict import VerdictState
from stores.reach import AllowedHosts, HostRefusal, NotAllowed

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

logger = logging.getLogger("mbreak.webhooks")

WEBHOOK_URL_MAX_LENGTH = 2000
DELIVERY_ERROR_MAX_LENGTH = 500
# A webhook's signing secret: Stripe's look ("whsec_" and 43 URL-safe characters: 256 bits).
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
# The task that sends a delivery (named: the models do not import the tasks).
DELIVER_WEBHOOK = "metrics.tasks.deliver_webhook"
# A delivery due this long ago and still not tried lost its task (a broker flushed, a worker
# killed mid-send): the sweep sends it again.
LOST_AFTER = timedelta(minutes=5)
# A try holds its delivery this long beyond the timeout: a worker that died while sending
# leaves it to the sweep afterwards, and no other task sends it meanwhile.
ATTEMPT_LEASE_MARGIN = timedelta(seconds=60)
# The longest wait a receiver's Retry-After is granted (`webhook_http` reads it no longer).
LONGEST_RETRY_AFTER = timedelta(seconds=webhook_http.LONGEST_RETRY_AFTER_SECONDS)
# The newest deliveries shown on a gate's page (its webhooks' pages show them all, by page).
RECENT_DELIVERIES = 10

FLAG_OF_STATE = {
    VerdictState.ROLLBACK: "on_rollback",
    VerdictState.INCONCLUSIVE: "on_inconclusive",
    VerdictState.ROLLOUT: "on_rollout",
}


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


# Why a try got no status (`Delivery.error`, when `response_status` is empty), in words.
FAILURE_WORDS = {
    webhook_http.Failure.TIMEOUT: _("The receiver did not answer within the timeout."),
    webhook_http.Failure.CONNECT_TIMEOUT: _("No connection to the receiver within the timeout."),
    webhook_http.Failure.DNS: _("The receiver's host name is not known (DNS)."),
    webhook_http.Failure.REFUSED: _("The connection was refused: nothing answers at that address and port."),
    webhook_http.Failure.TLS: _("The secure connection failed (TLS)."),
    webhook_http.Failure.CONNECTION: _("The connection broke before an answer came."),
    webhook_http.Failure.INVALID_URL: _("The URL cannot be sent to."),
    webhook_http.Failure.OTHER: _("The message could not be sent."),
}
SECRET_UNREADABLE = "secret_unreadable"  # noqa: S105 - a code, not a secret
# A try refused before it was sent: `host_refused:<HostRefusal>:<the addresses, comma-separated>`.
HOST_REFUSED = "host_refused"


class WebhookQuerySet(models.QuerySet["Webhook"]):
    def announce_verdict(self, release: Release, verdict: ReleaseVerdict, at: datetime | None = None) -> list[Delivery]:
        """Announce `verdict` (the release's, as of `at`: now by default) if it is not the one
        announced last (`Release.announced_state`): one delivery to each active webhook of the
        gate that asked for its state, sent once the transaction commits. Returns them.

        The real verdict counts, in dry run too (the message says the gate is in dry run). A
        verdict that waits for the first observation of a counted metric is no verdict yet: it
        is never announced, so a release does not begin with an "inconclusive" to every webhook
        that asked for those; the first verdict announced is the first one decided. Two
        processes that see the same change at once announce it once: the announced state
        moves by one conditional UPDATE, and only the one that moved it sends."""
        if verdict.decided_by == DecidedBy.WAITING or verdict.state == release.announced_state:
            return []
        previous = release.announced_state
        if translation.get_language() != settings.LANGUAGE_CODE:
            # Sent in the server's language, whoever asked (a pipeline's Accept-Language).
            with translation.override(settings.LANGUAGE_CODE):
                verdict = release.verdict(at)
            if verdict.decided_by == DecidedBy.WAITING or verdict.state == previous:
                return []
        with transaction.atomic():
            moved = Release.objects.filter(pk=release.pk, announced_state=previous).update(
                announced_state=verdict.state
            )
            if not moved:  # another process announced it (or something newer) first
                return []
            release.announced_state = verdict.state
            listening = list(
                self.filter(gate_id=release.gate_id, active=True, **{FLAG_OF_STATE[VerdictState(verdict.state)]: True})
            )
            if not listening:
                return []
            with translation.override(settings.LANGUAGE_CODE):
                message = VerdictMessage(release, verdict, previous, timezone.now())
                return _deliver(listening, release, DeliveryEvent.VERDICT, verdict.state, message)

    def announce_outcome(self, release: Release, previous: str = "") -> list[Delivery]:
        """Announce the outcome just recorded for `release` (changed from `previous`, "" for
        none) to each active webhook of its gate that asked for outcomes, once the transaction
        commits. Called by `Release.record_outcome` when the outcome changed."""
        listening = list(self.filter(gate_id=release.gate_id, active=True, on_outcome=True))
        if not listening:
            return []
        with translation.override(settings.LANGUAGE_CODE):
            message = OutcomeMessage(release, previous, timezone.now())
            return _deliver(listening, release, DeliveryEvent.OUTCOME, release.outcome, message)

    def rotate_secrets(self) -> tuple[int, list[Webhook]]:
        """Encrypt every webhook's secret again with the current key (as `DataSourceQuerySet.rotate_secrets`):
        how many were, and the webhooks whose secret no key of this server reads (left as they are:
        their owner makes a new one)."""
        box = secret_box()
        rotated, unreadable = 0, []
        for webhook in self.exclude(secret="").only("pk", "name", "url", "gate", "secret").order_by("pk"):
            try:
                encrypted = box.rotate(webhook.secret.encode()).decode()
            except InvalidToken:
                unreadable.append(webhook)
                continue
            rotated += Webhook.objects.filter(pk=webhook.pk, secret=webhook.secret).update(secret=encrypted)
        return rotated, unreadable


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

    objects = WebhookQuerySet.as_manager()

    class Meta:
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.name or self.host

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A webhook always has a secret: a receiver can verify every message from the first.
        if not self.secret:
            self.new_secret()
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("metrics:webhook", args=[self.pk])

    def clean(self) -> None:
        errors: dict[str, ValidationError] = {}
        if self.url and (message := webhook_url_error(self.url)):
            errors["url"] = ValidationError(message, code="invalid_url")
        elif self.url:
            try:
                webhook_hosts().check(self.host, resolve_names=False)
            except NotAllowed as refusal:
                words = webhook_reach_words(refusal.host, refusal.refusal, refusal.addresses)
                errors["url"] = ValidationError(words, code="host_not_allowed")
        if not self.events:
            errors[NON_FIELD_ERRORS] = ValidationError(
                gettext(
                    "Choose at least one thing to send: the verdict turning rollback, inconclusive or rollout, or an "
                    "outcome recorded."
                ),
                code="no_event",
            )
        if errors:
            raise ValidationError(errors)

    def can_change(self, user: User | AnonymousUser) -> bool:
        """A gate's webhooks, their secrets and their deliveries are its owner's alone."""
        return self.gate.can_change(user)

    def new_secret(self) -> str:
        """Make it a new signing secret (kept encrypted; the caller saves), and return it. The old
        one stops signing at once: a receiver must take the new one."""
        plain = SECRET_PREFIX + secrets.token_urlsafe(32)
        self.secret = secret_box().encrypt(plain.encode()).decode()
        return plain

    def read_secret(self) -> str:
        """The signing secret in plain text, for the gate's owner and the signature only. Raises
        `SecretUnreadable` when it was encrypted with a key this server no longer has."""
        try:
            return secret_box().decrypt(self.secret.encode()).decode()
        except InvalidToken:
            raise SecretUnreadable(self.pk) from None

    @property
    def host(self) -> str:
        """Where it sends, without the path, which may hold a token (Slack's does)."""
        return urlsplit(self.url).hostname or ""

    @property
    def events(self) -> list[str]:
        """What it hears about, in words, in order."""
        chosen = [
            (self.on_rollback, gettext("rollback")),
            (self.on_inconclusive, gettext("inconclusive")),
            (self.on_rollout, gettext("rollout")),
            (self.on_outcome, gettext("outcome")),
        ]
        return [words for is_chosen, words in chosen if is_chosen]


def webhook_url_error(url: str) -> str:
    """Why `url` cannot be a webhook's, or "" (where it may send is `webhook_hosts`'s to say)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port out of range raises here
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return gettext("Enter an http:// or https:// URL, e.g. https://hooks.example.com/make-or-break.")
    return ""


def webhook_hosts() -> AllowedHosts:
    """Where webhooks may send: `MBREAK_WEBHOOK_ALLOWED_HOSTS` (any host by default, private ones
    too: a receiver in the same cluster is common), never the instance metadata service, whose
    answers (the server's own credentials) would show in the delivery log."""
    return AllowedHosts.parse(settings.MBREAK_WEBHOOK_ALLOWED_HOSTS)


def webhook_reach_words(host: str, refusal: str, addresses: Sequence[str]) -> str:
    """Why a webhook may not send to `host` (a `HostRefusal` value), in plain words."""
    values = {"host": host, "addresses": ", ".join(addresses)}
    if refusal == HostRefusal.METADATA:
        return (
            gettext(
                "“%(host)s” is the address of the instance metadata service (%(addresses)s), which hands out the "
                "server's own credentials: a webhook may not send there."
            )
            % values
        )
    if refusal == HostRefusal.UNRESOLVED:
        return (
            gettext(
                "“%(host)s” resolves to no address, so it cannot be checked against the hosts this server allows "
                "webhooks to: check its name."
            )
            % values
        )
    if addresses:
        return (
            gettext(
                "This server does not allow webhooks to “%(host)s” (%(addresses)s): its administrator lists where "
                "they may send (MBREAK_WEBHOOK_ALLOWED_HOSTS)."
            )
            % values
        )
    return (
        gettext(
            "This server does not allow webhooks to “%(host)s”: its administrator lists where they may send "
            "(MBREAK_WEBHOOK_ALLOWED_HOSTS)."
        )
        % values
    )


def _deliver(webhooks: Sequence[Webhook], release: Release, event: str, state: str, message: Message) -> list[Delivery]:
    now = timezone.now()
    deliveries = Delivery.objects.bulk_create(
        Delivery(
            webhook=webhook,
            release=release,
            event=event,
            state=state,
            body=message.body(webhook.format),
            created_at=now,
            next_attempt_at=now,
        )
        for webhook in webhooks
    )
    ids = [delivery.pk for delivery in deliveries]
    transaction.on_commit(lambda: send_deliveries(ids))
    return deliveries


def send_deliveries(delivery_ids: Sequence[int]) -> None:
    """Hand each delivery to the workers. A broker that cannot be reached fails nothing here (a
    verdict is answered all the same): the first delivery that cannot be queued stops the
    queuing, since each try waits for the broker's timeout, and a request must not wait it once
    per webhook. The deliveries not queued stay pending, and the sweep (`send_lost_again`)
    sends them `LOST_AFTER` after they were due."""
    for sent, delivery_id in enumerate(delivery_ids):
        try:
            signature(DELIVER_WEBHOOK, args=(delivery_id,)).delay()
        except Exception:
            left = list(delivery_ids[sent:])
            logger.exception("webhook deliveries %s could not be queued; the sweep sends them again", left)
            return


class DeliveryQuerySet(models.QuerySet["Delivery"]):
    def deliver(self, delivery_id: int, now: datetime | None = None) -> float | None:
        """`Delivery.attempt` of the delivery `delivery_id`: what a worker does with one. Returns
        the seconds until it is to be tried again, or None (sent, failed, not due, or deleted with
        its webhook)."""
        delivery = self.select_related("webhook").filter(pk=delivery_id).first()
        return None if delivery is None else delivery.attempt(now)

    def send_lost_again(self, now: datetime | None = None) -> int:
        """Send again each delivery due `LOST_AFTER` ago or more and not tried since: its task was
        lost. Marked due now first, by a conditional UPDATE, so that sweeps at once send it once,
        and the next sweep waits `LOST_AFTER` again. Returns how many were sent."""
        now = now or timezone.now()
        lost = self.filter(
            status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING], next_attempt_at__lt=now - LOST_AFTER
        )
        sent = []
        for delivery_id, due in lost.order_by("next_attempt_at").values_list("pk", "next_attempt_at")[:1000]:
            if Delivery.objects.filter(pk=delivery_id, next_attempt_at=due).update(next_attempt_at=now):
                logger.warning("webhook delivery %s was not tried when due: sent again", delivery_id)
                sent.append(delivery_id)
        send_deliveries(sent)
        return len(sent)

    def prune(self, now: datetime | None = None) -> int:
        """Delete the deliveries delivered or failed that were made `MBREAK_WEBHOOK_KEEP_DAYS` days
        before `now` or earlier: the log keeps what is still to be sent, however old. A message sent
        again from a pruned one stays (without its `resent_from`). Returns how many were deleted."""
        now = now or timezone.now()
        before = now - timedelta(days=settings.MBREAK_WEBHOOK_KEEP_DAYS)
        finished = [DeliveryStatus.DELIVERED, DeliveryStatus.FAILED]
        deleted, _by_model = self.filter(status__in=finished, created_at__lt=before).delete()
        return deleted

    def logged(self) -> DeliveryQuerySet:
        """Newest first, with what the delivery log shows of each."""
        return self.select_related("release", "webhook").defer("body").order_by("-created_at", "-pk")

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
    # With a response status: the start of the receiver's answer to a refused message. Without:
    # why no status came (a `webhook_http.Failure` value, or `SECRET_UNREADABLE`), and what TLS said.
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

    def attempt(self, now: datetime | None = None) -> float | None:
        """Send it, if it is due (`now`, the time by default) and neither delivered nor failed, and
        record how it went: delivered on a 2xx; on a failure that may pass (no answer, a 5xx, a
        408, a 429), tried again after `MBREAK_WEBHOOK_BACKOFF_SECONDS`, twice as long after each
        failure (or after the receiver's Retry-After, when longer), until
        `MBREAK_WEBHOOK_ATTEMPTS` tries have failed; on any other answer, failed at once.

        Each try is claimed first by a conditional UPDATE (its attempts counted, and the delivery
        held for a lease), so that two tasks at once (a lost one sent again) send it once. Returns
        the seconds until the next try, or None when there is none to schedule."""
        now = now or timezone.now()
        timeout = settings.MBREAK_WEBHOOK_TIMEOUT
        due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
        claimed = (
            Delivery.objects.filter(due, pk=self.pk, status=self.status, attempts=self.attempts)
            .filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING])
            .update(
                attempts=F("attempts") + 1,
                last_attempt_at=now,
                next_attempt_at=now + timedelta(seconds=timeout) + ATTEMPT_LEASE_MARGIN,
            )
        )
        if not claimed:
            return None
        self.attempts += 1
        self.last_attempt_at = now
        try:
            secret = self.webhook.read_secret()
        except SecretUnreadable:
            self._record(DeliveryStatus.FAILED, None, SECRET_UNREADABLE, None)
            return None
        try:
            # Each address its host resolves to now: a name may have been pointed elsewhere since
            # the webhook was saved, and a webhook saved before the list was set is checked too.
            webhook_hosts().check(self.webhook.host)
        except NotAllowed as refusal:
            if refusal.refusal != HostRefusal.UNRESOLVED:  # sent nothing, and never will
                self._record(
                    DeliveryStatus.FAILED, None, f"{HOST_REFUSED}:{refusal.refusal}:{','.join(refusal.addresses)}", None
                )
                return None
            answer = webhook_http.Answer(None, webhook_http.Failure.DNS)  # as the client would say
        else:
            answer = webhook_http.post(
                self.webhook.url, self.body, secret=secret, event=self.event, delivery_id=self.pk, timeout=timeout
            )
        error = answer.said if answer.status is not None else ":".join(filter(None, [answer.failure, answer.said]))
        if answer.is_delivered:
            self._record(DeliveryStatus.DELIVERED, answer.status, "", None)
            return None
        if not answer.is_worth_retrying or self.attempts >= settings.MBREAK_WEBHOOK_ATTEMPTS:
            self._record(DeliveryStatus.FAILED, answer.status, error, None)
            return None
        wait = backoff(self.attempts)
        if answer.retry_after is not None:
            asked = min(max(0.0, answer.retry_after), LONGEST_RETRY_AFTER.total_seconds())
            wait = max(wait, timedelta(seconds=asked))
        self._record(DeliveryStatus.RETRYING, answer.status, error, now + wait)
        return max(0.0, (now + wait - timezone.now()).total_seconds())

    def _record(self, status: str, response_status: int | None, error: str, next_attempt_at: datetime | None) -> None:
        self.status, self.response_status, self.error = status, response_status, error[:DELIVERY_ERROR_MAX_LENGTH]
        self.next_attempt_at = next_attempt_at
        if status == DeliveryStatus.DELIVERED:
            self.delivered_at = timezone.now()
        Delivery.objects.filter(pk=self.pk).update(
            status=self.status,
            response_status=self.response_status,
            error=self.error,
            next_attempt_at=self.next_attempt_at,
            delivered_at=self.delivered_at,
        )
        logger.info(
            "webhook delivery %s: %s after %d attempt(s) (HTTP %s)",
            self.pk,
            status,
            self.attempts,
            response_status,
            extra={"delivery_id": self.pk, "webhook_id": self.webhook_id, "status": status},
        )

    def send_again(self) -> Delivery:
        """A new delivery of the same body to the same webhook (`resent_from` this one), signed
        anew when it is sent, once the transaction commits: a receiver that lost a message, or
        failed it, gets it again. Whoever may is the caller's to check (`Webhook.can_change`)."""
        now = timezone.now()
        again = Delivery.objects.create(
            webhook=self.webhook,
            release_id=self.release_id,
            event=self.event,
            state=self.state,
            body=self.body,
            created_at=now,
            next_attempt_at=now,
            resent_from=self,
        )
        transaction.on_commit(lambda: send_deliveries([again.pk]))
        return again

    @property
    def state_display(self) -> str:
        """The verdict or the outcome it announces, in words."""
        if self.event == DeliveryEvent.OUTCOME and self.state in Outcome.values:
            return str(Outcome(self.state).label)
        return str(VerdictState(self.state).label) if self.state in VerdictState.values else self.state

    @property
    def error_words(self) -> str:
        """What went wrong with its last try, in words ("" when nothing did)."""
        if self.response_status is not None:
            if self.status == DeliveryStatus.DELIVERED:
                return ""
            if 300 <= self.response_status < 400:
                return gettext("A redirect, not followed: give the webhook the address it redirects to.")
            if self.error:
                return gettext("The receiver answered: %(said)s") % {"said": self.error}
            return ""
        if not self.error:
            return ""
        code, _colon, detail = self.error.partition(":")
        if code == HOST_REFUSED:
            refusal, _colon, addresses = detail.partition(":")
            return webhook_reach_words(self.webhook.host, refusal, [a for a in addresses.split(",") if a])
        if code == SECRET_UNREADABLE:
            return gettext(
                "Its secret was encrypted with a key this server no longer has: make a new secret, and give it to "
                "the receiver."
            )
        words = str(FAILURE_WORDS.get(webhook_http.Failure(code), "")) if code in set(webhook_http.Failure) else ""
        words = words or gettext("The message could not be sent.")
        return f"{words} {detail}" if detail else words


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed try: `MBREAK_WEBHOOK_BACKOFF_SECONDS`, twice as long
    after each failure."""
    return timedelta(seconds=settings.MBREAK_WEBHOOK_BACKOFF_SECONDS * 2 ** min(max(attempts, 1) - 1, 20))


# What is sent.


class Message:
    """One announcement, as each format says it: the JSON body (`payload`) or Slack's text."""

    def payload(self) -> dict[str, Any]:
        raise NotImplementedError

    def slack_text(self) -> str:
        raise NotImplementedError

    def body(self, kind: str) -> str:
        """The exact text sent, in the format `kind` (a WebhookFormat value)."""
        data = {"text": self.slack_text()} if kind == WebhookFormat.SLACK else self.payload()
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def release_url(release: Release) -> str:
    return settings.MBREAK_SITE_URL + release.get_absolute_url()


def _release_fields(release: Release) -> dict[str, Any]:
    return {
        "id": release.pk,
        "name": release.name,
        "version": release.version,
        "key": release.key,
        "started_at": _instant(release.started_at),
        "url": release_url(release),
    }


def _instant(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _slack(text: str) -> str:
    """Text as Slack reads it: its three control characters escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(release: Release) -> str:
    return f"<{release_url(release)}|{_slack(str(release))}>"


@dataclass
class VerdictMessage(Message):
    release: Release
    verdict: ReleaseVerdict
    previous: str  # the verdict announced before ("" for none)
    at: datetime

    def payload(self) -> dict[str, Any]:
        verdict = self.verdict
        deciding = {judgement.metric.pk for judgement in deciding_metrics(verdict)}
        return {
            "event": DeliveryEvent.VERDICT.value,
            "gate": {"id": self.release.gate_id, "name": self.release.gate.name},
            "release": _release_fields(self.release),
            "verdict": verdict.state,
            "previous_verdict": self.previous or None,
            "score": verdict.score,
            "decided_by": verdict.decided_by,
            "dry_run": verdict.dry_run,
            "summary": verdict.answered_summary,
            "reason": reason_words(verdict),
            "metrics": [
                {
                    "id": judgement.metric.pk,
                    "name": judgement.metric.name,
                    "verdict": judgement.state,
                    "cause": judgement.cause,
                    "critical": judgement.critical,
                    "counted": judgement.counts,
                    "decided": judgement.metric.pk in deciding,
                    "value": judgement.verdict.value if judgement.verdict is not None else None,
                    "minutes": judgement.verdict.minutes if judgement.verdict is not None else None,
                }
                for judgement in verdict.metrics
            ],
            "occurred_at": _instant(self.at),
        }

    def slack_text(self) -> str:
        verdict = self.verdict
        words = {
            "release": _slack_link(self.release),
            "gate": _slack(self.release.gate.name),
            "verdict": _slack(state_words(verdict.state)),
        }
        if verdict.score is not None:
            headline = gettext("Release %(release)s of gate “%(gate)s”: *%(verdict)s* (score %(score)s).") % {
                **words,
                "score": number(verdict.score),
            }
        else:
            headline = gettext("Release %(release)s of gate “%(gate)s”: *%(verdict)s*.") % words
        return "\n".join([headline, _slack(verdict.answered_summary), _slack(reason_words(verdict))])


@dataclass
class OutcomeMessage(Message):
    release: Release
    previous: str  # the outcome recorded before ("" for none)
    at: datetime

    def payload(self) -> dict[str, Any]:
        release = self.release
        return {
            "event": DeliveryEvent.OUTCOME.value,
            "gate": {"id": release.gate_id, "name": release.gate.name},
            "release": _release_fields(release),
            "outcome": release.outcome,
            "previous_outcome": self.previous or None,
            "recorded_by": release.outcome_by.get_username() if release.outcome_by is not None else None,
            "recorded_via": release.outcome_via,
            "note": release.outcome_note,
            "recorded_at": _instant(release.outcome_at),
            "gate_said": release.gate_said or None,
            "gate_said_at_minute": release.gate_said_at_minute,
            "gate_was": release.gate_was,
            "summary": self.summary(),
            "occurred_at": _instant(self.at),
        }

    def summary(self) -> str:
        release = self.release
        done = str(Outcome(release.outcome).label)
        said = release.gate_said
        if said in (VerdictState.ROLLBACK, VerdictState.ROLLOUT):
            right = gettext("it was right") if release.gate_was == "right" else gettext("it was wrong")
            if release.gate_said_at_minute is not None:
                gate = gettext("The gate said %(verdict)s from minute %(minute)s: %(right)s.") % {
                    "verdict": state_words(said),
                    "minute": number(round(release.gate_said_at_minute, 1)),
                    "right": right,
                }
            else:
                gate = gettext("The gate said %(verdict)s: %(right)s.") % {"verdict": state_words(said), "right": right}
        else:
            gate = gettext("The gate had said neither rollback nor rollout.")
        note = (" " + gettext("Note: %(note)s") % {"note": release.outcome_note}) if release.outcome_note else ""
        return f"{done}. {gate}{note}"

    def slack_text(self) -> str:
        release = self.release
        headline = gettext("Release %(release)s of gate “%(gate)s”: *%(outcome)s*.") % {
            "release": _slack_link(release),
            "gate": _slack(release.gate.name),
            "outcome": _slack(str(Outcome(release.outcome).label).lower()),
        }
        return "\n".join([headline, _slack(self.summary())])


def deciding_metrics(verdict: ReleaseVerdict) -> list[MetricJudgement]:
    """The metrics that decided `verdict`: the critical ones that vetoed it, or kept it from
    rolling out; those that took a score to its side of the thresholds; those it waits for;
    none when nothing counts."""
    if verdict.decided_by == DecidedBy.SCORE:
        rolls_out = verdict.state == VerdictState.ROLLOUT
        return [
            judgement
            for judgement in verdict.metrics
            if judgement.counts and (judgement.state == VerdictState.ROLLOUT) == rolls_out
        ]
    decides = DECIDING.get(verdict.decided_by)
    return [] if decides is None else [judgement for judgement in verdict.metrics if decides(judgement)]


# Which metrics decided a verdict, by what decided it (but the score, where it depends on the verdict).
DECIDING: dict[str, Callable[[MetricJudgement], bool]] = {
    DecidedBy.CRITICAL_VETO: lambda judgement: judgement.vetoes,
    DecidedBy.FAILURE_LIMIT: lambda judgement: judgement.vetoes,
    DecidedBy.CRITICAL_INCONCLUSIVE: lambda judgement: judgement.blocks_rollout,
    DecidedBy.WAITING: lambda judgement: judgement.is_awaited,
}


def reason_words(verdict: ReleaseVerdict) -> str:
    """What decided `verdict`, and each metric that did, with why it is what it is."""
    what = gettext("What decided it: %(what)s.") % {"what": verdict.decided_by_display}
    metrics = [metric_words(judgement) for judgement in deciding_metrics(verdict)]
    return " ".join([what, *metrics])


def metric_words(judgement: MetricJudgement) -> str:
    """One metric's verdict over the release, and why: “Error rate” (critical) is rollback: its
    newest observation, 120 at minute 12."""
    name = gettext("“%(name)s” (critical)") if judgement.critical else "“%(name)s”"
    words = {
        "metric": name % {"name": judgement.metric.name},
        "state": state_words(judgement.state or ""),
        "cause": judgement.cause_display,
    }
    newest = judgement.verdict
    if judgement.cause in (MetricCause.NEWEST, MetricCause.TOLERATED_FAILURE) and newest is not None:
        return gettext("%(metric)s is %(state)s: %(cause)s, %(value)s at minute %(minute)s.") % {
            **words,
            "value": number(newest.value),
            "minute": number(round(newest.minutes, 1)),
        }
    if judgement.cause == MetricCause.FAILURE_LIMIT:
        return ngettext(
            "%(metric)s is %(state)s: %(cause)s (%(count)d of %(observations)d observation judged rollback).",
            "%(metric)s is %(state)s: %(cause)s (%(count)d of %(observations)d observations judged rollback).",
            judgement.observations,
        ) % {**words, "count": judgement.rollbacks, "observations": judgement.observations}
    if judgement.cause == MetricCause.INCONCLUSIVE_LIMIT:
        return ngettext(
            "%(metric)s is %(state)s: %(cause)s (%(count)d of %(observations)d observation judged inconclusive).",
            "%(metric)s is %(state)s: %(cause)s (%(count)d of %(observations)d observations judged inconclusive).",
            judgement.observations,
        ) % {**words, "count": judgement.inconclusives, "observations": judgement.observations}
    if judgement.state is None:
        return gettext("%(metric)s: %(cause)s.") % words
    return gettext("%(metric)s is %(state)s: %(cause)s.") % words


def state_words(state: str) -> str:
    """A verdict's state as a sentence says it: "rollback", "inconclusive" (in the reader's language)."""
    return str(VerdictState(state).label).lower() if state in VerdictState.values else state
