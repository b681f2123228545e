from __future__ import annotations

import hashlib
import json
import re
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from metrics.formatting import percent, threshold
from metrics.models import Indicator, Job, Metric, TrainedModel, Unusable, Verdict
from predictor import charts
from predictor.columns import ROLLBACK, IndicatorColumns
from predictor.explain import written_split
from predictor.training import as_features
from tests.data import rule_data
from tests.factories import MetricFactory, TrainedModelFactory, fitted_tree

PREDICT_URL = reverse("metrics:predict")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def ask(client: Client, metric: Metric | None, value: str | int, time: str | int):
    """POST the predict form, without following: a verdict redirects, a refusal or an error renders."""
    data: dict[str, str | int] = {"metric": "" if metric is None else metric.pk, "value": value, "minutes": time}
    return client.post(PREDICT_URL, data)


def ask_untrained(client: Client, owner: User, metric: Metric, rows: int):
    """The owner asks about 200 at 30 minutes of `metric`, holding `rows` rule rows and no model."""
    metric.import_indicators(rule_data(rows), owner)
    client.force_login(owner)
    return ask(client, metric, 200, 30)


def verdict_page(client: Client, metric: Metric, value: str | int, time: str | int) -> str:
    """Ask for a verdict and read the page it redirects to: the verdict's own, permanent one."""
    response = client.post(PREDICT_URL, {"metric": metric.pk, "value": value, "minutes": time}, follow=True)
    newest = Verdict.objects.latest("pk")
    assert response.redirect_chain == [(reverse("metrics:verdict", args=[newest.pk]), 302)]
    assert response.status_code == 200
    return response.content.decode()


def text_of(html: str, testid: str) -> str:
    """The words of the element marked `data-testid`, as a person reads them."""
    match = re.search(rf'data-testid="{testid}">(.*?)</(?:p|h1|ul)>', html, re.S)
    assert match is not None, f"no {testid}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def regions_data(html: str) -> dict:
    match = re.search(
        r'<script(?=[^>]*\bid="regions-data")(?=[^>]*\btype="application/json")[^>]*>(.*?)</script>', html, re.S
    )
    assert match is not None, "no regions-data script"
    return json.loads(match.group(1))


def pairplot_url(model: TrainedModel) -> str:
    return reverse("metrics:pairplot", args=[model.pk])


@pytest.fixture
def model(trained_metric: Metric) -> TrainedModel:
    return TrainedModel.objects.get(metric=trained_metric)


def same_leaf_counts(value: float, minutes: float) -> tuple[int, int]:
    """(rollbacks, cases) of the fixture's training data in the leaf of (value, minutes), read from scikit-learn."""
    tree, data = fitted_tree(), rule_data(200)
    leaf = tree.apply(as_features([value], [minutes]))[0]
    in_leaf = tree.apply(as_features(data.values, data.times)) == leaf
    decisions = [d for d, inside in zip(data.decisions, in_leaf, strict=True) if inside]
    return sum(d == ROLLBACK for d in decisions), len(decisions)


# --- The verdict -----------------------------------------------------------------------


def test_prediction_recommends_rollback_for_a_low_value_over_a_long_time(
    client: Client, stranger: User, trained_metric: Metric
) -> None:
    # The catalogue is shared: an account with nothing to do with the metric gets verdicts too.
    client.force_login(stranger)

    html = verdict_page(client, trained_metric, 200, 30)

    assert '<h1 class="display-5 fw-bold mb-2" data-testid="verdict">Rollback recommended</h1>' in html
    assert "Rollout recommended" not in html
    verdict = Verdict.objects.get()
    assert (verdict.metric, verdict.state, verdict.value, verdict.minutes, verdict.asked_by, verdict.source) == (
        trained_metric,
        "rollback",
        200.0,
        30.0,
        stranger,
        "web",
    )


def test_prediction_recommends_rollout_for_a_high_value(client: Client, owner: User, trained_metric: Metric) -> None:
    client.force_login(owner)

    html = verdict_page(client, trained_metric, 900, 30)

    assert '<h1 class="display-5 fw-bold mb-2" data-testid="verdict">Rollout recommended</h1>' in html
    assert "Rollback recommended" not in html
    assert Verdict.objects.get().state == "rollout"


def test_an_observation_far_outside_the_data_is_inconclusive_and_says_why(
    client: Client, owner: User, trained_metric: Metric
) -> None:
    client.force_login(owner)

    html = verdict_page(client, trained_metric, 5000, 30)

    assert text_of(html, "verdict") == "Inconclusive"
    assert "recommended" not in html
    data = rule_data(200)
    assert text_of(html, "reasons") == (
        f"The value 5000 lies outside what the model has seen ({min(data.values)} to {max(data.values)})."
    )
    verdict = Verdict.objects.get()
    assert (verdict.state, verdict.leaning) == ("inconclusive", "rollout")
    assert [reason["code"] for reason in verdict.reasons] == ["value_out_of_range"]


