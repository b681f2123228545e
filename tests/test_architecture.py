"""The shape of the code: one domain app, and a pure machine-learning package beside it."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from metrics.models import Metric
from tests.factories import MetricFactory

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "predictor").rglob("*.py")), ids=lambda path: path.name)
def test_predictor_is_pure_machine_learning(path: Path) -> None:
    forbidden = {name for name in imported_modules(path) if name.split(".")[0] in {"metrics", "accounts", "django"}}
    assert forbidden == set()


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
