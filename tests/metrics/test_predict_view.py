from __future__ import annotations

import hashlib
import json
import re
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from metrics.models import Indicator, Metric, TrainedModel, Unusable
from metrics.templatetags.formatting import percent
from predictor import charts
from predictor.columns import IndicatorColumns
from tests.conftest import rule_data
from tests.factories import MetricFactory, TrainedModelFactory

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
    client: Client, stranger: User, trained_metric: Metric
) -> None:
    # The catalogue is shared: an account with nothing to do with the metric gets verdicts too.
    client.force_login(stranger)

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
    newest = TrainedModelFactory.create(metric=model.metric, accuracy=0.75)
    client.force_login(owner)

    html = predict(client, model.metric, 200, 30).content.decode()

    assert newest.version == 2
    assert f"Model accuracy: {percent(0.75)} on data it did not see (version 2, 200 indicators)." in html
    assert f'src="{pairplot_url(newest)}?data=' in html
    assert pairplot_url(model) + "?" not in html


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
    client: Client, owner: User, stranger: User, model: TrainedModel
) -> None:
    client.force_login(owner)

    with mock.patch.object(charts, "render_pairplot_png", wraps=charts.render_pairplot_png) as render:
        first = client.get(pairplot_url(model))
        # The picture is the same for everyone who may see the metric.
        client.force_login(stranger)
        second = client.get(pairplot_url(model))

    assert render.call_count == 1
    assert first.content[:8] == PNG_SIGNATURE
    assert second.content == first.content


def test_pairplot_is_drawn_again_when_the_metric_data_changes(client: Client, owner: User, model: TrainedModel) -> None:
    client.force_login(owner)
    drawn: list[int] = []

    def record(columns: IndicatorColumns, labels: charts.ChartLabels) -> bytes:
        drawn.append(len(columns))
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


def tamper_artifact(model: TrainedModel, settings) -> None:
    data = bytearray(bytes(TrainedModel.objects.get(pk=model.pk).artifact))
    data[len(data) // 2] ^= 0x01
    TrainedModel.objects.filter(pk=model.pk).update(artifact=bytes(data))


def swap_artifact_with_its_hash(model: TrainedModel, settings) -> None:
    # Whoever can write to the database can recompute the hash, but not the signature.
    data = bytearray(bytes(TrainedModel.objects.get(pk=model.pk).artifact))
    data[len(data) // 2] ^= 0x01
    TrainedModel.objects.filter(pk=model.pk).update(
        artifact=bytes(data), artifact_sha256=hashlib.sha256(data).hexdigest()
    )


def change_sklearn_version(model: TrainedModel, settings) -> None:
    TrainedModel.objects.filter(pk=model.pk).update(sklearn_version="0.24.2")


def change_the_signing_key(model: TrainedModel, settings) -> None:
    settings.MBREAK_MODEL_SIGNING_KEY = "a key the model was not signed with"


def record_an_earlier_refusal(model: TrainedModel, settings) -> None:
    TrainedModel.objects.filter(pk=model.pk).update(refused_because=Unusable.NOT_A_TREE)


def models_state() -> list[tuple[object, ...]]:
    """Every stored model as it is, but for `refused_because`, which a refusal may record."""
    fields = [field.attname for field in TrainedModel._meta.concrete_fields if field.name != "refused_because"]
    return [
        tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
        for row in TrainedModel.objects.order_by("pk").values_list(*fields)
    ]


def test_a_sound_model_is_loaded_through_joblib(client: Client, owner: User, model: TrainedModel) -> None:
    # The counterpart of the test below: it proves that patching joblib.load is where loading happens.
    import joblib

    client.force_login(owner)

    with mock.patch("joblib.load", wraps=joblib.load) as load:
        response = predict(client, model.metric, 200, 30)

    assert load.call_count == 1
    assert "Rollback recommended" in response.content.decode()
    assert TrainedModel.objects.get(pk=model.pk).refused_because == ""


@pytest.mark.parametrize(
    ("spoil", "cause", "recorded"),
    [
        (tamper_artifact, Unusable.HASH, True),
        (swap_artifact_with_its_hash, Unusable.SIGNATURE, True),
        (change_sklearn_version, Unusable.SKLEARN_VERSION, False),
        (change_the_signing_key, Unusable.UNKNOWN_KEY, False),
        (record_an_earlier_refusal, Unusable.NOT_A_TREE, True),
    ],
    ids=["changed-byte", "changed-byte-and-hash", "other-sklearn", "unknown-key", "refused-before"],
)
def test_a_model_that_cannot_be_trusted_is_never_unpickled_and_the_user_is_told_why_and_to_train_again(
    client: Client, owner: User, model: TrainedModel, settings, spoil, cause: Unusable, recorded: bool
) -> None:
    spoil(model, settings)
    client.force_login(owner)
    before = models_state()

    with mock.patch("joblib.load", side_effect=AssertionError("unpickled")) as load:
        response = predict(client, model.metric, 200, 30)

    assert load.call_count == 0
    assert response.status_code == 200
    html = response.content.decode()
    # The message names the real cause (it used to say "changed, or made by another version").
    assert f"Version 1 of the model of “Requests per minute” cannot be used: {cause.label}. Train it again." in html
    assert f'action="{reverse("metrics:train", args=[model.metric_id])}"' in html
    assert "recommended" not in html
    assert 'id="scatter-data"' not in html
    # Nothing stored changes, but for the refusal recorded when the bytes themselves are bad:
    # a key or version mismatch is the server's, and another server may use the model.
    assert models_state() == before
    assert TrainedModel.objects.get(pk=model.pk).refused_because == (cause if recorded else "")


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

    assert response.status_code == 200
    html = response.content.decode()
    assert "Select a valid choice. That choice is not one of the available choices." in html
    assert "recommended" not in html


def database_state() -> dict[str, object]:
    return {
        "metrics": list(Metric.objects.order_by("pk").values_list("pk", "name", "category", "data_version")),
        "indicators": list(
            Indicator.objects.order_by("pk").values_list("pk", "metric_id", "value", "decision", "time")
        ),
        "models": models_state(),
        "refusals": list(TrainedModel.objects.order_by("pk").values_list("pk", "refused_because")),
    }


def test_prediction_does_not_change_anything(client: Client, owner: User, model: TrainedModel) -> None:
    MetricFactory.create(owner=owner)
    client.force_login(owner)
    before = database_state()

    response = predict(client, model.metric, 200, 30)

    assert "Rollback recommended" in response.content.decode()
    assert database_state() == before
