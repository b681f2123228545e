"""`manage.py create_token USER NAME`: a personal API token, printed once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.models import ApiToken, TokenScope
from metrics.management.commands._arguments import user_named


class Command(BaseCommand):
    help = "Create a named API token for USER and print its secret (shown once; only its hash is stored)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user", help="the username the token stands for")
        parser.add_argument("name", help="what uses it, e.g. 'GitHub Actions deploy gate'")
        parser.add_argument("--write", action="store_true", help="read and write (default: read only)")
        parser.add_argument("--days", type=int, help="expires after this many days (default: never)")

    def handle(self, *args: Any, **options: Any) -> None:
        user = user_named(options["user"])
        name = " ".join(options["name"].split())
        if not name:
            raise CommandError("Give the token a name.")
        if options["days"] is not None and options["days"] <= 0:
            raise CommandError("--days must be 1 or more.")
        if ApiToken.objects.of(user).filter(name=name, revoked_at__isnull=True).exists():
            raise CommandError(f"{user.username} already has a token named {name!r}: revoke it or choose another name.")
        expires_at = timezone.now() + timedelta(days=options["days"]) if options["days"] else None
        scope = TokenScope.WRITE if options["write"] else TokenScope.READ
        _token, secret = ApiToken.objects.issue(user, name, scope, expires_at)
        self.stdout.write(secret)
