from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.forms import ApiTokenForm, LoginForm, SignupForm
from accounts.models import ApiToken
from mbreak.http import AuthenticatedHttpRequest, redirect_back


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        messages.success(self.request, _("Welcome back, %(username)s!") % {"username": form.get_user().get_username()})
        return response


@login_not_required
@require_http_methods(["GET", "HEAD", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("metrics:list")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                user = form.save()
        except IntegrityError:  # the same name, signed up meanwhile (a double click)
            form.add_error("username", User._meta.get_field("username").error_messages["unique"])
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request, _("Welcome, %(username)s! Your account is ready.") % {"username": user.get_username()}
            )
            return redirect_back(request, reverse("metrics:list"))
    return render(request, "accounts/signup.html", {"form": form, "next": request.GET.get("next", "")})


@require_http_methods(["POST"])
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, _("You have logged out."))
    return redirect("accounts:login")


@require_http_methods(["GET", "HEAD", "POST"])
def api_tokens(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The user's API tokens; a new one's secret is shown on this answer only."""
    form = ApiTokenForm(request.POST or None, user=request.user)
    secret = ""
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                with transaction.atomic():
                    _token, secret = ApiToken.objects.issue(
                        request.user, form.cleaned_data["name"], form.cleaned_data["scope"], form.expires_at()
                    )
            except IntegrityError:  # the same name, made meanwhile in another tab
                form.add_error("name", _("You already have a token named that. Choose another name."))
                status = 400
            else:
                form = ApiTokenForm(user=request.user)
        else:
            status = 400
    context = {"form": form, "secret": secret, "tokens": ApiToken.objects.of(request.user)}
    response = render(request, "accounts/api_tokens.html", context, status=status)
    if secret:
        response["Cache-Control"] = "no-store"  # the secret must not stay in a cache
    return response


@require_POST
def api_token_revoke(request: AuthenticatedHttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken.objects.of(request.user), pk=token_id)  # another's: 404, as if none
    token.revoke()
    messages.success(request, _("Token “%(name)s” revoked: it no longer works.") % {"name": token.name})
    return redirect("accounts:api_tokens")
