from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


class VisiblePasswordValidator:
    """Refuse a password made only of spaces or invisible characters: eight spaces pass the
    length rule, and are guessed at once."""

    def validate(self, password: str, user: AbstractBaseUser | None = None) -> None:
        if not any(not ch.isspace() and unicodedata.category(ch) not in {"Cc", "Cf"} for ch in password):
            raise ValidationError(
                _("Your password must contain at least one visible character, not only spaces."),
                code="password_not_visible",
            )

    def get_help_text(self) -> str:
        return _("Your password must contain at least one visible character, not only spaces.")
