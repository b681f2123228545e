from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api import views

app_name = "api"


def open_to_tokens(view: Callable[..., Any]) -> Callable[..., Any]:
    """The API answers 401 itself (a pipeline has no login page to follow)."""
    return login_not_required(view)


urlpatterns = [
    path("schema/", open_to_tokens(SpectacularAPIView.as_view()), name="schema"),
    path("docs/", open_to_tokens(SpectacularSwaggerSplitView.as_view(url_name="api:schema")), name="docs"),
    path("v1/", open_to_tokens(views.Root.as_view()), name="root"),
    path("v1/metrics/", open_to_tokens(views.MetricList.as_view()), name="metrics"),
    path("v1/metrics/<int:metric_id>/", open_to_tokens(views.MetricDetail.as_view()), name="metric"),
    path(
        "v1/metrics/<int:metric_id>/verdicts/", open_to_tokens(views.MetricVerdicts.as_view()), name="metric_verdicts"
    ),
    path("v1/metrics/<int:metric_id>/train/", open_to_tokens(views.TrainMetric.as_view()), name="train"),
    path("v1/metrics/<int:metric_id>/indicators/", open_to_tokens(views.MetricIndicators.as_view()), name="indicators"),
    path(
        "v1/metrics/<int:metric_id>/indicators/bulk/",
        open_to_tokens(views.MetricIndicatorsBulk.as_view()),
        name="indicators_bulk",
    ),
    path("v1/metrics/<int:metric_id>/imports/", open_to_tokens(views.MetricImports.as_view()), name="imports"),
    path(
        "v1/metrics/<int:metric_id>/indicators.csv",
        open_to_tokens(views.MetricIndicatorsCsv.as_view()),
        name="indicators_csv",
    ),
    path("v1/gates/", open_to_tokens(views.GateList.as_view()), name="gates"),
    path("v1/gates/<int:gate_id>/", open_to_tokens(views.GateDetail.as_view()), name="gate"),
    path("v1/gates/<int:gate_id>/releases/", open_to_tokens(views.GateReleases.as_view()), name="gate_releases"),
    path("v1/releases/<int:release_id>/", open_to_tokens(views.ReleaseDetail.as_view()), name="release"),
    path(
        "v1/releases/<int:release_id>/observations/",
        open_to_tokens(views.ReleaseObservations.as_view()),
        name="release_observations",
    ),
    # Argo Rollouts' web provider asks this URL as is (no trailing slash).
    path(
        "v1/releases/<int:release_id>/verdict",
        open_to_tokens(views.ReleaseVerdictView.as_view()),
        name="release_verdict",
    ),
    path("v1/metrics/<int:metric_id>/versions/", open_to_tokens(views.MetricVersions.as_view()), name="versions"),
    path("v1/metrics/<int:metric_id>/unpin/", open_to_tokens(views.MetricUnpin.as_view()), name="unpin"),
    path("v1/versions/<int:version_id>/", open_to_tokens(views.VersionDetail.as_view()), name="version"),
    path("v1/versions/<int:version_id>/activate/", open_to_tokens(views.VersionActivate.as_view()), name="activate"),
    path("v1/jobs/", open_to_tokens(views.JobList.as_view()), name="jobs"),
    path("v1/jobs/<int:job_id>/", open_to_tokens(views.JobDetail.as_view()), name="job"),
    path("v1/verdicts/<int:verdict_id>/", open_to_tokens(views.VerdictDetail.as_view()), name="verdict"),
    path("v1/verdicts/<int:verdict_id>/feedback/", open_to_tokens(views.VerdictFeedback.as_view()), name="feedback"),
    # Last: a path that matches nothing above is a 404 in problem details too.
    re_path(r"^.*$", open_to_tokens(views.NotFound.as_view()), name="not_found"),
]
