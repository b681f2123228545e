"""Argo Rollouts, played on the README's own AnalysisTemplate: validated against Argo's CRD, its
args resolved as Argo resolves them, its request sent to a live server as the web provider sends
it, and its conditions (and Kayenta-style ones on the score) evaluated as Argo's expressions are."""

from __future__ import annotations

import copy
import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from django.contrib.auth.models import User
from django.urls import reverse

from accounts.models import ApiToken, TokenScope
from metrics.models import Gate, GateMetric, Metric, Release
from tests.api import argo
from tests.api.test_gates import INCONCLUSIVE, ROLLBACK, ROLLOUT, trained

README = Path(__file__).resolve().parents[2] / "README.md"
CRD = Path(__file__).with_name("vendor") / "argo-rollouts" / "analysis-template-crd.yaml"
HASH = "7d9f8c6b5"  # the canary ReplicaSet's rollouts-pod-template-hash
EXAMPLE_SERVER = "https://make-or-break.example.com"
# Kayenta's way, on the score: what a team used to Kayenta's thresholds would write.
KAYENTA = {
    "successCondition": "result.score != nil && result.score >= 80",
    "failureCondition": "result.score != nil && result.score < 50",
}


def readme_yaml(name: str) -> dict[str, Any]:
    text = README.read_text(encoding="utf-8")
    found = re.search(rf"<!-- argo: {name} -->\n```yaml\n(.*?)```", text, re.S)
    assert found, f"the README has no “{name}” block"
    return yaml.safe_load(found[1])


def strict(schema: Any) -> Any:
    """The CRD's schema as `kubectl apply` checks it (strict field validation): an object lists
    all the fields it takes, unless it keeps unknown ones."""
    if isinstance(schema, dict):
        schema = {key: strict(value) for key, value in schema.items()}
        if "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema.setdefault("additionalProperties", False)
    elif isinstance(schema, list):
        schema = [strict(item) for item in schema]
    return schema


