from django.contrib.auth.forms import AuthenticationForm, UserCreationForm

from mbreak.forms import BootstrapFormMixin


class SignupForm(BootstrapFormMixin, UserCreationForm):
    """Username, password and its confirmation, checked by Django's password validators."""


class LoginForm(BootstrapFormMixin, AuthenticationForm):
    pass
