"""Numbers typed on the pages: a decimal comma or point is read as meant, in either language,
or refused with a message; never a tenfold value. Verdict settings are typed as percentages and
stored as the shares they always were, exactly."""

from __future__ import annotations

import random

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import translation

from api.serializers import IndicatorInputSerializer
from metrics.forms import (
    IndicatorForm,
    MetricSettingsForm,
    PredictForm,
    decimal_text,
    percent_text,
    share_of_percent,
)
from metrics.models import Decision, Metric
from tests.refusals import changes_nothing

LANGUAGES = ["en", "pt-br"]
ONE_SEPARATOR = "Type the number with one decimal separator and no thousands separator, e.g. 1234.5."
UM_SEPARADOR = "Digite o número com um só separador decimal e sem separador de milhar, por exemplo 1234,5."


def indicator_form(value: str, time: str) -> IndicatorForm:
    return IndicatorForm({"value": value, "decision": str(Decision.ROLLBACK.value), "minutes": time})


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("typed", ["2,5", "2.5", " 2,5 ", "+2.5"])
def test_a_decimal_comma_or_point_is_read_as_two_and_a_half_in_either_language(language: str, typed: str) -> None:
    with translation.override(language):
        form = indicator_form(typed, typed)

        assert form.is_valid(), form.errors
    assert (form.cleaned_data["value"], form.cleaned_data["minutes"]) == (2.5, 2.5)


@pytest.mark.parametrize(
    ("language", "typed", "read"),
    [
        ("en", "1.234", 1.234),  # the page's own decimal point
        ("pt-br", "1,234", 1.234),  # the page's own decimal comma
        ("en", "0,125", 0.125),  # "0," starts no thousands group
        ("pt-br", "0.125", 0.125),
        ("en", "1234,5", 1234.5),  # more than three digits before it: no group either
        ("pt-br", "12.5", 12.5),
        ("en", "-3,75", -3.75),
        ("pt-br", "1500", 1500.0),
        ("pt-br", "1.5e-07", 1.5e-07),
    ],
)
def test_a_number_with_one_separator_that_can_only_be_decimal_is_read_as_such(
    language: str, typed: str, read: float
) -> None:
    with translation.override(language):
        assert float(decimal_text(typed)) == read


@pytest.mark.parametrize(
    ("language", "typed", "message"),
    [
        ("en", "1,234", "“1,234” could be 1234 or 1.234: type one of these."),
        ("en", "-12,500", "“-12,500” could be -12500 or -12.5: type one of these."),
        ("pt-br", "1.234", "“1.234” pode ser 1234 ou 1,234: digite um dos dois."),
        ("en", "1,234.5", ONE_SEPARATOR),
        ("en", "1.234,5", ONE_SEPARATOR),
        ("pt-br", "1.234,5", UM_SEPARADOR),
        ("pt-br", "1,234.5", UM_SEPARADOR),
        ("en", "2,5,0", ONE_SEPARATOR),
    ],
)
def test_a_number_whose_separators_could_mean_two_things_is_refused_with_a_message(
    language: str, typed: str, message: str
) -> None:
    with translation.override(language):
        form = indicator_form(typed, "10")

        assert not form.is_valid()
        assert form.errors["value"] == [message]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_predict_form_reads_a_decimal_comma(metric: Metric, owner: User, language: str) -> None:
    with translation.override(language):
        form = PredictForm(owner, {"metric": str(metric.pk), "value": "873,63", "minutes": "2,5"})

        assert form.is_valid(), form.errors
    assert (form.cleaned_data["value"], form.cleaned_data["minutes"]) == (873.63, 2.5)


def test_the_api_reads_numbers_as_before_whatever_the_language() -> None:
    with translation.override("pt-br"):
        assert IndicatorInputSerializer(data={"value": 2.5, "decision": "rollout", "minutes": 10}).is_valid()
        assert not IndicatorInputSerializer(data={"value": "2,5", "decision": "rollout", "minutes": 10}).is_valid()


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_share_comes_back_exactly_from_the_percentage_shown(language: str) -> None:
    generator = random.Random(16)
    shares = [0.6, 0.8, 0.1, 0.07, 0.655, 1 / 3, 2 / 3, 0.123456789, 0.5, 1.0, 0.0, 10.0, 5e-324]
    shares += [generator.uniform(0, 10) for _ in range(5000)]
    shares += [round(generator.uniform(0.5, 1), generator.randint(1, 4)) for _ in range(5000)]
    with translation.override(language):
        for share in shares:
            assert share_of_percent(decimal_text(percent_text(share))) == share, share


@pytest.mark.parametrize(
    ("share", "shown"), [(0.6, "60"), (0.07, "7"), (0.655, "65.5"), (0.1, "10"), (1.0, "100"), (0.0, "0")]
)
def test_a_share_is_shown_as_a_percentage_people_write(share: float, shown: str) -> None:
    assert percent_text(share) == shown
    with translation.override("pt-br"):
        assert percent_text(share) == shown.replace(".", ",")


@pytest.mark.parametrize("language", LANGUAGES)
def test_saving_the_settings_page_unchanged_changes_no_stored_share(
    client: Client, metric: Metric, owner: User, language: str
) -> None:
    Metric.objects.filter(pk=metric.pk).update(rollback_threshold=0.6, rollout_threshold=2 / 3, range_margin=0.07)
    metric.refresh_from_db()
    client.force_login(owner)
    client.cookies["django_language"] = language
    with translation.override(language):
        shown = MetricSettingsForm(instance=metric, localize_numbers=True)
        typed = {name: shown[name].value() for name in ("rollback_threshold", "rollout_threshold", "range_margin")}
    assert typed["rollback_threshold"] == "60"
    with changes_nothing():
        response = client.post(
            reverse("metrics:settings", args=[metric.pk]),
            {**typed, "min_leaf_cases": "5", "refuse_stale": "", "bad_direction": "either"},
        )

    assert response.status_code == 302
    metric.refresh_from_db()
    assert (metric.rollback_threshold, metric.rollout_threshold, metric.range_margin) == (0.6, 2 / 3, 0.07)


def test_a_refused_separator_stores_nothing(client: Client, metric: Metric, owner: User) -> None:
    client.force_login(owner)
    with changes_nothing():
        response = client.post(
            reverse("metrics:add_indicator", args=[metric.pk]),
            {"value": "1,500", "decision": str(Decision.ROLLOUT.value), "minutes": "10"},
        )

    assert response.status_code == 400
    assert "“1,500” could be 1500 or 1.5: type one of these." in response.content.decode()


def test_a_portuguese_thousand_typed_as_the_minimum_of_cases_is_refused_not_read_as_one(
    client: Client, metric: Metric, owner: User
) -> None:
    client.force_login(owner)
    client.cookies["django_language"] = "pt-br"
    url = reverse("metrics:settings", args=[metric.pk])
    settings = {"rollback_threshold": "60", "rollout_threshold": "80", "range_margin": "10", "bad_direction": "either"}
    with changes_nothing():
        response = client.post(url, {**settings, "min_leaf_cases": "1.000"})

    assert response.status_code == 400
    assert "Digite um número inteiro, sem separadores: 1000." in response.content.decode()
    assert 'inputmode="numeric"' in response.content.decode()
    client.post(url, {**settings, "min_leaf_cases": "1000"})
    assert Metric.objects.get(pk=metric.pk).min_leaf_cases == 1000
