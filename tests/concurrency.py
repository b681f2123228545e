"""Running a test's calls at once, each in a thread of its own, as several workers would."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import connections

T = TypeVar("T")

# How long a call may take before the test fails rather than hangs.
TIMEOUT_SECONDS = 30.0


def run_concurrently(
    *calls: Callable[[], T], first_reached: threading.Event | None = None, timeout: float = TIMEOUT_SECONDS
) -> list[T]:
    """Run each call in a thread of its own and return what each returned, in order.

    Without `first_reached`, the calls start together (a barrier): the race is as tight as
    threads make it. With it, the first call runs alone until it sets that event (its moment
    of interest, as a lock taken), then the others start. Each thread closes its own database
    connections as it ends: left open, they outlive the test database. A call that raises, or
    one still running after `timeout` seconds, fails the test once every thread has ended.
    """
    start = threading.Barrier(len(calls) if first_reached is None else 1)
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], T]) -> None:
        try:
            start.wait()
            results[index] = call()
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=[index, call], name=f"call {index}", daemon=True)
        for index, call in enumerate(calls)
    ]
    threads[0].start()
    if first_reached is not None:
        _wait_for(first_reached, threads[0], timeout, errors)
    for thread in threads[1:]:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), f"a call still runs after {timeout} s"
    if errors:
        raise errors[0]
    return results


def _wait_for(event: threading.Event, thread: threading.Thread, timeout: float, errors: list[BaseException]) -> None:
    """Wait until `thread` sets `event`; fail at once with its error if it ends without."""
    deadline = time.monotonic() + timeout
    while not event.wait(0.05):
        if not thread.is_alive():
            thread.join()
            if errors:
                raise errors[0]
            raise AssertionError("the first call ended without reaching its moment")
        assert time.monotonic() < deadline, f"the first call did not reach its moment within {timeout} s"
