from __future__ import annotations

from datetime import datetime

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.db import models
from django.test import Client
from django.urls import reverse

from metrics.models import Gate, GateMetric, Indicator, Metric, Outcome, OutcomeVia, Release, TrainedModel
from tests.factories import IndicatorFactory, MetricFactory
from tests.pages import control
from tests.refusals import changes_nothing

MODELS: list[type[models.Model]] = [Metric, Indicator, TrainedModel, User]


def admin_url(model: type[models.Model], view: str, *args: object) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def change_link(obj: models.Model) -> str:
    # Left open: a filtered changelist adds "?_changelist_filters=..." to its links.
    return f'href="{admin_url(type(obj), "change", obj.pk)}'


@pytest.fixture
def superuser(db: None) -> User:
    return User.objects.create_superuser("admin", "admin@example.com", "not-used-here")


@pytest.fixture
def one_of_each(trained_metric: Metric) -> dict[type[models.Model], models.Model]:
    # The newest indicator, so that it is on the changelist's first page.
    newest_indicator = trained_metric.indicators.order_by("-pk").first()
    assert newest_indicator is not None
    return {
        Metric: trained_metric,
        Indicator: newest_indicator,
        TrainedModel: trained_metric.trained_models.get(),
        User: trained_metric.owner,
    }


@pytest.fixture
def two_metrics(owner: User) -> dict[str, Metric]:
    """Two metrics, each with one indicator, in different years: one to find, one not to."""
    requests = MetricFactory.create(owner=owner, name="Requests per minute", category="Traffic")
    latency = MetricFactory.create(owner=owner, name="Latency", category="Web")
    IndicatorFactory.create(metric=requests, created_at=datetime.fromisoformat("2026-03-04T12:00:00+00:00"))
    IndicatorFactory.create(metric=latency, created_at=datetime.fromisoformat("2025-07-08T12:00:00+00:00"))
    return {"requests": requests, "latency": latency}


def trained_model_state(model: TrainedModel) -> dict[str, object]:
    """Every stored field of the model, its bytes included."""
    fields = [field.attname for field in TrainedModel._meta.concrete_fields]
    row = TrainedModel.objects.filter(pk=model.pk).values(*fields).get()
    return {name: bytes(value) if isinstance(value, memoryview) else value for name, value in row.items()}


# --- Every model ---------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_model_is_registered_in_the_admin(model: type[models.Model]) -> None:
    assert admin.site.is_registered(model)


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_changelist_loads_for_a_superuser(client: Client, superuser: User, one_of_each, model) -> None:
    client.force_login(superuser)

    response = client.get(admin_url(model, "changelist"))

    assert response.status_code == 200
    assert change_link(one_of_each[model]) in response.content.decode()


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_change_page_loads_for_a_superuser(client: Client, superuser: User, one_of_each, model) -> None:
    client.force_login(superuser)

    response = client.get(admin_url(model, "change", one_of_each[model].pk))

    assert response.status_code == 200


