"""`manage.py rotate_secrets`: every data source's and webhook's secret encrypted again with the current key.

Run it after putting a new key first (`MBREAK_SECRETS_KEY`, or `SECRET_KEY`) with the old one
kept as a fallback; once it reports nothing unreadable, the fallback can go.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from metrics.models import DataSource, Webhook


class Command(BaseCommand):
    help = (
        "Encrypt every data source's and webhook's secret again with the current key (the first of the secrets keys)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        rotated, unreadable = DataSource.objects.rotate_secrets()
        rotated_hooks, unreadable_hooks = Webhook.objects.rotate_secrets()
        rotated += rotated_hooks
        self.stdout.write(f"{rotated} secret{'' if rotated == 1 else 's'} encrypted again with the current key.")
        problems = []
        if unreadable:
            names = ", ".join(f"{source.name!r} (id {source.pk}, owner id {source.owner_id})" for source in unreadable)
            problems.append(
                f"No key of this server reads the secret of {len(unreadable)} data source"
                f"{'' if len(unreadable) == 1 else 's'}, left as they are: {names}. Keep the old key as a "
                "fallback (MBREAK_SECRETS_KEY_FALLBACKS or SECRET_KEY_FALLBACKS), or have their owners enter "
                "the secret again."
            )
        if unreadable_hooks:
            names = ", ".join(f"webhook id {hook.pk} of gate id {hook.gate_id}" for hook in unreadable_hooks)
            problems.append(
                f"No key of this server reads the signing secret of {len(unreadable_hooks)} webhook"
                f"{'' if len(unreadable_hooks) == 1 else 's'}, left as they are: {names}. Keep the old key as a "
                "fallback, or have their gates' owners make a new secret (New secret, on the webhook's page)."
            )
        if problems:
            raise CommandError(" ".join(problems))
