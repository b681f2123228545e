"""The app's URLs and the verdict's floor (`bench/floor.py`): the benchmark's URLconf only,
selected by `bench/settings.py`; production's URLs and the API schema do not change."""

from django.contrib.auth.decorators import login_not_required
from django.urls import path

from bench.floor import VerdictFloor
from mbreak.urls import handler400, handler500
from mbreak.urls import urlpatterns as app_urlpatterns

__all__ = ["handler400", "handler500", "urlpatterns"]

urlpatterns = [
    # Under /api/, as the verdict: the same middleware treats both alike.
    path("api/bench/metrics/<int:metric_id>/floor/", login_not_required(VerdictFloor.as_view()), name="bench_floor"),
    *app_urlpatterns,
]
