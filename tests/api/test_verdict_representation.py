"""A verdict as the API answers it: `VerdictSerializer` builds it in one go, and it must say
exactly what DRF's field-by-field way says (the same keys, order, types and words)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import RequestFactory
from django.urls import get_script_prefix, reverse, set_script_prefix
from django.utils import translation
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from api.serializers import VerdictSerializer
from api.serializers.base import path_of
from metrics.models import Decision, Metric, Source, Verdict


def both_ways(verdict: Verdict, context: dict) -> tuple[bytes, bytes]:
    """The verdict's JSON as the serializer gives it, and as DRF's own `to_representation` would."""
    fast = VerdictSerializer(verdict, context=context).data
    general = serializers.Serializer.to_representation(VerdictSerializer(context=context), verdict)
    return JSONRenderer().render(fast), JSONRenderer().render(general)


@pytest.fixture
def verdicts(trained_metric: Metric, owner: User, contributor: User) -> list[Verdict]:
    clear = trained_metric.predict(250, 30, contributor, source=Source.API)
    out_of_range = trained_metric.predict(50_000, 30, owner, source=Source.API)
    decided = trained_metric.predict(900, 20, owner, source=Source.WEB)
    decided.add_feedback(Decision.ROLLBACK, "rolled back by hand", owner)
    nobody = trained_metric.predict(700.5, 12.25, None, source=Source.COMMAND)
    asker_gone = trained_metric.predict(400, 45, contributor, source=Source.API)
    contributor.delete()
    asker_gone.refresh_from_db()
    return [clear, out_of_range, decided, nobody, asker_gone]


@pytest.mark.parametrize("language", ["en", "pt-br"])
def test_each_verdict_is_answered_exactly_as_drf_words_its_fields(verdicts: list[Verdict], language: str) -> None:
    request = RequestFactory().get("/api/v1/", headers={"x-forwarded-proto": "https"})

    with translation.override(language):
        for verdict in verdicts:
            fresh = Verdict.objects.select_related("metric", "asked_by").get(pk=verdict.pk)
            for shown in (verdict, fresh):  # as just given, and as read back
                fast, general = both_ways(shown, {"request": request})
                assert fast == general


def test_without_a_request_the_links_are_paths_as_drf_gives_them(verdicts: list[Verdict]) -> None:
    for verdict in verdicts:
        fast, general = both_ways(verdict, {})
        assert fast == general
        assert b'"url":"/api/' in fast


@pytest.mark.parametrize("view_name", ["api:verdict", "metrics:verdict", "api:metric", "api:release"])
@pytest.mark.parametrize("pk", [1, 42, 2**31, 9_999_999_999])
def test_a_link_is_the_path_django_reverses_whatever_the_id_and_script_prefix(view_name: str, pk: int) -> None:
    assert path_of(view_name, pk) == reverse(view_name, args=[pk])
    previous = get_script_prefix()
    set_script_prefix("/mbreak/")  # served under a sub-path (SCRIPT_NAME)
    try:
        assert path_of(view_name, pk) == reverse(view_name, args=[pk])
        assert path_of(view_name, pk).startswith("/mbreak/")
    finally:
        set_script_prefix(previous)