def test_prediction_shows_similar_cases_rule_accuracy_and_version(
    client: Client, owner: User, model: TrainedModel
) -> None:
    client.force_login(owner)

    html = verdict_page(client, model.metric, 200, 30)

    # The counts and the splits, read from scikit-learn's own tree rather than the app's reading of it.
    rollbacks, cases = same_leaf_counts(200, 30)
    assert cases >= model.metric.min_leaf_cases
    assert text_of(html, "similar-cases") == f"{rollbacks} of {cases} similar past cases were rolled back."
    splits = {
        int(feature): float(split)
        for feature, split in zip(fitted_tree().tree_.feature, fitted_tree().tree_.threshold, strict=True)
        if feature >= 0
    }
    value_split, time_split = written_split(splits[0]), written_split(splits[1])
    at_most = "at most" if value_split.goes_left else "below"
    above = "above" if time_split.goes_left else "at least"
    assert text_of(html, "rule") == (
        f"Similar means: value {at_most} {threshold(value_split)} and time {above} {threshold(time_split)} minutes."
    )
    assert f"Model version 1, {percent(model.accuracy)} accurate on data it did not see." in html
    assert f'href="{reverse("metrics:model_card", args=[model.pk])}"' in html
    assert "probability" not in html
    verdict = Verdict.objects.get()
    assert (verdict.leaf_rollbacks, verdict.leaf_cases, verdict.model, verdict.model_version) == (
        rollbacks,
        cases,
        model,
        1,
    )


def test_prediction_uses_the_active_model_version(client: Client, owner: User, model: TrainedModel) -> None:
    newest = TrainedModelFactory.create(metric=model.metric, accuracy=0.75)
    client.force_login(owner)

    html = verdict_page(client, model.metric, 200, 30)

    assert newest.version == 2
    assert f"Model version 2, {percent(0.75)} accurate on data it did not see." in html
    assert f'src="{pairplot_url(newest)}"' in html
    assert pairplot_url(model) + "?" not in html
    assert Verdict.objects.get().model == newest


def test_a_newer_version_that_is_not_active_does_not_answer(client: Client, owner: User, model: TrainedModel) -> None:
    candidate = TrainedModelFactory.create(metric=model.metric, accuracy=0.75, active=False)
    client.force_login(owner)

    html = verdict_page(client, model.metric, 200, 30)

    assert candidate.version == 2
    assert f"Model version 1, {percent(model.accuracy)} accurate on data it did not see." in html
    assert f'src="{pairplot_url(model)}"' in html
    assert Verdict.objects.get().model == model


def test_verdict_page_carries_the_decision_regions_with_the_observation(
    client: Client, owner: User, trained_metric: Metric
) -> None:
    client.force_login(owner)

    html = verdict_page(client, trained_metric, 200, 30)

    figure = regions_data(html)
    traces = {trace["name"]: trace for trace in figure["data"]}
    assert set(traces) == {"Rollout", "Rollback", "Your observation"}
    assert traces["Your observation"]["x"] == [30.0]
    assert traces["Your observation"]["y"] == [200.0]
    assert traces["Your observation"]["marker"]["color"] == charts.ROLLBACK_COLOUR
    assert len(traces["Rollout"]["x"]) + len(traces["Rollback"]["x"]) == 200
    # One region per leaf of the tree.
    assert len(figure["layout"]["shapes"]) == fitted_tree().get_n_leaves()
    assert 'id="regions"' in html
    assert 'id="scatter-data"' not in html
    # Handed over as data, not as code: no inline script body to run.
    assert "<script>" not in html


def test_an_inconclusive_verdict_marks_the_observation_in_grey(
    client: Client, owner: User, trained_metric: Metric
) -> None:
    client.force_login(owner)

    html = verdict_page(client, trained_metric, 5000, 30)

    [star] = [trace for trace in regions_data(html)["data"] if trace["name"] == "Your observation"]
    assert star["marker"]["color"] == charts.INCONCLUSIVE_COLOUR


def test_prediction_page_shows_the_pairplot_image(client: Client, owner: User, model: TrainedModel) -> None:
    client.force_login(owner)

    html = verdict_page(client, model.metric, 200, 30)

    assert f'<img class="img-fluid border rounded" src="{pairplot_url(model)}"' in html


def test_predict_page_preselects_the_metric_given_by_for(client: Client, owner: User, metric: Metric) -> None:
    client.force_login(owner)

    response = client.get(PREDICT_URL, {"for": metric.pk})

    assert response.status_code == 200
    html = response.content.decode()
    assert f'<option value="{metric.pk}" selected>' in html
    assert "This field is required." not in html
    assert "Choose a metric, enter the value you observe" in html


