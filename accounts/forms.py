from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts import throttle
from accounts.models import LONGEST_NAME, ApiToken, TokenScope
from mbreak.forms import BootstrapFormMixin


class SignupForm(BootstrapFormMixin, UserCreationForm[User]):
    """Username, password and its confirmation, checked by Django's password validators."""


class ThrottledLogin(forms.Form):
    """A log-in form that counts each attempt on an account before checking its password
    (`accounts.throttle`): the app's log-in page and the admin's, which would otherwise
    let a staff password be guessed without limit."""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        if username and not throttle.claim_attempt(username):
            minutes = max(1, settings.MBREAK_LOGIN_LOCKOUT_SECONDS // 60)
            raise forms.ValidationError(
                ngettext(
                    "Too many failed log-in attempts for this account. Try again in %(minutes)d minute.",
                    "Too many failed log-in attempts for this account. Try again in %(minutes)d minutes.",
                    minutes,
                ),
                code="locked_out",
                params={"minutes": minutes},
            )
        super().clean()  # a failure stays counted
        throttle.forget_failures(username)
        return self.cleaned_data


class LoginForm(ThrottledLogin, BootstrapFormMixin, AuthenticationForm):
    pass


class AdminLoginForm(ThrottledLogin, AdminAuthenticationForm):
    pass


class ApiTokenForm(BootstrapFormMixin, forms.Form):
    EXPIRY_CHOICES = [
        ("30", _("In 30 days")),
        ("90", _("In 90 days")),
        ("365", _("In a year")),
        ("", _("Never")),
    ]

    name = forms.CharField(
        label=_("Name"),
        # The browser stops at the length; the limit itself is checked_name's, on the name as stored.
        widget=forms.TextInput(attrs={"maxlength": LONGEST_NAME}),
        help_text=_("What uses it, e.g. “GitHub Actions deploy gate”."),
    )
    scope = forms.ChoiceField(
        label=_("Access"),
        choices=TokenScope.choices,
        initial=TokenScope.READ,
        help_text=_(
            "A Prometheus scrape token only reads Make or Break's own figures at /metrics, for a "
            "Prometheus server: the API refuses it."
        ),
    )
    expires_in = forms.ChoiceField(label=_("Expires"), choices=EXPIRY_CHOICES, initial="90", required=False)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_name(self) -> str:
        return ApiToken.checked_name(self.user, self.cleaned_data["name"])

    def expires_at(self) -> datetime | None:
        days = self.cleaned_data.get("expires_in")
        return timezone.now() + timedelta(days=int(days)) if days else None
