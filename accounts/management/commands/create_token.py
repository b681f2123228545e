"""`manage.py create_token USER NAME`: a personal API token, printed once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import ApiToken, TokenScope
from metrics.management.commands._arguments import user_named


def longest_expiry_days() -> int:
    """The most days from now an expiry date can be: one day short of the last date a
    datetime holds, so that it stays valid in every time zone."""
    return (datetime.max.replace(tzinfo=UTC) - timezone.now()).days - 1


class Command(BaseCommand):
    help = (
        "Create a named API token for USER and print its secret (shown once; only its hash is stored). "
        "The name follows the API tokens page's rules."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user", help="the username the token stands for (an active account)")
        parser.add_argument("name", help="what uses it, e.g. 'GitHub Actions deploy gate' (up to 100 characters)")
        access = parser.add_mutually_exclusive_group()
        access.add_argument("--write", action="store_true", help="read and write (default: read only)")
        access.add_argument(
            "--metrics", action="store_true", help="for a Prometheus server: reads /metrics only, nothing of the API"
        )
        parser.add_argument("--days", type=int, help="expires after this many days (default: never)")

    def handle(self, *args: Any, **options: Any) -> None:
        user = user_named(options["user"])
        if not user.is_active:
            raise CommandError(
                gettext("The account %(username)s is inactive: a token of it would always be refused.")
                % {"username": user.username}
            )
        days = options["days"]
        if days is not None and not 1 <= days <= longest_expiry_days():
            raise CommandError(
                gettext("--days must be a number from 1 to %(largest)d.") % {"largest": longest_expiry_days()}
            )
        expires_at = timezone.now() + timedelta(days=days) if days else None
        scope = TokenScope.WRITE if options["write"] else TokenScope.METRICS if options["metrics"] else TokenScope.READ
        try:
            name = ApiToken.checked_name(user, options["name"])
            with transaction.atomic():
                _token, secret = ApiToken.objects.issue(user, name, scope, expires_at)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        except IntegrityError:  # the same name, made meanwhile on the tokens page
            raise CommandError(gettext("You already have a token named that. Choose another name.")) from None
        self.stdout.write(secret)
