"""Stored models and the server's keys: rotation keeps models usable; a model that cannot
be verified says why, is logged, is marked on the pages, and is retrained."""

from __future__ import annotations

import logging
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from metrics.exceptions import ModelUnusable
from metrics.models import Metric, TrainedModel, Unusable, Verdict
from tests.factories import MetricFactory, TrainedModelFactory
from tests.pages import messages_of, table_rows

OLD_SECRET = "the secret key before the rotation"
NEW_SECRET = "the secret key after the rotation"
UNKNOWN_KEY_CAUSE = (
    "it was signed with a key this server no longer has (the secret key changed without the old one kept as a fallback)"
)


@pytest.fixture
def signed_with_old_key(settings, trained_metric: Metric) -> TrainedModel:
    """The metric's model, signed before SECRET_KEY was rotated to NEW_SECRET."""
    trained_metric.trained_models.all().delete()
    settings.SECRET_KEY = OLD_SECRET
    model = TrainedModelFactory.create(metric=trained_metric)
    settings.SECRET_KEY = NEW_SECRET
    return model


def ask(client: Client, metric: Metric) -> str:
    """Run the model from the predict page: the verdict page it leads to, or the refusal."""
    data = {"metric": metric.pk, "value": 200, "minutes": 30}
    return client.post(reverse("metrics:predict"), data, follow=True).content.decode()


def ask_logging_refusals(
    client: Client, owner: User, metric: Metric, caplog: pytest.LogCaptureFixture
) -> tuple[str, list[str]]:
    """The owner asks: the page, and the warnings logged about refused models meanwhile."""
    client.force_login(owner)
    with caplog.at_level(logging.WARNING, logger="metrics.models.trained_model"):
        html = ask(client, metric)
    return html, [record.getMessage() for record in caplog.records]


def test_rotating_secret_key_with_the_old_one_as_fallback_keeps_models_usable(
    client: Client, settings, signed_with_old_key: TrainedModel, owner: User
) -> None:
    settings.SECRET_KEY_FALLBACKS = [OLD_SECRET]
    client.force_login(owner)

    assert "Rollback recommended" in ask(client, signed_with_old_key.metric)
    assert Verdict.objects.get().model == signed_with_old_key
    assert signed_with_old_key.is_usable
    assert signed_with_old_key.metric not in Metric.objects.needing_training()


def test_a_dedicated_signing_key_rotates_with_its_own_fallbacks(settings, trained_metric: Metric, owner: User) -> None:
    settings.MBREAK_MODEL_SIGNING_KEY = "old signing key"
    model = TrainedModelFactory.create(metric=trained_metric)
    settings.MBREAK_MODEL_SIGNING_KEY = "new signing key"
    settings.SECRET_KEY = NEW_SECRET  # has no say once a dedicated key is set

    with pytest.raises(ModelUnusable):
        trained_metric.predict(200, 30, owner)
    settings.MBREAK_MODEL_SIGNING_KEY_FALLBACKS = ["old signing key"]
    assert trained_metric.predict(200, 30, owner).is_rollback
    assert model.is_usable


def test_a_model_signed_with_a_key_the_server_lost_says_why_and_is_logged(
    client: Client, signed_with_old_key: TrainedModel, owner: User, caplog: pytest.LogCaptureFixture
) -> None:
    html, logged = ask_logging_refusals(client, owner, signed_with_old_key.metric, caplog)

    assert (
        f"Version 1 of the model of “Requests per minute” cannot be used: {UNKNOWN_KEY_CAUSE}. Train it again." in html
    )
    assert "Rollback recommended" not in html
    assert not Verdict.objects.exists()
    assert logged == [
        f"Refused model Requests per minute v1 (id {signed_with_old_key.pk}, metric {signed_with_old_key.metric_id}) "
        f"for user owner: key (sklearn {signed_with_old_key.sklearn_version}, key {signed_with_old_key.signing_key_id})"
    ]


