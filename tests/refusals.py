"""Checking that a request the app refuses leaves the database as it was."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tests.data import database_state


@contextmanager
def changes_nothing(state: Callable[[], object] = database_state) -> Iterator[None]:
    """Fail the test if `state()` after the block differs from before it (every row, by default)."""
    before = state()
    yield
    assert state() == before
