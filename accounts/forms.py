from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.contrib.auth.models import User
from django.utils.translation import ngettext

from accounts import throttle
from mbreak.forms import BootstrapFormMixin


class SignupForm(BootstrapFormMixin, UserCreationForm[User]):
    """Username, password and its confirmation, checked by Django's password validators."""


class LoginForm(BootstrapFormMixin, AuthenticationForm):
    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        if username and throttle.is_locked_out(username):
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
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            if username:
                throttle.record_failure(username)
            raise
        throttle.forget_failures(username)
        return cleaned
