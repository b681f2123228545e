from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.urls import URLPattern, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.views import APIView

from api.views import (
    argo,
    fills,
    flagger,
    gates,
    imports,
    indicators,
    jobs,
    keys,
    metrics,
    queries,
    releases,
    replays,
    root,
    sources,
    verdicts,
    versions,
)

app_name = "api"


def open_to_tokens(view: Callable[..., Any]) -> Callable[..., Any]:
    """The API answers 401 itself (a pipeline has no login page to follow)."""
    return login_not_required(view)


def v1(route: str, view: type[APIView], name: str) -> URLPattern:
    return path(f"v1/{route}", open_to_tokens(view.as_view()), name=name)


urlpatterns = [
    path("schema/", open_to_tokens(SpectacularAPIView.as_view()), name="schema"),
    path("docs/", open_to_tokens(SpectacularSwaggerSplitView.as_view(url_name="api:schema")), name="docs"),
    v1("", root.Root, "root"),
    v1("metrics/", metrics.MetricList, "metrics"),
    v1("metrics/<int:metric_id>/", metrics.MetricDetail, "metric"),
    v1("metrics/<int:metric_id>/verdicts/", verdicts.MetricVerdicts, "metric_verdicts"),
    v1("metrics/<int:metric_id>/train/", jobs.TrainMetric, "train"),
    v1("metrics/<int:metric_id>/indicators/", indicators.MetricIndicators, "indicators"),
    v1("metrics/<int:metric_id>/indicators/bulk/", indicators.MetricIndicatorsBulk, "indicators_bulk"),
    v1("metrics/<int:metric_id>/imports/", imports.MetricImports, "imports"),
    v1("metrics/<int:metric_id>/fills/", fills.MetricFills, "fills"),
    v1("metrics/<int:metric_id>/indicators.csv", indicators.MetricIndicatorsCsv, "indicators_csv"),
    v1("metrics/<int:metric_id>/query", queries.MetricQueryDetail, "metric_query"),
    v1("metrics/<int:metric_id>/query/preview", queries.MetricQueryPreview, "metric_query_preview"),
    v1("imports/<int:import_id>/", imports.ImportDetail, "import"),
    v1("imports/<int:import_id>/undo/", imports.ImportUndo, "undo_import"),
    v1("gates/", gates.GateList, "gates"),
    v1("gates/<int:gate_id>/", gates.GateDetail, "gate"),
    v1("gates/<int:gate_id>/releases/", gates.GateReleases, "gate_releases"),
    # A release by the deployer's key: any characters, "/" included (Flagger's namespace/name@checksum).
    v1("gates/<int:gate_id>/keys/<path:key>/observations/", keys.KeyObservations, "key_observations"),
    v1("gates/<int:gate_id>/keys/<path:key>/verdict", keys.KeyVerdict, "key_verdict"),
    v1("gates/<int:gate_id>/keys/<path:key>/outcome", keys.KeyOutcome, "key_outcome"),
    v1("gates/<int:gate_id>/flagger/", flagger.FlaggerWebhook, "flagger"),
    v1("gates/<int:gate_id>/argo/notifications", argo.ArgoNotifications, "argo_notifications"),
    v1("gates/<int:gate_id>/replays/", replays.GateReplays, "gate_replays"),
    v1("replays/<int:replay_id>/", replays.ReplayDetail, "replay"),
    v1("replays/<int:replay_id>/releases/", replays.ReplayReleases, "replay_releases"),
    v1("replays/<int:replay_id>/what-if/", replays.ReplayWhatIf, "replay_what_if"),
    v1("replays/<int:replay_id>/apply/", replays.ReplayApply, "replay_apply"),
    v1("releases/<int:release_id>/", releases.ReleaseDetail, "release"),
    v1("releases/<int:release_id>/observations/", releases.ReleaseObservations, "release_observations"),
    # Argo Rollouts' web provider asks this URL as is (no trailing slash).
    v1("releases/<int:release_id>/verdict", releases.ReleaseVerdictView, "release_verdict"),
    v1("releases/<int:release_id>/outcome", releases.ReleaseOutcome, "release_outcome"),
    v1("metrics/<int:metric_id>/versions/", versions.MetricVersions, "versions"),
    v1("metrics/<int:metric_id>/unpin/", versions.MetricUnpin, "unpin"),
    v1("versions/<int:version_id>/", versions.VersionDetail, "version"),
    v1("versions/<int:version_id>/activate/", versions.VersionActivate, "activate"),
    v1("jobs/", jobs.JobList, "jobs"),
    v1("jobs/<int:job_id>/", jobs.JobDetail, "job"),
    v1("verdicts/<int:verdict_id>/", verdicts.VerdictDetail, "verdict"),
    v1("sources/", sources.SourceList, "sources"),
    v1("sources/<int:source_id>/", sources.SourceDetail, "source"),
    v1("sources/<int:source_id>/test/", sources.SourceTest, "source_test"),
    v1("verdicts/<int:verdict_id>/feedback/", verdicts.VerdictFeedback, "feedback"),
    # Last: a path that matches nothing above is a 404 in problem details too.
    # Any character: "." alone stops at a newline (%0A), which then got the HTML page.
    re_path(r"^[\s\S]*$", open_to_tokens(root.NotFound.as_view()), name="not_found"),
]
