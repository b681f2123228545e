from __future__ import annotations

import json
import re
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from metrics.models import Metric
from metrics.templatetags.formatting import percent
from predictor import charts
from metrics.models import TrainedModel
from tests.conftest import rule_data
from tests.factories import MetricFactory

PREDICT_URL = reverse("metrics:predict")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    # Pairplots are cached by model id, and ids repeat from one test to the next.
    cache.clear()


def predict(client: Client, metric: Metric | None, value: str | int, time: str | int):
    params: dict[str, str | int] = {"metric": "" if metric is None else metric.pk, "value": value, "time": time}
    return client.get(PREDICT_URL, params)


def scatter_data(html: str) -> dict:
    match = re.search(
        r'<script(?=[^>]*\bid="scatter-data")(?=[^>]*\btype="application/json")[^>]*>(.*?)</script>', html, re.S
    )
    assert match is not None, "no scatter-data script"
    return json.loads(match.group(1))


def pairplot_url(model: TrainedModel) -> str:
    return reverse("metrics:pairplot", args=[model.pk])


@pytest.fixture
def model(trained_metric: Metric) -> TrainedModel:
    return TrainedModel.objects.get(metric=trained_metric)


# --- The verdict -----------------------------------------------------------------------


def test_prediction_recommends_rollback_for_a_low_value_over_a_long_time(
    client: Client, other_user: User, trained_metric: Metric
) -> None:
    client.force_login(other_user)

    response = predict(client, trained_metric, 200, 30)

    assert response.status_code == 200
    html = response.content.decode()
    assert '<p class="display-5 fw-bold mb-2" data-testid="verdict">Rollback recommended</p>' in html
    assert "Rollout recommended" not in html


def test_prediction_recommends_rollout_for_a_high_value(client: Client, owner: User, trained_metric: Metric) -> None:
    client.force_login(owner)

    html = predict(client, trained_metric, 900, 30).content.decode()

    assert '<p class="display-5 fw-bold mb-2" data-testid="verdict">Rollout recommended</p>' in html
    assert "Rollback recommended" not in html


def test_prediction_shows_probability_accuracy_version_and_indicator_count(
    client: Client, owner: User, model: TrainedModel
) -> None:
    client.force_login(owner)

    html = predict(client, model.metric, 200, 30).content.decode()

    probability = re.search(r"a probability of (\d+(?:\.\d)?)% for “Requests per minute”", html)
    assert probability is not None
    assert 50.0 <= float(probability.group(1)) <= 100.0
    assert f"Model accuracy: {percent(model.accuracy)} on data it did not see (version 1, 200 indicators)." in html
    assert "To improve the model's accuracy, provide more information." in html


def test_prediction_uses_the_newest_model_version(client: Client, owner: User, model: TrainedModel) -> None:
    TrainedModel.objects.train(model.metric, owner)
    client.force_login(owner)

    html = predict(client, model.metric, 200, 30).content.decode()

    assert "(version 2, 200 indicators)" in html
    newest = TrainedModel.objects.get(metric=model.metric, version=2)
    assert f'src="{pairplot_url(newest)}?data=' in html


def test_prediction_page_carries_the_scatter_figure_with_the_observation(
    client: Client, owner: User, trained_metric: Metric
) -> None:
    client.force_login(owner)

    html = predict(client, trained_metric, 200, 30).content.decode()

    figure = scatter_data(html)
    traces = {trace["name"]: trace for trace in figure["data"]}
    assert set(traces) == {"Rollout", "Rollback", "Your observation"}
    assert traces["Your observation"]["x"] == [30.0]
    assert traces["Your observation"]["y"] == [200.0]
    assert len(traces["Rollout"]["x"]) + len(traces["Rollback"]["x"]) == 200
    # Handed over as data, not as code: no inline script body to run.
    assert "<script>" not in html


def test_prediction_page_shows_the_pairplot_image(client: Client, owner: User, model: TrainedModel) -> None:
    client.force_login(owner)

    html = predict(client, model.metric, 200, 30).content.decode()

    assert f'<img class="img-fluid border rounded" src="{pairplot_url(model)}?data={model.metric.data_version}"' in html


def test_predict_page_preselects_the_metric_given_by_for(client: Client, owner: User, metric: Metric) -> None:
    client.force_login(owner)

    response = client.get(PREDICT_URL, {"for": metric.pk})

    assert response.status_code == 200
    html = response.content.decode()
    assert f'<option value="{metric.pk}" selected>' in html
    assert "This field is required." not in html
    assert "Choose a metric, enter the value you observe" in html


# --- The pairplot ----------------------------------------------------------------------


def test_pairplot_is_a_png(client: Client, owner: User, model: TrainedModel) -> None:
    client.force_login(owner)

    response = client.get(pairplot_url(model))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content[:8] == PNG_SIGNATURE


def test_pairplot_is_drawn_once_and_then_served_from_the_cache(
    client: Client, owner: User, other_user: User, model: TrainedModel
) -> None:
    client.force_login(owner)

    with mock.patch.object(charts, "render_pairplot_png", wraps=charts.render_pairplot_png) as render:
        first = client.get(pairplot_url(model))
        client.force_login(other_user)
        second = client.get(pairplot_url(model))

    assert render.call_count == 1
    assert first.content[:8] == PNG_SIGNATURE
    assert second.content == first.content