def test_a_normal_user_is_kept_out_of_the_admin(client: Client, owner: User) -> None:
    client.force_login(owner)

    response = client.get(admin_url(Metric, "changelist"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


# --- Metrics and indicators ------------------------------------------------------------------


@pytest.mark.parametrize("model", [Metric, Indicator], ids=lambda model: model.__name__)
def test_admin_search_by_metric_name_shows_the_match_and_not_the_others(
    client: Client, superuser: User, two_metrics: dict[str, Metric], model: type[models.Model]
) -> None:
    requests, latency = two_metrics["requests"], two_metrics["latency"]
    match = requests if model is Metric else requests.indicators.get()
    other = latency if model is Metric else latency.indicators.get()
    client.force_login(superuser)

    response = client.get(admin_url(model, "changelist"), {"q": "Requests"})

    assert response.status_code == 200
    html = response.content.decode()
    assert change_link(match) in html
    assert change_link(other) not in html
    assert "1 result (" in html


def test_admin_refuses_a_duplicate_metric_with_a_message_and_creates_nothing(
    client: Client, superuser: User, metric: Metric
) -> None:
    client.force_login(superuser)
    before = list(Metric.objects.values_list("pk", "name", "category", "owner_id"))

    response = client.post(
        admin_url(Metric, "add"),
        {
            "name": "REQUESTS PER MINUTE",
            "category": "traffic",
            "owner": metric.owner.pk,
            "created_at_0": "2026-01-01",
            "created_at_1": "00:00:00",
        },
    )

    assert response.status_code == 200
    assert "A metric named “REQUESTS PER MINUTE” already exists in the category “traffic”." in response.content.decode()
    assert list(Metric.objects.values_list("pk", "name", "category", "owner_id")) == before


def test_indicator_admin_filters_by_metric_and_browses_by_date(
    client: Client, superuser: User, two_metrics: dict[str, Metric]
) -> None:
    requests, latency = two_metrics["requests"], two_metrics["latency"]
    client.force_login(superuser)

    response = client.get(admin_url(Indicator, "changelist"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "By metric" in html
    assert f'href="?metric__id__exact={requests.pk}"' in html
    assert f'href="?metric__id__exact={latency.pk}"' in html
    # The date hierarchy's top level: a link per year that holds indicators.
    assert 'href="?created_at__year=2025"' in html
    assert 'href="?created_at__year=2026"' in html
    filtered = client.get(admin_url(Indicator, "changelist"), {"metric__id__exact": latency.pk}).content.decode()
    assert change_link(latency.indicators.get()) in filtered
    assert change_link(requests.indicators.get()) not in filtered


# --- Trained models: read-only provenance ----------------------------------------------------


def test_trained_model_changelist_shows_the_accuracy_as_a_percentage(
    client: Client, superuser: User, one_of_each
) -> None:
    TrainedModel.objects.filter(pk=one_of_each[TrainedModel].pk).update(accuracy=0.8123)
    client.force_login(superuser)

    html = client.get(admin_url(TrainedModel, "changelist")).content.decode()

    assert '<td class="field-accuracy_percent">81.2%</td>' in html
    assert "0.8123" not in html


def test_trained_model_change_page_shows_provenance_read_only_and_never_the_fitted_bytes(
    client: Client, superuser: User, one_of_each
) -> None:
    model = TrainedModel.objects.get(pk=one_of_each[TrainedModel].pk)
    client.force_login(superuser)

    response = client.get(admin_url(TrainedModel, "change", model.pk))

    assert response.status_code == 200
    html = response.content.decode()
    assert f'<div class="readonly">{model.artifact_sha256}</div>' in html
    assert f'<div class="readonly">{model.sklearn_version}</div>' in html
    # Neither a field for the bytes, nor its label, nor the bytes rendered as text.
    assert "field-artifact" not in html.replace("field-artifact_sha256", "")
    assert 'name="artifact' not in html
    assert "Fitted model (joblib)" not in html
    assert "&lt;memory at" not in html
    assert repr(bytes(model.artifact)[:16])[2:-1] not in html
    # Nothing to edit, nothing to save.
    assert 'name="version"' not in html
    assert 'name="_save"' not in html


def test_staff_cannot_add_a_trained_model(client: Client, superuser: User, one_of_each) -> None:
    model = one_of_each[TrainedModel]
    client.force_login(superuser)
    before = trained_model_state(model)

    page = client.get(admin_url(TrainedModel, "add"))
    posted = client.post(admin_url(TrainedModel, "add"), {"metric": model.metric_id, "version": 2})
    changelist = client.get(admin_url(TrainedModel, "changelist")).content.decode()

    assert page.status_code == posted.status_code == 403
    assert list(TrainedModel.objects.values_list("pk", flat=True)) == [model.pk]
    assert trained_model_state(model) == before
    assert f'href="{admin_url(TrainedModel, "add")}"' not in changelist


def test_staff_cannot_change_a_trained_models_provenance(client: Client, superuser: User, one_of_each) -> None:
    model = one_of_each[TrainedModel]
    client.force_login(superuser)
    before = trained_model_state(model)

    response = client.post(
        admin_url(TrainedModel, "change", model.pk),
        {
            "metric": model.metric_id,
            "version": 7,
            "accuracy": 1.0,
            "sklearn_version": "0.24.2",
            "artifact_sha256": "0" * 64,
            "trained_by": "",
            "_save": "Save",
        },
    )

    assert response.status_code == 403
    assert list(TrainedModel.objects.values_list("pk", flat=True)) == [model.pk]
    assert trained_model_state(model) == before


def test_staff_may_delete_a_trained_model_and_the_metric_keeps_its_data(
    client: Client, superuser: User, one_of_each
) -> None:
    model = one_of_each[TrainedModel]
    client.force_login(superuser)

    response = client.post(admin_url(TrainedModel, "delete", model.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not TrainedModel.objects.exists()
    assert Metric.objects.filter(pk=model.metric_id).exists()
    assert Indicator.objects.filter(metric_id=model.metric_id).count() == 200


# --- Gates -------------------------------------------------------------------------------------


@pytest.fixture
def gate(metric: Metric) -> Gate:
    gate = Gate.objects.create(name="Checkout deploys", owner=metric.owner)
    GateMetric.objects.create(gate=gate, metric=metric, critical=True)
    return gate


def gate_admin_form(gate: Gate, **changed: str) -> dict[str, str]:
    """The gate's change form as the admin posts it, its one metric row included, with `changed`."""
    row = gate.gate_metrics.get()
    return {
        "name": gate.name,
        "owner": str(gate.owner_id),
        "pass_score": "80",
        "marginal_score": "50",
        "missing_after_minutes": "",
        "missing_means": "inconclusive",
        "pull_interval_seconds": "60",
        "pull_for_minutes": "120",
        "created_at_0": "2026-01-01",
        "created_at_1": "00:00:00",
        "gate_metrics-TOTAL_FORMS": "1",
        "gate_metrics-INITIAL_FORMS": "1",
        "gate_metrics-MIN_NUM_FORMS": "0",
        "gate_metrics-MAX_NUM_FORMS": "1000",
        "gate_metrics-0-id": str(row.pk),
        "gate_metrics-0-gate": str(gate.pk),
        "gate_metrics-0-metric": str(row.metric_id),
        "gate_metrics-0-weight": "1",
        "gate_metrics-0-critical": "on",
        "gate_metrics-0-judged_on": "release",
        "gate_metrics-0-failure_limit": "0",
        "gate_metrics-0-inconclusive_limit": "",
        **changed,
    }


def gate_settings(gate: Gate) -> list[tuple[object, ...]]:
    return [
        *Gate.objects.filter(pk=gate.pk).values_list("name", "missing_after_minutes", "missing_means", "dry_run"),
        *GateMetric.objects.filter(gate=gate).values_list("judged_on", "failure_limit", "inconclusive_limit"),
    ]


def test_staff_set_a_gates_missing_data_rule_dry_run_and_each_metrics_limits(
    client: Client, superuser: User, gate: Gate
) -> None:
    client.force_login(superuser)
    page = client.get(admin_url(Gate, "change", gate.pk)).content.decode()

    response = client.post(
        admin_url(Gate, "change", gate.pk),
        gate_admin_form(
            gate,
            missing_after_minutes="20",
            missing_means="rollback",
            dry_run="on",
            **{"gate_metrics-0-judged_on": "newest", "gate_metrics-0-failure_limit": "2"},
            **{"gate_metrics-0-inconclusive_limit": "4"},
        ),
    )

    for name in ("missing_after_minutes", "missing_means", "dry_run", "gate_metrics-0-judged_on"):
        assert control(page, name), name
    assert response.status_code == 302
    assert gate_settings(gate) == [("Checkout deploys", 20.0, "rollback", True), ("newest", 2, 4)]
    assert "dry run" in client.get(admin_url(Gate, "changelist")).content.decode().lower()


@pytest.mark.parametrize(
    ("field", "value"),
    [("missing_after_minutes", "-5"), ("missing_means", "maybe"), ("gate_metrics-0-failure_limit", "10001")],
)
def test_the_gate_admin_refuses_a_bad_setting_and_changes_nothing(
    client: Client, superuser: User, gate: Gate, field: str, value: str
) -> None:
    client.force_login(superuser)
    with changes_nothing(lambda: gate_settings(gate)):
        response = client.post(
            admin_url(Gate, "change", gate.pk), gate_admin_form(gate, name="Renamed", **{field: value})
        )

    assert response.status_code == 200
    assert "Please correct the error" in response.content.decode()


def test_staff_set_a_metrics_bad_direction(client: Client, superuser: User, metric: Metric) -> None:
    client.force_login(superuser)

    page = client.get(admin_url(Metric, "change", metric.pk)).content.decode()

    assert control(page, "bad_direction")
    assert "lower is worse" in page


OUTCOME_FIELDS = (
    "outcome",
    "outcome_at",
    "outcome_by",
    "outcome_via",
    "outcome_note",
    "gate_said",
    "gate_said_at_minute",
    "announced_state",
)


def test_staff_see_a_releases_outcome_but_cannot_change_it_in_the_admin(
    client: Client, superuser: User, gate: Gate
) -> None:
    """An outcome is recorded through the release page, the API, the CLI or a webhook, which log
    it, label its observations and announce it; an edit in the admin would do none of that."""
    release = Release.objects.create(gate=gate, name="checkout-web", created_by=gate.owner)
    release.record_outcome(Outcome.ROLLBACK, gate.owner, via=OutcomeVia.PAGE, note="p99 doubled")
    client.force_login(superuser)
    before = list(Release.objects.values(*OUTCOME_FIELDS))

    page = client.get(admin_url(Release, "change", release.pk)).content.decode()
    response = client.post(
        admin_url(Release, "change", release.pk),
        {
            "gate": str(gate.pk),
            "name": "checkout-web",
            "version": "",
            "key": "",
            "started_at_0": release.started_at.date().isoformat(),
            "started_at_1": release.started_at.time().isoformat(timespec="seconds"),
            "created_by": str(gate.owner_id),
            "pulling_ended_because": "",
            "outcome": "rollout",
            "outcome_via": "api",
            "outcome_note": "edited",
            "gate_said": "rollout",
            "announced_state": "rollout",
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    assert list(Release.objects.values(*OUTCOME_FIELDS)) == before
    for name in OUTCOME_FIELDS:
        with pytest.raises(KeyError):
            control(page, name)
    assert "p99 doubled" in page  # shown, read-only
