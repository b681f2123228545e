"""The shape of the code: one domain app, and a pure machine-learning package beside it.

The layers (what may import what) are import-linter's contracts in pyproject.toml, checked by
`make lint`; the tests below run them on the tree, and on a copy with an upward import."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from metrics.models import Metric
from tests.factories import MetricFactory

ROOT = Path(__file__).resolve().parent.parent

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

IMPORT_LINTER = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
CONTRACTS = {contract["id"]: contract["name"] for contract in IMPORT_LINTER["contracts"]}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def lint_imports(folder: Path) -> subprocess.CompletedProcess[str]:
    """`make lint`'s import check, run in `folder` with the pyproject.toml found there."""
    return subprocess.run(  # noqa: S603 - the virtualenv's own tool
        [Path(sys.executable).with_name("lint-imports"), "--no-logo", "--no-cache"],
        cwd=folder,
        env={**os.environ, "COLUMNS": "500"},  # no contract's name wrapped over two lines
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_import_contracts_hold_on_the_tree() -> None:
    result = lint_imports(ROOT)

    assert result.returncode == 0, result.stdout + result.stderr
    for name in CONTRACTS.values():
        assert f"{name} KEPT" in result.stdout


UPWARD_IMPORTS = {
    # id: (module, the import added to it, the contract it breaks, the import reported)
    "metrics imports api": ("metrics/csv_io.py", "import api", "apps-in-layers", "metrics.csv_io -> api"),
    "metrics imports accounts views": (
        "metrics/models/metric.py",
        "from accounts import views",
        "apps-in-layers",
        "metrics.models.metric -> accounts.views",
    ),
    "a model imports the tasks": (
        "metrics/models/job.py",
        "from metrics import tasks",
        "domain-in-layers",
        "metrics.models.job -> metrics.tasks",
    ),
    "a model imports template tags": (
        "metrics/models/verdict.py",
        "from metrics.templatetags import formatting",
        "domain-in-layers",
        "metrics.models.verdict -> metrics.templatetags.formatting",
    ),
    "a model imports a form": (
        "metrics/models/gate.py",
        "from metrics import forms",
        "domain-in-layers",
        "metrics.models.gate -> metrics.forms",
    ),
    "formatting imports a model": (
        "metrics/formatting.py",
        "from metrics import models",
        "domain-in-layers",
        "metrics.formatting -> metrics.models",
    ),
    "predictor imports django": (
        "predictor/training.py",
        "import django",
        "predictor-is-pure",
        "predictor.training -> django",
    ),
    "predictor imports metrics": (
        "predictor/charts.py",
        "from metrics import csv_io",
        "predictor-is-pure",
        "predictor.charts -> metrics.csv_io",
    ),
}


@pytest.mark.parametrize(("module", "line", "broken", "reported"), UPWARD_IMPORTS.values(), ids=UPWARD_IMPORTS.keys())
def test_the_import_contracts_fail_on_an_upward_import(
    tmp_path: Path, module: str, line: str, broken: str, reported: str
) -> None:
    for package in IMPORT_LINTER["root_packages"]:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with (tmp_path / module).open("a") as source:
        source.write(f"\n{line}\n")

    result = lint_imports(tmp_path)

    assert result.returncode != 0
    assert f"{CONTRACTS[broken]} BROKEN" in result.stdout, result.stdout + result.stderr
    assert f"{reported} (l." in result.stdout


@pytest.mark.parametrize("path", sorted((ROOT / "metrics" / "views").glob("*.py")), ids=lambda path: path.name)
def test_views_leave_csv_and_machine_learning_to_the_domain(path: Path) -> None:
    heavy = {"csv", "pandas", "numpy", "sklearn", "joblib", "predictor.training", "predictor.artifacts"}
    assert imported_modules(path) & heavy == set()


def test_the_browser_tests_setting_does_not_reach_the_other_tests() -> None:
    assert "DJANGO_ALLOW_ASYNC_UNSAFE" not in os.environ


def test_the_trained_metric_fixture_trains_nothing(request: pytest.FixtureRequest, monkeypatch) -> None:
    from predictor import training

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("the fixture trained a model")

    monkeypatch.setattr(training, "fit_decision_tree", no_training)
    metric: Metric = request.getfixturevalue("trained_metric")
    model = metric.trained_models.get()
    assert model.is_usable
    verdict = metric.predict(200, 30, metric.owner)
    assert verdict.is_rollback
    assert verdict.model == model


def test_factories_give_models_of_their_model_class(db: None) -> None:
    assert isinstance(MetricFactory.create(), Metric)


# Radon's scale: up to 10 is simple, 11 to 20 is where a function starts to hide a bug.
# Fifteen is the line past which a function must be split; every file of the project counts,
# the benchmarks and the tests too.
MOST_COMPLEX = 14
COMPLEXITY_CHECKED = ("accounts", "api", "bench", "mbreak", "metrics", "predictor", "tests")


def too_complex(source: str) -> list[tuple[str, int]]:
    from radon.complexity import cc_visit
    from radon.visitors import Class

    blocks = cc_visit(source)
    functions = [method for block in blocks if isinstance(block, Class) for method in block.methods]
    functions += [block for block in blocks if not isinstance(block, Class)]
    return [(function.fullname, function.complexity) for function in functions if function.complexity > MOST_COMPLEX]


def test_no_function_reaches_a_complexity_of_fifteen() -> None:
    found = {
        f"{path.relative_to(ROOT)}: {name}": complexity
        for package in COMPLEXITY_CHECKED
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
        for name, complexity in too_complex(path.read_text())
    }
    assert found == {}


def test_the_complexity_check_finds_a_function_of_fifteen() -> None:
    branches = "".join(f"    if x == {n}:\n        return {n}\n" for n in range(14))
    assert too_complex(f"def branching(x):\n{branches}    return -1\n") == [("branching", 15)]
    assert too_complex(f"def branching(x):\n{branches.rsplit('    if', 1)[0]}    return -1\n") == []
