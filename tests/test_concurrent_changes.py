"""Two requests at once (a double click, two tabs, a pipeline retrying): each change is kept
or refused with a message, the counts stay right, and nothing answers 500."""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.forms import SignupForm
from accounts.models import ApiToken, TokenScope
from api.serializers import GateSerializer
from api.views import metrics as metric_views
from metrics.forms import GateMetricFormSet
from metrics.models import Gate, ImportBatch, Indicator, Metric, Verdict
from metrics.models.indicator import IndicatorQuerySet
from tests.conftest import rule_data
from tests.factories import PASSWORD, MetricFactory, TrainedModelFactory
from tests.metrics.test_gate_pages import form_data
from tests.metrics.test_import_batches import upload
from tests.pages import messages_of

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks and concurrent sessions: PostgreSQL"
)


def counted(metric: Metric) -> tuple[int, int, int]:
    """The stored count, the rows there are, the data version."""
    metric.refresh_from_db()
    return metric.indicator_count, metric.indicators.count(), metric.data_version


def test_an_indicator_deleted_twice_at_once_is_counted_once(metric: Metric, owner: User) -> None:
    for value in (1, 2, 3):
        metric.add_indicator(value=value, decision=1, time=20, user=owner)
    pk = metric.indicators.order_by("pk").values_list("pk", flat=True)[0]
    first, second = Indicator.objects.get(pk=pk), Indicator.objects.get(pk=pk)  # two requests read it
    version = counted(metric)[2]

    first.delete()
    second.delete()

    assert counted(metric) == (2, 2, version + 1)


def test_undoing_a_file_while_one_of_its_rows_is_deleted_keeps_the_count_right(
    client: Client, metric: Metric, owner: User
) -> None:
    metric.add_indicator(value=1, decision=1, time=20, user=owner)
    client.force_login(owner)
    upload(client, metric)
    batch = ImportBatch.objects.get()
    row = batch.indicators.order_by("pk").first()
    assert row is not None
    counting = IndicatorQuerySet._rows_per_metric

    def row_deleted_meanwhile(self: IndicatorQuerySet) -> dict[int, int]:
        rows = counting(self)  # the undo has counted the file's rows...
        row.delete()  # ...when the owner deletes one of them on the metric's page
        return rows

    with mock.patch.object(IndicatorQuerySet, "_rows_per_metric", row_deleted_meanwhile):
        response = client.post(reverse("metrics:undo_import", args=[batch.pk]))

    assert messages_of(response)[-1] == "Undone: the 2 indicators of “deploy-42.csv” were deleted."
    assert counted(metric)[:2] == (1, 1)


def test_two_settings_changed_at_once_through_the_api_are_both_kept(metric: Metric, owner: User) -> None:
    _token, secret = ApiToken.objects.issue(owner, "deploys", TokenScope.WRITE)
    read_before = Metric.objects.get(pk=metric.pk)  # this request read the metric...
    Metric.objects.filter(pk=metric.pk).update(min_leaf_cases=20)  # ...before another one saved its change

    with mock.patch.object(metric_views, "get_metric_for_settings", return_value=read_before):
        response = Client().patch(
            reverse("api:metric", args=[metric.pk]),
            {"rollback_threshold": 0.9},
            content_type="application/json",
            headers={"Authorization": f"Bearer {secret}"},
        )

    assert response.status_code == 200
    metric.refresh_from_db()
    assert (metric.rollback_threshold, metric.min_leaf_cases) == (0.9, 20)


