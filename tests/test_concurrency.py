"""The helper the race tests run their calls with (their PostgreSQL runs depend on it)."""

from __future__ import annotations

import threading
import time

import pytest

from tests.concurrency import run_concurrently


def test_calls_run_at_once_and_each_result_comes_back_in_order() -> None:
    together = threading.Barrier(3, timeout=5)  # broken, and raising, unless all three wait at once

    def call(number: int) -> int:
        together.wait()
        return number

    assert run_concurrently(lambda: call(1), lambda: call(2), lambda: call(3)) == [1, 2, 3]


def test_the_others_start_only_once_the_first_call_reached_its_moment() -> None:
    reached = threading.Event()
    seen: list[str] = []

    def first() -> None:
        time.sleep(0.2)  # a second call started at once would come first
        seen.append("first reached")
        reached.set()

    def second() -> None:
        seen.append("second started")

    run_concurrently(first, second, first_reached=reached)

    assert seen == ["first reached", "second started"]


def test_an_error_in_any_call_fails_the_caller() -> None:
    def refuse() -> None:
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        run_concurrently(lambda: None, refuse)


def test_a_first_call_that_fails_before_its_moment_fails_the_caller_at_once() -> None:
    def refuse() -> None:
        raise ValueError("refused")

    started: list[str] = []
    with pytest.raises(ValueError, match="refused"):
        run_concurrently(refuse, lambda: started.append("second"), first_reached=threading.Event(), timeout=5)
    assert started == []