def test_pairplot_is_drawn_again_when_the_metric_data_changes(client: Client, owner: User, model: TrainedModel) -> None:
    client.force_login(owner)
    drawn: list[int] = []

    def record(values, times, decisions, labels):
        drawn.append(len(values))
        return PNG_SIGNATURE

    with mock.patch.object(charts, "render_pairplot_png", side_effect=record):
        client.get(pairplot_url(model))
        client.get(pairplot_url(model))
        model.metric.import_indicators(rule_data(50, seed=7), owner)
        client.get(pairplot_url(model))

    # The picture shows the metric's data as it is now, like the scatter beside it.
    assert drawn == [200, 250]


def test_pairplot_of_a_missing_model_is_404(client: Client, owner: User) -> None:
    client.force_login(owner)

    assert client.get(reverse("metrics:pairplot", args=[999_999])).status_code == 404


# --- No usable model ---------------------------------------------------------------------


def test_metric_without_a_model_says_so_and_offers_to_train(client: Client, owner: User, metric: Metric) -> None:
    client.force_login(owner)

    response = predict(client, metric, 200, 30)

    assert response.status_code == 200
    html = response.content.decode()
    assert "“Requests per minute” has no trained model yet. Train it, then run the prediction again." in html
    assert f'action="{reverse("metrics:train", args=[metric.pk])}"' in html
    assert "recommended" not in html


def tamper_artifact(model: TrainedModel) -> None:
    data = bytearray(bytes(TrainedModel.objects.get(pk=model.pk).artifact))
    data[len(data) // 2] ^= 0x01
    TrainedModel.objects.filter(pk=model.pk).update(artifact=bytes(data))


def change_sklearn_version(model: TrainedModel) -> None:
    TrainedModel.objects.filter(pk=model.pk).update(sklearn_version="0.24.2")


def test_a_sound_model_is_loaded_through_joblib(client: Client, owner: User, model: TrainedModel) -> None:
    # The counterpart of the test below: it proves that patching joblib.load is where loading happens.
    import joblib

    client.force_login(owner)

    with mock.patch("predictor.artifacts.joblib.load", wraps=joblib.load) as load:
        response = predict(client, model.metric, 200, 30)

    assert load.call_count == 1
    assert "Rollback recommended" in response.content.decode()


@pytest.mark.parametrize("spoil", [tamper_artifact, change_sklearn_version], ids=["changed-byte", "other-sklearn"])
def test_a_model_that_cannot_be_trusted_is_never_unpickled_and_the_user_is_told_to_train_again(
    client: Client, owner: User, model: TrainedModel, spoil
) -> None:
    spoil(model)
    client.force_login(owner)

    with mock.patch("predictor.artifacts.joblib.load", side_effect=AssertionError("unpickled")) as load:
        response = predict(client, model.metric, 200, 30)

    assert load.call_count == 0
    assert response.status_code == 200
    html = response.content.decode()
    assert "cannot be used (it was changed, or made by another version of scikit-learn). Train it again." in html
    assert f'action="{reverse("metrics:train", args=[model.metric_id])}"' in html
    assert "recommended" not in html


# --- Bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("use_metric", "value", "time", "message"),
    [
        (False, 200, 30, "This field is required."),
        (True, "two hundred", 30, "Enter a number."),
        (True, 200, -1, "Ensure this value is greater than or equal to 0."),
        (True, "", 30, "This field is required."),
        (True, "nan", 30, "Enter a number."),
        (True, 200, "inf", "Enter a number."),
        (True, "1e39", 30, "Enter a number no larger than 3.4e+38."),
        (True, 200, "1e300", "Enter a number no larger than 3.4e+38."),
    ],
)
def test_prediction_with_bad_input_shows_the_form_errors_and_no_verdict(
    client: Client,
    owner: User,
    trained_metric: Metric,
    use_metric: bool,
    value: str | int,
    time: str | int,
    message: str,
) -> None:
    client.force_login(owner)

    response = predict(client, trained_metric if use_metric else None, value, time)

    assert response.status_code == 200
    html = response.content.decode()
    assert f'<div class="invalid-feedback d-block">{message}</div>' in html
    assert "recommended" not in html
    assert 'id="scatter-data"' not in html


def test_prediction_for_a_metric_that_does_not_exist_shows_a_form_error(client: Client, owner: User) -> None:
    client.force_login(owner)

    response = client.get(PREDICT_URL, {"metric": 999_999, "value": 200, "time": 30})

    assert "Select a valid choice." in response.content.decode()


def test_prediction_does_not_change_anything(client: Client, owner: User, model: TrainedModel) -> None:
    MetricFactory(owner=owner)
    client.force_login(owner)
    before = list(TrainedModel.objects.values_list("pk", "version", "artifact_sha256"))

    predict(client, model.metric, 200, 30)

    assert list(TrainedModel.objects.values_list("pk", "version", "artifact_sha256")) == before
