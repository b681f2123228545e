"""Saving and loading fitted models as bytes, with a hash, a signature and the library version.

Unpickling runs code, so stored bytes are unpickled only when they hash to the recorded
sha256, carry a valid HMAC made with one of the server's signing keys (which are not in
the database, so whoever can write rows cannot forge it), and were written by the
scikit-learn version running now (a model from another version may load wrong).

Several keys are accepted so that a key can be rotated: models are signed with the first
key, and verified against it and the older ones still listed after it.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import hmac
import io
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sklearn.tree import DecisionTreeClassifier


class RefusalCause(enum.Enum):
    """Why stored model bytes were not unpickled."""

    HASH = "hash"  # the bytes are not those that were stored
    SIGNATURE = "signature"  # the bytes were not signed by any key this server has
    SKLEARN_VERSION = "sklearn_version"  # another scikit-learn wrote them
    NOT_A_TREE = "not_a_tree"  # they unpickle to something else


class ArtifactError(Exception):
    """The stored model cannot be trusted or used; it must be retrained. `cause` says why."""

    def __init__(self, cause: RefusalCause, message: str) -> None:
        super().__init__(message)
        self.cause = cause


@dataclass(frozen=True)
class Artifact:
    data: bytes
    sha256: str
    signature: str
    sklearn_version: str
    key_id: str


@functools.cache
def running_sklearn_version() -> str:
    """The installed scikit-learn's version, read without importing scikit-learn."""
    return metadata.version("scikit-learn")


def sign(data: bytes, key: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


@functools.lru_cache(maxsize=32)
def key_id(key: bytes) -> str:
    """A short public name for a signing key: tells which key signed a model, reveals nothing of it.
    (Kept per key: every verdict checks that its version's key is still one of the server's.)"""
    return hmac.new(key, b"make-or-break model signing key id", hashlib.sha256).hexdigest()[:16]


def dump_model(model: DecisionTreeClassifier, key: bytes) -> Artifact:
    import joblib

    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    data = buffer.getvalue()
    return Artifact(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        signature=sign(data, key),
        sklearn_version=running_sklearn_version(),
        key_id=key_id(key),
    )


def signing_key_index(data: bytes, signature: str, keys: Sequence[bytes]) -> int | None:
    """The position in `keys` of the key that made `signature`, or None if none did."""
    return next((index for index, key in enumerate(keys) if hmac.compare_digest(sign(data, key), signature)), None)


def verify(data: bytes, *, sha256: str, signature: str, sklearn_version: str, keys: Sequence[bytes]) -> None:
    """Raise `ArtifactError` unless the bytes may be unpickled on this server."""
    if not hmac.compare_digest(hashlib.sha256(data).hexdigest(), sha256):
        raise ArtifactError(RefusalCause.HASH, "The stored model does not match its recorded hash.")
    if signing_key_index(data, signature, keys) is None:
        raise ArtifactError(
            RefusalCause.SIGNATURE, "The stored model's signature is not valid for any of this server's keys."
        )
    if sklearn_version != running_sklearn_version():
        raise ArtifactError(
            RefusalCause.SKLEARN_VERSION,
            f"The stored model was made with scikit-learn {sklearn_version}; "
            f"this server runs {running_sklearn_version()}.",
        )


def load_model(
    data: bytes, *, sha256: str, signature: str, sklearn_version: str, keys: Sequence[bytes]
) -> DecisionTreeClassifier:
    """The fitted tree in `data`, once `verify` accepts it; raises `ArtifactError` otherwise."""
    verify(data, sha256=sha256, signature=signature, sklearn_version=sklearn_version, keys=keys)
    import joblib
    from sklearn.tree import DecisionTreeClassifier

    model = joblib.load(io.BytesIO(data))
    if not isinstance(model, DecisionTreeClassifier):
        raise ArtifactError(RefusalCause.NOT_A_TREE, "The stored object is not a decision tree.")
    return model


def warm_up() -> None:
    """Import what reading a model needs (scikit-learn's trees, joblib: about 1 s), so that a
    server process that calls this before it forks its workers answers the first verdict of
    each worker at once. Commands and tests keep importing them only when they need them."""
    import joblib  # noqa: F401
    import sklearn.tree  # noqa: F401
