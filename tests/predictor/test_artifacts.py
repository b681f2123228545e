from __future__ import annotations

import hashlib
from unittest import mock

import pytest
import sklearn

from predictor.artifacts import ArtifactError, dump_model, load_model
from predictor.training import fit_decision_tree
from tests.conftest import rule_data


@pytest.fixture(scope="module")
def fitted():
    data = rule_data(100)
    return fit_decision_tree(data.values, data.times, data.decisions).model


def test_dumped_model_loads_back_and_predicts_the_same(fitted):
    artifact = dump_model(fitted)
    assert artifact.sha256 == hashlib.sha256(artifact.data).hexdigest()
    assert artifact.sklearn_version == sklearn.__version__
    loaded = load_model(artifact.data, artifact.sha256, artifact.sklearn_version)
    assert loaded.predict([[200, 30], [900, 30]]).tolist() == fitted.predict([[200, 30], [900, 30]]).tolist()


def test_tampered_bytes_are_never_unpickled(fitted):
    artifact = dump_model(fitted)
    tampered = bytearray(artifact.data)
    tampered[len(tampered) // 2] ^= 0xFF
    with mock.patch("predictor.artifacts.joblib.load") as joblib_load, pytest.raises(ArtifactError):
        load_model(bytes(tampered), artifact.sha256, artifact.sklearn_version)
    joblib_load.assert_not_called()


def test_model_from_another_scikit_learn_version_is_never_unpickled(fitted):
    artifact = dump_model(fitted)
    with mock.patch("predictor.artifacts.joblib.load") as joblib_load, pytest.raises(ArtifactError) as caught:
        load_model(artifact.data, artifact.sha256, "0.24.2")
    joblib_load.assert_not_called()
    assert "0.24.2" in str(caught.value)
