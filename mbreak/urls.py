from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language

from accounts.forms import AdminLoginForm
from api.views.scrape import PrometheusScrape

# Under /api/, Django's own 400 and 500 answers are problem details too.
handler400 = "api.errors.bad_request"
handler500 = "api.errors.server_error"

# The admin's log-in counts failed attempts per account like the app's (accounts.throttle).
admin.site.login_form = AdminLoginForm

urlpatterns = [
    # First: pipelines call the API at every step of a rollout, and Django tries the patterns
    # in turn (behind the pages' patterns, finding a verdict's view took four times as long).
    # No page's path starts with "api/".
    path("api/", include("api.urls")),
    # Prometheus' default path; the view asks for its own credentials (a metrics token or an
    # allowed address) and answers 401 itself.
    path("metrics", login_not_required(PrometheusScrape.as_view()), name="prometheus_metrics"),
    path("", include("metrics.urls")),
    path("accounts/", include("accounts.urls")),
    # The language switch is on the login page too, so it must work before login.
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("admin/", admin.site.urls),
]