def test_predict_page_by_get_fills_the_form_from_the_link_and_gives_no_verdict(
    client: Client, owner: User, trained_metric: Metric
) -> None:
    # A link (say, back from training) may carry the inputs; only pressing Run gives a verdict.
    client.force_login(owner)

    response = client.get(PREDICT_URL, {"metric": trained_metric.pk, "value": 200, "minutes": 30})

    assert response.status_code == 200
    html = response.content.decode()
    assert f'<option value="{trained_metric.pk}" selected>' in html
    assert 'name="value" value="200"' in html
    assert 'name="minutes" value="30"' in html
    assert 'method="post"' in html
    assert "recommended" not in html
    assert not Verdict.objects.exists()


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


def test_pairplot_shows_the_data_its_version_learnt_from(client: Client, owner: User, model: TrainedModel) -> None:
    client.force_login(owner)
    drawn: list[int] = []

    def record(columns: IndicatorColumns, labels: charts.ChartLabels) -> bytes:
        drawn.append(len(columns))
        return PNG_SIGNATURE

    with mock.patch.object(charts, "render_pairplot_png", side_effect=record):
        client.get(pairplot_url(model))
        model.metric.import_indicators(rule_data(50, seed=7), owner)
        client.get(pairplot_url(model))  # new data: the same version, the same picture
        newer = TrainedModelFactory.create(metric=model.metric)
        client.get(pairplot_url(newer))

    # The version's stored sample, read from no indicator row; a newer version has its own.
    assert drawn == [200, 250]


def test_pairplot_of_a_missing_model_is_404(client: Client, owner: User) -> None:
    client.force_login(owner)

    assert client.get(reverse("metrics:pairplot", args=[999_999])).status_code == 404


# --- No usable model ---------------------------------------------------------------------


def test_metric_without_a_model_says_so_offers_to_train_and_logs_no_verdict(
    client: Client, owner: User, metric: Metric
) -> None:
    response = ask_untrained(client, owner, metric, rows=20)

    assert response.status_code == 200
    html = response.content.decode()
    assert "“Requests per minute” has no trained model yet. Train it, then run the prediction again." in html
    assert f'action="{reverse("metrics:train", args=[metric.pk])}"' in html
    assert "recommended" not in html
    assert "Inconclusive" not in html
    assert not Verdict.objects.exists()


def test_metric_with_too_little_data_to_train_says_what_it_needs_and_offers_no_train_button(
    client: Client, owner: User, metric: Metric
) -> None:
    # A Train button there could only queue a job that fails saying the same.
    response = ask_untrained(client, owner, metric, rows=4)

    html = response.content.decode()
    assert "“Requests per minute” has no trained model yet. Not enough data to train" in html
    assert "Train it, then" not in html
    assert f'action="{reverse("metrics:train", args=[metric.pk])}"' not in html
    assert f'href="{metric.get_absolute_url()}"' in html
    assert not Verdict.objects.exists()
    assert not Job.objects.exists()


def test_training_from_the_refusal_comes_back_to_the_form_filled_in_as_it_was(
    client: Client, owner: User, metric: Metric
) -> None:
    html = ask_untrained(client, owner, metric, rows=40).content.decode()
    back = f"{PREDICT_URL}?metric={metric.pk}&amp;value=200&amp;minutes=30"
    assert f'name="next" value="{back}"' in html

    trained = client.post(reverse("metrics:train", args=[metric.pk]), {"next": back.replace("&amp;", "&")})
    form = client.get(trained["Location"]).content.decode()

    assert 'name="value" value="200"' in form
    assert 'name="minutes" value="30"' in form
    assert f'<option value="{metric.pk}" selected>' in form


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


def test_a_sound_model_is_loaded_through_joblib_once_per_process(
    client: Client, owner: User, model: TrainedModel
) -> None:
    # The counterpart of the test below: it proves that patching joblib.load is where loading happens.
    import joblib

    client.force_login(owner)

    with mock.patch("joblib.load", wraps=joblib.load) as load:
        first = verdict_page(client, model.metric, 200, 30)
        second = verdict_page(client, model.metric, 900, 30)

    # The tree is read, verified and compiled once; the next verdict walks the compiled tree.
    assert load.call_count == 1
    assert "Rollback recommended" in first
    assert "Rollout recommended" in second
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
        response = ask(client, model.metric, 200, 30)

    assert load.call_count == 0
    assert response.status_code == 200
    html = response.content.decode()
    # The message names the real cause (it used to say "changed, or made by another version").
    assert f"Version 1 of the model of “Requests per minute” cannot be used: {cause.label}. Train it again." in html
    assert f'action="{reverse("metrics:train", args=[model.metric_id])}"' in html
    assert "recommended" not in html
    assert "Inconclusive" not in html
    assert 'id="regions-data"' not in html
    # Nothing stored changes, but for the refusal recorded when the bytes themselves are bad:
    # a key or version mismatch is the server's, and another server may use the model.
    assert models_state() == before
    assert TrainedModel.objects.get(pk=model.pk).refused_because == (cause if recorded else "")
    assert not Verdict.objects.exists()


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

    response = ask(client, trained_metric if use_metric else None, value, time)

    assert response.status_code == 400
    html = response.content.decode()
    assert f'<div class="invalid-feedback d-block">{message}</div>' in html
    assert "recommended" not in html
    assert 'id="regions-data"' not in html
    assert not Verdict.objects.exists()


