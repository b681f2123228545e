"""The README's pipeline examples, run with bash exactly as printed against a live server,
with only their variables set (the base URL, the token, the gate, the release, the metric).

A CI step that gates a deployment must fail closed: with a wrong token, with no server
answering, and for a release that does not roll out, it exits non-zero; it exits 0 only for
a rollout. `curl ... | jq -e '.verdict == "rollout"'` did not: without `pipefail` a
pipeline's status is jq's, and jq 1.6 (Debian 12's) exits 0 on empty input.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from accounts.models import ApiToken, TokenScope
from metrics.models import Gate, Metric, Observation, Release, Verdict

README = Path(__file__).resolve().parents[2] / "README.md"
EXAMPLE = re.compile(
    r"<!-- readme-example: (?P<name>[\w-]+), scope: (?P<scope>read|write) -->\n```bash\n(?P<script>.*?)```", re.S
)
CODE_BLOCK = re.compile(r"```[a-z]*\n(.*?)```", re.S)
TOOLS_MISSING = (
    "{tool} is not installed, and the README's pipeline examples need it: install Debian's package "
    "(apt-get install {tool}); `make test` installs it when it is missing."
)


@dataclass(frozen=True)
class Example:
    name: str
    scope: str  # the token scope the README says the step needs
    script: str


def readme_examples() -> dict[str, Example]:
    text = README.read_text(encoding="utf-8")
    return {found["name"]: Example(found["name"], found["scope"], found["script"]) for found in EXAMPLE.finditer(text)}


@pytest.fixture
def tools() -> None:
    """bash, curl and jq, or a failure that says how to get them (never a skip: the examples
    would go untested)."""
    for tool in ("bash", "curl", "jq"):
        assert shutil.which(tool), TOOLS_MISSING.format(tool=tool)


def run(example: Example, **variables: str) -> subprocess.CompletedProcess[str]:
    """The example's text as a bash script, in an environment holding only PATH and its
    variables (no proxy setting reaches curl), in a folder of its own (for the files it writes)."""
    environment = {"PATH": os.environ["PATH"], "LC_ALL": "C.UTF-8", **variables}
    with tempfile.TemporaryDirectory(prefix="readme-example-") as folder:
        return subprocess.run(  # noqa: S603 - bash, running the README's own text
            [shutil.which("bash") or "bash", "-c", example.script],
            cwd=folder,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def unused_port_url() -> str:
    """The address of a server that has stopped: a port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def stored() -> dict[str, int]:
    return {
        "releases": Release.objects.count(),
        "observations": Observation.objects.count(),
        "verdicts": Verdict.objects.count(),
    }


def test_every_readme_example_that_gates_a_deployment_is_a_tested_fail_closed_script() -> None:
    examples = readme_examples()
    text = README.read_text(encoding="utf-8")

    assert set(examples) == {
        "catalogue",
        "import",
        "start-release",
        "observe",
        "gate-release",
        "gate-metric",
        "record-outcome",
    }
    for example in examples.values():
        assert example.script.startswith("set -euo pipefail\n"), example.name
        assert "jq -e " not in example.script, example.name  # exits 0 on empty input (jq 1.6)
    # Any other block that calls the API would be untested (the variables block calls nothing).
    tested = {example.script for example in examples.values()}
    untested = [block for block in CODE_BLOCK.findall(text) if "curl " in block and block not in tested]
    assert untested == []


Step = Callable[..., subprocess.CompletedProcess[str]]


def started_release(step: Step) -> Release:
    """The release the README's start-release step starts, from the `RELEASE=<id>` it prints."""
    started = step("start-release")
    assert started.returncode == 0, started.stderr
    match = re.fullmatch(r"RELEASE=(\d+)\n", started.stdout)
    assert match, started.stdout
    return Release.objects.get(pk=match[1])


