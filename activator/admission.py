"""The async face of a revision's throttler: wait for a pod slot, bounded by a deadline.

The fast path (a free slot, nobody waiting) allocates nothing. Otherwise the request waits on a
future in the revision's FIFO; `wake` completes futures for the grants the throttler makes. A
request cancelled or timed out after being granted a slot gives it back, so capacity never leaks.
"""

from __future__ import annotations

import asyncio
from collections import deque

from activator.lb_policy import PodTracker
from activator.throttler import RevisionThrottler

Waiter = asyncio.Future[PodTracker]


class DeadlineExceededError(Exception):
    """No pod slot became free before the request's response-start deadline (answered with 504)."""


class ShedError(Exception):
    """The gateway is shutting down and gave up on a queued request (answered with 503)."""


def shed(throttler: RevisionThrottler[Waiter]) -> int:
    """Answer every queued request of the revision with `ShedError`; returns how many."""
    waiters = throttler.take_all_waiters()
    for waiter in waiters:
        if not waiter.done():
            waiter.set_exception(ShedError("gateway shutting down"))
    return len(waiters)


def wake(throttler: RevisionThrottler[Waiter], grants: list[tuple[Waiter, PodTracker]], now: float) -> None:
    pending = deque(grants)
    while pending:
        waiter, tracker = pending.popleft()
        if waiter.done():
            # Its request was cancelled in the same instant; hand the slot on.
            pending.extend(throttler.release(tracker, now))
        else:
            waiter.set_result(tracker)


def try_acquire(throttler: RevisionThrottler[Waiter]) -> PodTracker | None:
    """A slot at once if one is free and nobody waits: no coroutine on the common path."""
    return throttler.try_acquire(asyncio.get_running_loop().time())


async def acquire(
    throttler: RevisionThrottler[Waiter], deadline: float, *, retry: bool = False
) -> PodTracker:
    """A slot on some pod; raises `QueueFullError` at once or `DeadlineExceededError` at `deadline`."""
    loop = asyncio.get_running_loop()
    now = loop.time()
    if not retry:
        tracker = throttler.try_acquire(now)
        if tracker is not None:
            return tracker
    waiter: Waiter = loop.create_future()
    if retry:
        throttler.enqueue_retry(waiter)
    else:
        throttler.enqueue(waiter)
    # A slot may already be free (a refused pod's back-off ended with nobody to notice), or
    # become free when one ends: make sure someone looks then.
    wake(throttler, throttler.dispatch(now), now)
    _redispatch_when_refusals_end(throttler, loop, now)
    try:
        async with asyncio.timeout_at(deadline):
            return await waiter
    except TimeoutError:
        _give_back(throttler, waiter, loop.time())
        raise DeadlineExceededError("no pod became available before the deadline") from None
    except asyncio.CancelledError:
        _give_back(throttler, waiter, loop.time())
        raise


def release(throttler: RevisionThrottler[Waiter], tracker: PodTracker, now: float) -> None:
    wake(throttler, throttler.release(tracker, now), now)


def refused(throttler: RevisionThrottler[Waiter], tracker: PodTracker, backoff: float) -> None:
    """The pod refused a connection: skip it a while and re-check the queue when that ends."""
    loop = asyncio.get_running_loop()
    now = loop.time()
    wake(throttler, throttler.refused(tracker, now, backoff), now)
    _redispatch_when_refusals_end(throttler, loop, now)


def _redispatch_when_refusals_end(
    throttler: RevisionThrottler[Waiter], loop: asyncio.AbstractEventLoop, now: float
) -> None:
    end = throttler.next_refusal_end(now)
    if end is not None and throttler.redispatch_at != end:
        # One timer per refusal end, however many requests wait behind it.
        throttler.redispatch_at = end
        # A hair late: timers may fire within the clock's resolution before `end`.
        loop.call_at(end + 0.001, _redispatch, throttler, loop)


def _redispatch(throttler: RevisionThrottler[Waiter], loop: asyncio.AbstractEventLoop) -> None:
    throttler.redispatch_at = None
    now = loop.time()
    wake(throttler, throttler.dispatch(now), now)
    _redispatch_when_refusals_end(throttler, loop, now)


def _give_back(throttler: RevisionThrottler[Waiter], waiter: Waiter, now: float) -> None:
    if throttler.cancel(waiter):
        waiter.cancel()
        return
    if waiter.done() and not waiter.cancelled():
        release(throttler, waiter.result(), now)
