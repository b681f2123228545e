from django.contrib.auth.models import User
from django.http import HttpRequest


class AuthenticatedHttpRequest(HttpRequest):
    """A request that LoginRequiredMiddleware let through: `user` is a real account."""

    user: User
