from __future__ import annotations

import hashlib
from unittest import mock

import pytest
import sklearn

from predictor.artifacts import ArtifactError, dump_model, load_model
from predictor.training import fit_decision_tree
from tests.conftest import rule_data

KEY = b"server-side signing key"


@pytest.fixture(scope="module")
def fitted():
    data = rule_data(100)
    return fit_decision_tree(data.values, data.times, data.decisions).model


def load(artifact, **changes):
    arguments = {
        "sha256": artifact.sha256,
        "signature": artifact.signature,
        "sklearn_version": artifact.sklearn_version,
        "key": KEY,
    }
    arguments.update(changes)
    data = arguments.pop("data", artifact.data)
    return load_model(data, **arguments)


def test_dumped_model_loads_back_and_predicts_the_same(fitted):
    artifact = dump_model(fitted, KEY)
    assert artifact.sha256 == hashlib.sha256(artifact.data).hexdigest()
    assert artifact.sklearn_version == sklearn.__version__
    loaded = load(artifact)
    assert loaded.predict([[200, 30], [900, 30]]).tolist() == fitted.predict([[200, 30], [900, 30]]).tolist()


def test_tampered_bytes_are_never_unpickled(fitted):
    artifact = dump_model(fitted, KEY)
    tampered = bytearray(artifact.data)
    tampered[len(tampered) // 2] ^= 0xFF
    with mock.patch("predictor.artifacts.joblib.load") as joblib_load, pytest.raises(ArtifactError, match="hash"):
        load(artifact, data=bytes(tampered))
    joblib_load.assert_not_called()


def test_bytes_swapped_together_with_their_hash_are_never_unpickled(fitted):
    # Whoever can write the row can recompute the sha256, but not the server's HMAC.
    artifact = dump_model(fitted, KEY)
    forged = artifact.data + b"\x00"
    with mock.patch("predictor.artifacts.joblib.load") as joblib_load, pytest.raises(ArtifactError, match="signature"):
        load(artifact, data=forged, sha256=hashlib.sha256(forged).hexdigest())
    joblib_load.assert_not_called()


def test_model_signed_with_another_key_is_never_unpickled(fitted):
    artifact = dump_model(fitted, b"another server's key")
    with mock.patch("predictor.artifacts.joblib.load") as joblib_load, pytest.raises(ArtifactError, match="signature"):
        load(artifact)
    joblib_load.assert_not_called()


def test_model_from_another_scikit_learn_version_is_never_unpickled(fitted):
    artifact = dump_model(fitted, KEY)
    with mock.patch("predictor.artifacts.joblib.load") as joblib_load, pytest.raises(ArtifactError) as caught:
        load(artifact, sklearn_version="0.24.2")
    joblib_load.assert_not_called()
    assert "0.24.2" in str(caught.value)