def crd_errors(document: dict[str, Any]) -> list[str]:
    crd = yaml.safe_load(CRD.read_text(encoding="utf-8"))
    [version] = [version for version in crd["spec"]["versions"] if version["name"] == "v1alpha1"]
    validator = jsonschema.Draft7Validator(strict(version["schema"]["openAPIV3Schema"]))
    return [f"{'.'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(document)]


def test_the_readme_template_is_a_valid_analysis_template_and_the_rollout_passes_its_key() -> None:
    template = readme_yaml("analysis-template")
    rollout_args = readme_yaml("rollout")["strategy"]["canary"]["analysis"]["args"]

    assert crd_errors(template) == []
    assert template["kind"] == "AnalysisTemplate"
    unresolved = {arg["name"] for arg in template["spec"]["args"] if "value" not in arg and "valueFrom" not in arg}
    assert unresolved == {arg["name"] for arg in rollout_args} == {"key"}
    assert rollout_args[0]["valueFrom"] == {"podTemplateHashValue": "Latest"}


def test_a_misspelt_field_is_refused_by_the_crd() -> None:
    template = readme_yaml("analysis-template")
    metric = template["spec"]["metrics"][0]
    metric["successCondtion"] = metric.pop("successCondition")
    metric["provider"]["web"]["timeoutSeconds"] = "10"

    assert len(crd_errors(template)) == 2


@pytest.mark.parametrize(
    ("text", "result", "value"),
    [
        ("result.verdict == 'rollout'", {"verdict": "rollout"}, True),
        ("result.verdict == 'rollout'", {}, False),  # a missing key is nil
        ("result.score != nil && result.score >= 80", {"score": None}, False),
        ("result.score != nil && result.score < 50", {"score": 12.5}, True),
        ("!(result.dry_run == true) || result.score >= 80", {"dry_run": True, "score": 90}, True),
    ],
)
def test_conditions_read_the_json_as_argos_expressions_do(text: str, result: Any, value: bool) -> None:
    assert argo.condition(text, result) is value


@pytest.mark.parametrize(
    ("text", "result"),
    [
        ("result.score >= 80", {"score": None}),  # nil >= 80
        ("result.score >= 80", {}),
        ("result.verdict == 'rollout'", "not JSON"),  # a member of a string
        ("result.score", {"score": 90}),  # not a boolean
    ],
)
def test_a_condition_that_argo_cannot_evaluate_is_an_error(text: str, result: Any) -> None:
    with pytest.raises(argo.ExprError):
        argo.condition(text, result)


@pytest.fixture
def checkout(transactional_db: None, owner: User) -> dict[str, Metric]:
    return {name: trained(owner, name) for name in ("error rate", "p95 latency")}


@pytest.fixture
def gate(owner: User, checkout: dict[str, Metric]) -> Gate:
    """The README's gate: the error rate critical, weighing 2; the p95 latency weighing 1."""
    gate = Gate.objects.create(name="Checkout", owner=owner, pass_score=80, marginal_score=50)
    GateMetric.objects.create(gate=gate, metric=checkout["error rate"], weight=2, critical=True)
    GateMetric.objects.create(gate=gate, metric=checkout["p95 latency"], weight=1)
    return gate


class Rollout:
    """The README's Rollout and AnalysisTemplate for one canary, against the live server."""

    def __init__(self, server: str, gate: Gate, token: str) -> None:
        template = readme_yaml("analysis-template")
        template["spec"]["args"][1]["value"] = str(gate.pk)  # the gate's id, as the README says to set it
        given = readme_yaml("rollout")["strategy"]["canary"]["analysis"]["args"]
        args = argo.resolve_args(template, given, HASH, {"make-or-break": {"token": token}})
        [metric] = template["spec"]["metrics"]
        metric["provider"]["web"]["url"] = metric["provider"]["web"]["url"].replace(EXAMPLE_SERVER, server)
        self.metric = argo.resolve_metric(metric, args)
        self.server, self.gate, self.token = server, gate, token

    def measure(self) -> argo.Measurement:
        return argo.measure(self.metric)

    def as_kayenta(self) -> str:
        """The same answer judged by Kayenta-style conditions on the score."""
        measured = self.measure()
        if measured.phase == argo.ERROR:
            return argo.ERROR
        return argo.evaluate_result(measured.value, {**copy.deepcopy(self.metric), **KAYENTA})

    def push(self, metric: Metric, observation: dict) -> None:
        """The pipeline's part: an observation of the canary, by its key."""
        path = reverse("api:key_observations", args=[self.gate.pk, HASH])
        body = json.dumps({"metric": metric.name, **observation}).encode()
        request = urllib.request.Request(self.server + path, data=body, method="POST")  # noqa: S310
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the test's live server
            assert response.status == 201


def write_token(user: User) -> str:
    return ApiToken.objects.issue(user, "argo", TokenScope.WRITE)[1]


@pytest.mark.parametrize(
    ("observations", "phase"),
    [
        ({"error rate": [ROLLOUT], "p95 latency": [ROLLOUT]}, argo.SUCCESSFUL),
        ({"error rate": [INCONCLUSIVE], "p95 latency": [ROLLBACK]}, argo.FAILED),  # by the score: 33.3
        ({"error rate": [ROLLBACK], "p95 latency": [ROLLOUT]}, argo.FAILED),  # the critical metric's veto
        ({"error rate": [ROLLBACK, ROLLOUT], "p95 latency": [ROLLOUT]}, argo.FAILED),  # a spike, then a recovery
        ({"error rate": [INCONCLUSIVE], "p95 latency": [ROLLOUT]}, argo.INCONCLUSIVE),  # 66.7: a person decides
        ({"error rate": [ROLLOUT]}, argo.INCONCLUSIVE),  # waiting for the p95 latency
    ],
    ids=["rollout", "rollback", "veto", "spike-then-recovery", "inconclusive", "waiting"],
)
def test_argo_measures_the_verdict_and_kayenta_style_conditions_agree(
    live_server, owner: User, gate: Gate, checkout, observations: dict, phase: str
) -> None:
    rollout = Rollout(live_server.url, gate, write_token(owner))
    for name, values in observations.items():
        for observation in values:
            rollout.push(checkout[name], observation)

    measured = rollout.measure()

    assert measured.phase == phase, measured.value
    assert rollout.as_kayenta() == phase, measured.value
    assert measured.value["verdict"] in ("rollout", "rollback", "inconclusive")


def test_a_vetoed_release_scores_0_as_kayenta_scores_it(live_server, owner: User, gate: Gate, checkout) -> None:
    rollout = Rollout(live_server.url, gate, write_token(owner))
    rollout.push(checkout["error rate"], ROLLBACK)
    rollout.push(checkout["p95 latency"], ROLLOUT)

    answer = rollout.measure().value

    assert (answer["verdict"], answer["score"], answer["decided_by"]) == ("rollback", 0, "critical_veto")


def test_a_gate_in_dry_run_is_a_success_that_says_so(live_server, owner: User, gate: Gate, checkout) -> None:
    Gate.objects.filter(pk=gate.pk).update(dry_run=True)
    rollout = Rollout(live_server.url, gate, write_token(owner))
    rollout.push(checkout["error rate"], ROLLBACK)
    rollout.push(checkout["p95 latency"], ROLLBACK)

    measured = rollout.measure()

    assert measured.phase == argo.SUCCESSFUL
    assert rollout.as_kayenta() == argo.SUCCESSFUL
    answer = measured.value
    assert (answer["verdict"], answer["dry_run"], answer["score"], answer["decided_by"]) == (
        "rollout",
        True,
        100,
        "dry_run",
    )


def test_a_new_key_starts_its_release_which_waits_and_is_never_a_success(live_server, owner: User, gate: Gate) -> None:
    rollout = Rollout(live_server.url, gate, write_token(owner))

    measured = rollout.measure()  # before the pipeline pushed anything

    assert measured.phase == argo.INCONCLUSIVE
    assert rollout.as_kayenta() == argo.INCONCLUSIVE
    assert (measured.value["verdict"], measured.value["score"]) == ("inconclusive", None)
    assert list(Release.objects.values_list("gate", "key")) == [(gate.pk, HASH)]


@pytest.mark.parametrize(
    ("token", "status"),
    [("", 401), ("mb_not-a-token-anyone-was-given", 401), ("read-only", 404)],  # read-only: may not start it
)
def test_a_missing_wrong_or_read_only_token_is_an_error_never_a_success(
    live_server, owner: User, gate: Gate, token: str, status: int
) -> None:
    if token == "read-only":
        token = ApiToken.objects.issue(owner, "argo", TokenScope.READ)[1]
    rollout = Rollout(live_server.url, gate, token)

    measured = rollout.measure()

    assert (measured.phase, measured.status) == (argo.ERROR, status)
    assert not Release.objects.exists()
