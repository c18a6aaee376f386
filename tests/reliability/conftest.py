"""Fixtures of the fault-injection suite: a `kwake up` per test, and nothing of it left after."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest

from loadtests.faults import stack
from loadtests.kwake import KwakeUp

StartKwake = Callable[..., KwakeUp]


@pytest.fixture
def kwake_up() -> Iterator[StartKwake]:
    """`kwake_up(manifests, ready=[names], args=[...])` starts a `kwake up` (see
    `loadtests.faults.stack.start`); at the end of the test each is stopped, and the test fails
    if any process of it (components, pods, their children) is still alive 10 s later."""
    started: list[KwakeUp] = []

    def start(
        manifests: Sequence[Mapping[str, Any]], ready: Sequence[str], *, args: Sequence[str] = ()
    ) -> KwakeUp:
        up = stack.start(manifests, ready, args=args)
        started.append(up)
        return up

    yield start
    for up in started:
        up.stop()
    left = [line for up in started for line in stack.wait_no_processes(up)]
    assert left == [], f"processes of kwake up left running: {left}"
