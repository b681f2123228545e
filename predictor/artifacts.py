"""Saving and loading fitted models as bytes, with a hash and the library version.

Unpickling runs code, so a stored model is loaded only when its bytes hash to the
recorded sha256 and it was written by the scikit-learn version running now (a model
from another version may load wrong or not at all).
"""

from __future__ import annotations

import hashlib
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
    sklearn_version: str


def dump_model(model: DecisionTreeClassifier) -> Artifact:
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    data = buffer.getvalue()
    return Artifact(data=data, sha256=hashlib.sha256(data).hexdigest(), sklearn_version=sklearn.__version__)


def load_model(data: bytes, sha256: str, sklearn_version: str) -> DecisionTreeClassifier:
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ArtifactError("The stored model does not match its recorded hash.")
    if sklearn_version != sklearn.__version__:
        raise ArtifactError(
            f"The stored model was made with scikit-learn {sklearn_version}; this server runs {sklearn.__version__}."
        )
    model = joblib.load(io.BytesIO(data))
    if not isinstance(model, DecisionTreeClassifier):
        raise ArtifactError("The stored object is not a decision tree.")
    return model
