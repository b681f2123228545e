"""Stored model bytes: what is unpickled, what is refused and why. No database."""

from __future__ import annotations

import hashlib
import io
from unittest import mock

import joblib
import pytest
import sklearn

from predictor.artifacts import ArtifactError, RefusalCause, dump_model, key_id, load_model, sign, signing_key_index
from tests.factories import fitted_tree

KEY = b"server-side signing key"
OLD_KEY = b"the key before the rotation"


@pytest.fixture(scope="module")
def fitted():
    return fitted_tree()


def load(artifact, **changes):
    arguments = {
        "sha256": artifact.sha256,
        "signature": artifact.signature,
        "sklearn_version": artifact.sklearn_version,
        "keys": [KEY],
    }
    arguments.update(changes)
    data = arguments.pop("data", artifact.data)
    return load_model(data, **arguments)


def refusal(artifact, **changes) -> ArtifactError:
    with mock.patch("joblib.load") as joblib_load, pytest.raises(ArtifactError) as caught:
        load(artifact, **changes)
    joblib_load.assert_not_called()
    return caught.value


def test_dumped_model_loads_back_and_predicts_the_same(fitted):
    artifact = dump_model(fitted, KEY)
    assert artifact.sha256 == hashlib.sha256(artifact.data).hexdigest()
    assert artifact.sklearn_version == sklearn.__version__
    assert artifact.key_id == key_id(KEY)
    loaded = load(artifact)
    assert loaded.predict([[200, 30], [900, 30]]).tolist() == fitted.predict([[200, 30], [900, 30]]).tolist()


def test_tampered_bytes_are_never_unpickled(fitted):
    artifact = dump_model(fitted, KEY)
    tampered = bytearray(artifact.data)
    tampered[len(tampered) // 2] ^= 0xFF
    assert refusal(artifact, data=bytes(tampered)).cause is RefusalCause.HASH


def test_bytes_swapped_together_with_their_hash_are_never_unpickled(fitted):
    # Whoever can write the row can recompute the sha256, but not the server's HMAC.
    artifact = dump_model(fitted, KEY)
    forged = artifact.data + b"\x00"
    error = refusal(artifact, data=forged, sha256=hashlib.sha256(forged).hexdigest())
    assert error.cause is RefusalCause.SIGNATURE


def test_model_signed_with_another_key_is_never_unpickled(fitted):
    artifact = dump_model(fitted, b"another server's key")
    assert refusal(artifact).cause is RefusalCause.SIGNATURE


def test_model_signed_with_a_fallback_key_loads(fitted):
    artifact = dump_model(fitted, OLD_KEY)
    assert load(artifact, keys=[KEY, OLD_KEY]).get_n_leaves() == fitted.get_n_leaves()
    assert signing_key_index(artifact.data, artifact.signature, [KEY, OLD_KEY]) == 1


def test_model_from_another_scikit_learn_version_is_never_unpickled(fitted):
    error = refusal(dump_model(fitted, KEY), sklearn_version="0.24.2")
    assert error.cause is RefusalCause.SKLEARN_VERSION
    assert "0.24.2" in str(error)


def test_a_signed_object_that_is_not_a_tree_is_refused_after_loading():
    buffer = io.BytesIO()
    joblib.dump({"not": "a tree"}, buffer)
    data = buffer.getvalue()
    with pytest.raises(ArtifactError) as caught:
        load_model(
            data,
            sha256=hashlib.sha256(data).hexdigest(),
            signature=sign(data, KEY),
            sklearn_version=sklearn.__version__,
            keys=[KEY],
        )
    assert caught.value.cause is RefusalCause.NOT_A_TREE


def test_key_ids_tell_keys_apart_without_revealing_them():
    assert key_id(KEY) != key_id(OLD_KEY)
    assert key_id(KEY) == key_id(KEY)
    assert KEY.hex()[:16] != key_id(KEY)