def test_list_and_metric_pages_mark_an_unusable_model(
    client: Client, signed_with_old_key: TrainedModel, owner: User
) -> None:
    client.force_login(owner)

    list_row = table_rows(client.get(reverse("metrics:list")))[0]
    detail = client.get(signed_with_old_key.metric.get_absolute_url()).content.decode()

    assert "Unusable: train again" in " ".join(list_row)
    assert "90" not in list_row[4]  # the accuracy of a model that cannot answer is not shown
    assert f"Version 1 cannot be used: {UNKNOWN_KEY_CAUSE}. Train it again." in detail


def test_train_the_models_retrains_an_unusable_model(
    client: Client, signed_with_old_key: TrainedModel, owner: User
) -> None:
    client.force_login(owner)

    response = client.post(reverse("metrics:train_all"))

    assert messages_of(response) == ["Trained 1 model: Requests per minute."]
    newest = signed_with_old_key.metric.trained_models.latest("version")
    assert (newest.version, newest.is_usable) == (2, True)
    assert "Rollback recommended" in ask(client, signed_with_old_key.metric)
    assert Verdict.objects.get().model == newest


def test_the_train_command_retrains_unusable_models_and_says_what_it_did(
    signed_with_old_key: TrainedModel, owner: User
) -> None:
    current = MetricFactory.create(owner=owner, name="Error rate")
    TrainedModelFactory.create(metric=current)
    output = StringIO()

    call_command("train", "--unusable", stdout=output)

    lines = output.getvalue().splitlines()
    assert lines[0].startswith("Trained 'Requests per minute' (Traffic): version 2, ")
    assert lines[-1] == "1 trained, 0 without enough data, 0 failed, 0 left."
    assert current.trained_models.count() == 1


def test_the_train_command_with_stale_trains_metrics_without_a_model_or_with_new_data(
    trained_metric: Metric, owner: User
) -> None:
    trained_metric.add_indicator(value=1, decision=1, time=30, user=owner)
    output = StringIO()

    call_command("train", "--stale", "--user", "owner", stdout=output)

    newest = trained_metric.trained_models.latest("version")
    assert (newest.version, newest.trained_by, newest.is_current) == (2, owner, True)
    assert "1 trained" in output.getvalue()
    call_command("train", "--stale", "--unusable", stdout=output)
    assert output.getvalue().splitlines()[-1] == "Nothing to train: every model is up to date and usable."


def test_the_train_command_needs_to_be_told_what_to_train(db: None) -> None:
    with pytest.raises(CommandError, match="--metric NAME, --stale, --unusable, or several"):
        call_command("train")
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("train", "--stale", "--user", "nobody")


def test_altered_model_bytes_are_refused_logged_and_marked_for_good(
    client: Client, trained_metric: Metric, owner: User, caplog: pytest.LogCaptureFixture
) -> None:
    model = trained_metric.trained_models.get()
    altered = bytearray(model.artifact)
    altered[len(altered) // 2] ^= 0xFF
    TrainedModel.objects.filter(pk=model.pk).update(artifact=bytes(altered))
    html, logged = ask_logging_refusals(client, owner, trained_metric, caplog)

    assert "cannot be used: its stored bytes no longer match their hash: it was altered in the database" in html
    assert ": hash (The stored model does not match its recorded hash.)" in logged[0]
    assert not Verdict.objects.exists()
    model.refresh_from_db()
    assert model.refused_because == Unusable.HASH
    assert trained_metric in Metric.objects.needing_training(stale=False, unusable=True)


def test_a_model_made_by_another_scikit_learn_is_refused_with_that_cause(
    client: Client, trained_metric: Metric, owner: User, caplog: pytest.LogCaptureFixture
) -> None:
    trained_metric.trained_models.update(sklearn_version="0.24.2")
    html, logged = ask_logging_refusals(client, owner, trained_metric, caplog)

    assert "it was made by another version of scikit-learn than this server runs" in html
    assert "sklearn 0.24.2" in logged[0]
    assert not Verdict.objects.exists()
    # Another server (or this one after an upgrade) can still use it: nothing is recorded.
    assert trained_metric.trained_models.get().refused_because == ""