def test_prediction_for_a_metric_that_does_not_exist_shows_a_form_error(client: Client, owner: User) -> None:
    client.force_login(owner)

    response = client.post(PREDICT_URL, {"metric": 999_999, "value": 200, "minutes": 30})

    assert response.status_code == 400
    html = response.content.decode()
    assert "Select a valid choice. That choice is not one of the available choices." in html
    assert "recommended" not in html
    assert not Verdict.objects.exists()


def database_state() -> dict[str, object]:
    return {
        "metrics": list(
            Metric.objects.order_by("pk").values_list(
                "pk", "name", "category", "data_version", "active_model_id", "is_active_model_pinned"
            )
        ),
        "indicators": list(
            Indicator.objects.order_by("pk").values_list("pk", "metric_id", "value", "decision", "time")
        ),
        "models": models_state(),
        "refusals": list(TrainedModel.objects.order_by("pk").values_list("pk", "refused_because")),
    }


def test_prediction_logs_one_verdict_and_changes_nothing_else(client: Client, owner: User, model: TrainedModel) -> None:
    MetricFactory.create(owner=owner)
    client.force_login(owner)
    before = database_state()

    html = verdict_page(client, model.metric, 200, 30)

    assert "Rollback recommended" in html
    assert database_state() == before
    assert list(Verdict.objects.values_list("metric", "model", "state", "decided")) == [
        (model.metric_id, model.pk, "rollback", None)
    ]


# --- Running a verdict again from its page -----------------------------------------------


def run_again_form(html: str) -> dict[str, str]:
    """The fields of the verdict page's "run again" form, as the browser would send them."""
    form = re.search(r'<form method="post" action="' + PREDICT_URL + r'".*?</form>', html, re.S)
    assert form is not None, "no predict form"
    fields = dict(re.findall(r'<input[^>]*name="(\w+)"[^>]*value="([^"]*)"', form.group()))
    selected = re.search(r'<option value="(\d+)" selected>', form.group())
    assert selected is not None
    return {**fields, "metric": selected.group(1)}


@pytest.mark.parametrize(("language", "shown"), [("en", "12.333333"), ("pt-br", "12,333333")])
def test_a_verdicts_fractional_minutes_are_shown_rounded_in_its_run_again_form(
    client: Client, owner: User, trained_metric: Metric, language: str, shown: str
) -> None:
    pulled = trained_metric.predict(873.63, 37 / 3, owner)  # a pulled value's minutes: 12.333333333333334
    client.force_login(owner)
    client.post(reverse("set_language"), {"language": language, "next": "/"})

    form = run_again_form(client.get(pulled.get_absolute_url()).content.decode())

    assert form["minutes"] == shown
    assert "12.333333333333334" not in form["minutes"]


def test_running_a_verdict_again_unchanged_asks_at_its_exact_minutes(
    client: Client, owner: User, trained_metric: Metric
) -> None:
    pulled = trained_metric.predict(873.63, 37 / 3, owner)
    client.force_login(owner)
    form = run_again_form(client.get(pulled.get_absolute_url()).content.decode())

    response = client.post(PREDICT_URL, form)

    again = Verdict.objects.latest("pk")
    assert response.status_code == 302
    assert again.pk != pulled.pk
    assert (again.value, again.minutes) == (873.63, 37 / 3)


def test_minutes_changed_in_the_run_again_form_are_the_ones_typed(
    client: Client, owner: User, trained_metric: Metric
) -> None:
    pulled = trained_metric.predict(873.63, 37 / 3, owner)
    client.force_login(owner)
    form = run_again_form(client.get(pulled.get_absolute_url()).content.decode())

    client.post(PREDICT_URL, {**form, "minutes": "12.5"})
    client.post(PREDICT_URL, {**form, "minutes": "12.333334"})

    assert [verdict.minutes for verdict in Verdict.objects.order_by("pk")][1:] == [12.5, 12.333334]