def check_anything_but_a_rollout_fails_the_gate(step: Step, gate: Gate, demo: User, metrics: dict[str, Metric]) -> None:
    vetoed = Release.objects.create(gate=gate, name="checkout-web", version="v44", created_by=demo)
    vetoed.observe(metrics["Error rate (%)"], 9.5, demo, 60)  # the critical metric: rollback
    vetoed.observe(metrics["Requests per minute"], 820, demo, 10)
    waiting = Release.objects.create(gate=gate, name="checkout-web", version="v45", created_by=demo)
    assert (vetoed.verdict().state, waiting.verdict().state) == ("rollback", "inconclusive")
    rolled_back = step("gate-release", RELEASE=str(vetoed.pk))
    not_yet = step("gate-release", RELEASE=str(waiting.pk))
    out_of_range = step("gate-metric", METRIC=str(metrics["Error rate (%)"].pk))  # 900% errors: beyond the data

    assert rolled_back.returncode != 0
    assert rolled_back.stdout.startswith("Roll back:")
    assert not_yet.returncode != 0
    assert out_of_range.returncode != 0


def check_a_call_that_fails_fails_its_step(
    examples: dict[str, Example], server: dict[str, str], tokens: dict[str, str], release: Release
) -> None:
    """A wrong token, a missing one, no server answering: each step fails, and stores nothing."""
    before = stored()
    for name, example in examples.items():
        variables = {**server, "RELEASE": str(release.pk), "TOKEN": tokens[example.scope]}
        wrong_token = run(example, **{**variables, "TOKEN": "mb_" + "x" * 43})
        no_server = run(example, **{**variables, "MBREAK_URL": unused_port_url()})
        missing_token = run(example, **{**variables, "TOKEN": ""})

        assert wrong_token.returncode != 0, (name, wrong_token.stdout)
        assert "401" in wrong_token.stderr, (name, wrong_token.stderr)
        assert no_server.returncode != 0, (name, no_server.stdout)
        assert missing_token.returncode != 0, (name, missing_token.stdout)
    assert stored() == before


@pytest.mark.django_db(transaction=True)
def test_the_readme_pipeline_rolls_out_only_a_release_that_rolls_out_and_fails_when_its_call_fails(
    live_server, tools: None
) -> None:
    call_command("load_demo", stdout=StringIO(), stderr=StringIO())
    demo = User.objects.get(username="demo")
    tokens: dict[str, str] = {
        str(scope): ApiToken.objects.issue(demo, f"CI {scope}", scope)[1]
        for scope in (TokenScope.READ, TokenScope.WRITE)
    }
    gate = Gate.objects.get(name="Checkout deploys")
    metrics = {metric.name: metric for metric in Metric.objects.filter(owner=demo)}
    examples = readme_examples()
    server = {"MBREAK_URL": live_server.url, "GATE": str(gate.pk), "METRIC": str(metrics["Requests per minute"].pk)}

    def step(name: str, **variables: str) -> subprocess.CompletedProcess[str]:
        example = examples[name]
        return run(example, **{**server, "TOKEN": tokens[example.scope], **variables})

    # The pipeline, each step with the token scope the README gives it: a release that rolls out.
    release = started_release(step)
    observed = step("observe", RELEASE=str(release.pk))
    gated = step("gate-release", RELEASE=str(release.pk))
    asked = step("gate-metric")

    assert (release.gate, release.name, release.version) == (gate, "checkout-web", "v43")
    assert observed.returncode == 0, observed.stderr
    assert sorted(release.observations.values_list("metric__name", "verdict__value", "verdict__minutes")) == [
        ("Error rate (%)", 0.4, 30.0),
        ("Requests per minute", 900.0, 30.0),
    ]
    assert (gated.returncode, gated.stdout) == (0, "Roll out: the score 100 reaches the pass score 80.\n")
    assert asked.returncode == 0, asked.stderr
    # Its last step: what the pipeline did, and whether the gate was right.
    recorded = step("record-outcome", RELEASE=str(release.pk))
    assert (recorded.returncode, recorded.stdout) == (
        0,
        "The gate said rollout from the release's first minute; the team rolled out: the gate was right.\n",
    )
    assert Release.objects.filter(pk=release.pk, outcome="rollout", outcome_via="api").exists()

    # The other calls the README prints: the catalogue, an import.
    listed = step("catalogue")
    imported = step("import")
    requests = metrics["Requests per minute"]
    assert (listed.returncode, listed.stdout) == (0, f'{{"id":{requests.pk},"name":"Requests per minute"}}\n')
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["status"] == "done"  # the job ran at once (tests run jobs eagerly)
    assert requests.indicators.filter(value__in=[480, 1310]).count() == 2

    check_anything_but_a_rollout_fails_the_gate(step, gate, demo, metrics)
    check_a_call_that_fails_fails_its_step(examples, server, tokens, release)
