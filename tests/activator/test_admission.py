"""Waiting for a pod slot: deadlines, cancellation that gives slots back, shedding, pokes."""

from __future__ import annotations

import asyncio
import random

import pytest

from activator import admission
from activator.backends import PodAddress, RevisionSettings
from activator.concurrency import ConcurrencyRecorder
from activator.lb_policy import PodTracker
from activator.poker import Poker
from activator.routing import RevisionKey
from activator.state import RevisionState
from activator.subsetting import ReplicaSlot
from activator.tasks import TaskGroup
from activator.throttler import RevisionThrottler
from tests.activator.sinks import RecordingSink

POD = PodAddress("10.0.0.1", 80)


def _throttler(pods: list[PodAddress], cc: int = 1) -> RevisionThrottler[asyncio.Future[PodTracker]]:
    throttler: RevisionThrottler[asyncio.Future[PodTracker]] = RevisionThrottler(cc, 10, random.Random(1))
    throttler.update(pods, ReplicaSlot(), cc, now=0.0)
    return throttler


async def test_deadline_without_a_pod_leaves_nothing_queued() -> None:
    throttler = _throttler([])
    loop = asyncio.get_running_loop()
    with pytest.raises(admission.DeadlineExceededError):
        await admission.acquire(throttler, loop.time() + 0.02)
    assert throttler.waiting == 0


async def test_a_cancelled_waiter_granted_in_the_same_instant_hands_the_slot_on() -> None:
    throttler = _throttler([POD])
    loop = asyncio.get_running_loop()
    held = await admission.acquire(throttler, loop.time() + 1)
    first = asyncio.create_task(admission.acquire(throttler, loop.time() + 1))
    second = asyncio.create_task(admission.acquire(throttler, loop.time() + 1))
    await asyncio.sleep(0)
    assert throttler.waiting == 2
    first.cancel()  # cancelled, then granted before it runs: the slot must go to `second`
    admission.release(throttler, held, loop.time())
    with pytest.raises(asyncio.CancelledError):
        await first
    tracker = await asyncio.wait_for(second, 10)
    assert tracker.in_flight == 1
    admission.release(throttler, tracker, loop.time())
    assert throttler.in_flight == 0 and throttler.waiting == 0


async def test_shed_answers_every_waiter() -> None:
    throttler = _throttler([])
    loop = asyncio.get_running_loop()
    waiters = [asyncio.create_task(admission.acquire(throttler, loop.time() + 5)) for _ in range(3)]
    await asyncio.sleep(0)
    assert admission.shed(throttler) == 3
    for waiter in waiters:
        with pytest.raises(admission.ShedError):
            await waiter


async def test_a_refused_pod_is_retried_after_its_backoff() -> None:
    throttler = _throttler([POD])
    loop = asyncio.get_running_loop()
    tracker = await admission.acquire(throttler, loop.time() + 1)
    admission.refused(throttler, tracker, backoff=0.02)
    again = await admission.acquire(throttler, loop.time() + 1, retry=True)
    assert again.pod == POD and loop.time() >= tracker.refused_until


async def test_pokes_are_sent_at_once_and_rate_limited_per_revision() -> None:
    now = [10.0]
    sink, tasks = RecordingSink(), TaskGroup()
    poker = Poker(sink, tasks, interval_s=1.0, clock=lambda: now[0])
    revision = RevisionState(
        key=RevisionKey("ns", "r"),
        service_name="r",
        settings=RevisionSettings(),
        throttler=_throttler([]),
        recorder=ConcurrencyRecorder(0.0),
    )
    assert poker.maybe_poke(revision)
    assert not poker.maybe_poke(revision)
    now[0] = 11.0
    assert poker.maybe_poke(revision)
    await asyncio.sleep(0)
    assert sink.pokes == [RevisionKey("ns", "r")] * 2
    await tasks.close()
