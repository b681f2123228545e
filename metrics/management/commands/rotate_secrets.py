"""`manage.py rotate_secrets`: every data source's secret encrypted again with the current key.

Run it after putting a new key first (`MBREAK_SECRETS_KEY`, or `SECRET_KEY`) with the old one
kept as a fallback; once it reports nothing unreadable, the fallback can go.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from metrics.models import DataSource


class Command(BaseCommand):
    help = "Encrypt every data source's secret again with the current key (the first of the secrets keys)."

    def handle(self, *args: Any, **options: Any) -> None:
        rotated, unreadable = DataSource.objects.rotate_secrets()
        self.stdout.write(f"{rotated} secret{'' if rotated == 1 else 's'} encrypted again with the current key.")
        if unreadable:
            names = ", ".join(f"{source.name!r} (id {source.pk}, owner id {source.owner_id})" for source in unreadable)
            raise CommandError(
                f"No key of this server reads the secret of {len(unreadable)} data source"
                f"{'' if len(unreadable) == 1 else 's'}, left as they are: {names}. Keep the old key as a "
                "fallback (MBREAK_SECRETS_KEY_FALLBACKS or SECRET_KEY_FALLBACKS), or have their owners enter "
                "the secret again."
            )
