"""Saving and loading fitted models as bytes, with a hash, a signature and the library version.

Unpickling runs code, so stored bytes are unpickled only when they hash to the recorded
sha256, carry a valid HMAC made with the server's signing key (which is not in the
database, so whoever can write rows cannot forge it), and were written by the
scikit-learn version running now (a model from another version may load wrong).
"""

from __future__ import annotations

import hashlib
import hmac
import io
from dataclasses import dataclass

import joblib
import sklearn
from sklearn.tree import DecisionTreeClassifier


class ArtifactError(Exception):
    """The stored model cannot be trusted or used; it must be retrained."""


@dataclass(frozen=True)
class Artifact:
    data: bytes
    sha256: str
    signature: str
    sklearn_version: str


def sign(data: bytes, key: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def dump_model(model: DecisionTreeClassifier, key: bytes) -> Artifact:
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    data = buffer.getvalue()
    return Artifact(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        signature=sign(data, key),
        sklearn_version=sklearn.__version__,
    )


def load_model(data: bytes, *, sha256: str, signature: str, sklearn_version: str, key: bytes) -> DecisionTreeClassifier:
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ArtifactError("The stored model does not match its recorded hash.")
    if not hmac.compare_digest(sign(data, key), signature):
        raise ArtifactError("The stored model's signature is not valid for this server's key.")
    if sklearn_version != sklearn.__version__:
        raise ArtifactError(
            f"The stored model was made with scikit-learn {sklearn_version}; this server runs {sklearn.__version__}."
        )
    model = joblib.load(io.BytesIO(data))
    if not isinstance(model, DecisionTreeClassifier):
        raise ArtifactError("The stored object is not a decision tree.")
    return model