def test_the_same_name_signed_up_twice_at_once_says_it_is_taken(client: Client, db: None) -> None:
    validate = SignupForm.is_valid

    def other_click_first(form: SignupForm) -> bool:
        valid = validate(form)  # the name was free when this request checked it...
        User.objects.create_user("carol", password=PASSWORD)  # ...then the first click's request took it
        return valid

    with mock.patch.object(SignupForm, "is_valid", other_click_first):
        response = client.post(
            reverse("accounts:signup"), {"username": "carol", "password1": PASSWORD, "password2": PASSWORD}
        )

    assert response.status_code == 200
    assert "A user with that username already exists." in response.content.decode()
    assert User.objects.filter(username="carol").count() == 1


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_two_changes_of_a_gate_at_once_through_the_api_are_both_kept(owner: User) -> None:
    gate = Gate.objects.create(name="Checkout", owner=owner, pass_score=80, marginal_score=50)
    _token, secret = ApiToken.objects.issue(owner, "deploys", TokenScope.WRITE)
    validate = GateSerializer.is_valid
    first_checked = threading.Event()
    answers: list[int] = []

    def slow(serializer: GateSerializer, *args: Any, **kwargs: Any) -> bool:
        valid = validate(serializer, *args, **kwargs)
        if threading.current_thread().name == "rename":
            first_checked.set()
            time.sleep(0.5)  # the second request arrives while the first is being saved
        return valid

    def patch(body: dict[str, Any]) -> None:
        try:
            response = Client().patch(
                reverse("api:gate", args=[gate.pk]),
                body,
                content_type="application/json",
                headers={"Authorization": f"Bearer {secret}"},
            )
            answers.append(response.status_code)
        finally:
            connection.close()

    with mock.patch.object(GateSerializer, "is_valid", slow):
        rename = threading.Thread(target=patch, args=[{"name": "Checkout web"}], name="rename")
        rename.start()
        assert first_checked.wait(10)
        rescore = threading.Thread(target=patch, args=[{"pass_score": 90}], name="rescore")
        rescore.start()
        rename.join()
        rescore.join()

    assert answers == [200, 200]
    gate.refresh_from_db()
    assert (gate.name, gate.pass_score) == ("Checkout web", 90)


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_gate_deleted_while_it_is_changed_stays_deleted(owner: User) -> None:
    gate = Gate.objects.create(name="Checkout", owner=owner)
    gate.gate_metrics.create(metric=MetricFactory.create(owner=owner))
    _token, secret = ApiToken.objects.issue(owner, "deploys", TokenScope.WRITE)
    validate = GateSerializer.is_valid
    checked = threading.Event()
    answers: dict[str, int] = {}

    def slow(serializer: GateSerializer, *args: Any, **kwargs: Any) -> bool:
        valid = validate(serializer, *args, **kwargs)
        checked.set()
        time.sleep(0.5)  # the owner deletes the gate while the change is being saved
        return valid

    def send(method: str, body: dict[str, Any] | None = None) -> None:
        try:
            response = Client().generic(
                method,
                reverse("api:gate", args=[gate.pk]),
                "" if body is None else json.dumps(body),
                content_type="application/json",
                headers={"Authorization": f"Bearer {secret}"},
            )
            answers[method] = response.status_code
        finally:
            connection.close()

    with mock.patch.object(GateSerializer, "is_valid", slow):
        change = threading.Thread(target=send, args=["PATCH", {"name": "Checkout web"}])
        change.start()
        assert checked.wait(10)
        delete = threading.Thread(target=send, args=["DELETE"])
        delete.start()
        change.join()
        delete.join()

    assert answers == {"PATCH": 200, "DELETE": 204}
    assert not Gate.objects.exists()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_gate_editor_submitted_twice_at_once_adds_its_metric_once(owner: User) -> None:
    gate = Gate.objects.create(name="Checkout deploys", owner=owner)
    added = MetricFactory.create(owner=owner)
    data = form_data([{"metric": added.pk, "weight": "1"}])
    validate = GateMetricFormSet.is_valid
    first_checked = threading.Event()
    answers: list[int] = []

    def slow(formset: Any) -> bool:
        valid = validate(formset)
        if threading.current_thread().name == "first":
            first_checked.set()
            time.sleep(0.5)  # the second click arrives while the first is being saved
        return valid

    def submit() -> None:
        try:
            client = Client()
            client.force_login(owner)
            answers.append(client.post(reverse("metrics:gate_edit", args=[gate.pk]), data).status_code)
        finally:
            connection.close()

    with mock.patch.object(GateMetricFormSet, "is_valid", slow):
        first = threading.Thread(target=submit, name="first")
        first.start()
        assert first_checked.wait(10)
        second = threading.Thread(target=submit, name="second")
        second.start()
        first.join()
        second.join()

    assert sorted(answers) == [302, 400]  # the second is shown the form again, with why
    assert list(gate.gate_metrics.values_list("metric", flat=True)) == [added.pk]


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_feedback_given_while_the_owner_deletes_the_metric_waits_for_one_another(owner: User) -> None:
    """Each takes the metric's lock first, then its verdicts': neither holds a lock the other
    waits for, so the database never has to cancel one of them (a 500)."""
    metric = MetricFactory.create(owner=owner)
    metric.import_indicators(rule_data(200), owner)
    TrainedModelFactory.create(metric=metric, trained_by=owner)
    verdict = metric.predict(500, 20, owner)
    first_lock = threading.Event()
    errors: list[BaseException] = []

    def hold_the_first_lock(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        if "FOR UPDATE" in sql and not first_lock.is_set():
            first_lock.set()
            time.sleep(0.5)  # the owner presses Delete meanwhile
        return result

    def feedback() -> None:
        try:
            with connection.execute_wrapper(hold_the_first_lock):
                Verdict.objects.select_related("metric").get(pk=verdict.pk).add_feedback(1, "", owner)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    def delete() -> None:
        try:
            Metric.objects.get(pk=metric.pk).delete()
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    giver = threading.Thread(target=feedback)
    giver.start()
    assert first_lock.wait(10)
    deleter = threading.Thread(target=delete)
    deleter.start()
    giver.join()
    deleter.join()

    assert errors == []
    assert not Metric.objects.filter(pk=metric.pk).exists()
    assert not Indicator.objects.exists()
