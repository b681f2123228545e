"""Every page runs under a strict Content Security Policy, and needs nothing it forbids."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from metrics.models import Metric
from tests.factories import MetricFactory

# A <script> that is neither loaded from a file nor JSON data (json_script) would be
# blocked by "script-src 'self'".
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+=", re.IGNORECASE)


def test_login_page_forbids_inline_and_foreign_scripts(client: Client, db: None) -> None:
    response = client.get(reverse("accounts:login"))

    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy


@pytest.mark.parametrize(
    "page",
    [
        "list",
        "create",
        "upload",
        "detail",
        "delete",
        "predict",
        "predict-refused",
        "verdict",
        "verdict-list",
        "model-card",
        "settings",
        "signup-redirect",
    ],
)
def test_pages_have_no_inline_script_or_event_handler(
    client: Client, owner: User, trained_metric: Metric, page: str
) -> None:
    client.force_login(owner)
    verdict = trained_metric.predict(200, 30, owner)
    untrained = MetricFactory.create(owner=owner, name="Error rate")
    # Each page, and a text that proves it is that page (and not, say, an error page).
    pages = {
        "list": (reverse("metrics:list"), "The more information you give the model, the better!"),
        "create": (reverse("metrics:create"), 'name="category"'),
        "upload": (reverse("metrics:upload"), 'type="file"'),
        "detail": (trained_metric.get_absolute_url(), "Add an indicator"),
        "delete": (reverse("metrics:delete", args=[trained_metric.pk]), "Yes, delete it"),
        "predict": (reverse("metrics:predict"), "Choose a metric, enter the value you observe"),
        # What a POST of the form renders in place when the metric has no model.
        "predict-refused": (reverse("metrics:predict"), "has no trained model yet"),
        # The page that loads scripts: plotly and the figure's data.
        "verdict": (verdict.get_absolute_url(), 'id="regions-data"'),
        "verdict-list": (reverse("metrics:verdicts", args=[trained_metric.pk]), "Verdicts given for"),
        "model-card": (reverse("metrics:model_card", args=[verdict.model_id]), 'data-testid="card-figures"'),
        "settings": (reverse("metrics:settings", args=[trained_metric.pk]), 'name="rollback_threshold"'),
        "signup-redirect": (reverse("accounts:signup"), "Good to see you, owner!"),
    }
    url, proof = pages[page]

    if page == "predict-refused":
        response = client.post(url, {"metric": untrained.pk, "value": 200, "minutes": 30})
    else:
        response = client.get(url, follow=True)

    html = response.content.decode()
    assert response.status_code == 200
    assert proof in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert INLINE_SCRIPT.findall(html) == []
    assert INLINE_HANDLER.findall(html) == []
