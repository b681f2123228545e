from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.contrib.auth.models import User

from mbreak.forms import BootstrapFormMixin


class SignupForm(BootstrapFormMixin, UserCreationForm[User]):
    """Username, password and its confirmation, checked by Django's password validators."""


class LoginForm(BootstrapFormMixin, AuthenticationForm):
    pass
