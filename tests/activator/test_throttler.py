"""The breaker/throttler state machine and the load-balancing policies, on a synthetic clock."""

from __future__ import annotations

import random

import pytest

from activator.backends import PodAddress
from activator.concurrency import ConcurrencyRecorder
from activator.lb_policy import FirstAvailable, PodTracker, PowerOfTwoChoices, RoundRobin, policy_for
from activator.subsetting import ReplicaSlot
from activator.throttler import QueueFullError, RevisionThrottler

PODS = [PodAddress("10.0.0.1", 80), PodAddress("10.0.0.2", 80), PodAddress("10.0.0.3", 80)]
ONE = ReplicaSlot()


def _throttler(cc: int, depth: int = 10, pods: list[PodAddress] | None = None) -> RevisionThrottler[str]:
    throttler: RevisionThrottler[str] = RevisionThrottler(cc, depth, random.Random(7))
    throttler.update(pods if pods is not None else PODS, ONE, cc, now=0.0)
    return throttler


def test_policy_by_container_concurrency() -> None:
    rng = random.Random(1)
    assert isinstance(policy_for(0, rng), PowerOfTwoChoices)
    assert all(isinstance(policy_for(cc, rng), FirstAvailable) for cc in (1, 2, 3))
    assert isinstance(policy_for(4, rng), RoundRobin)


def test_first_available_packs_pods_in_ip_order() -> None:
    throttler = _throttler(cc=2)
    taken = [throttler.try_acquire(0.0) for _ in range(6)]
    assert [t.pod for t in taken if t] == [PODS[0], PODS[0], PODS[1], PODS[1], PODS[2], PODS[2]]
    assert throttler.try_acquire(0.0) is None


def test_round_robin_spreads_over_pods_with_room() -> None:
    throttler = _throttler(cc=4)
    picks = [throttler.try_acquire(0.0) for _ in range(6)]
    assert [t.pod for t in picks if t] == [*PODS, *PODS]


def test_power_of_two_prefers_the_less_loaded() -> None:
    trackers = [PodTracker(PODS[0], 0, in_flight=5), PodTracker(PODS[1], 0, in_flight=1)]
    policy = PowerOfTwoChoices(random.Random(3))
    assert all(policy.pick(trackers, 0.0) is trackers[1] for _ in range(20))


def test_power_of_two_balances_over_many_picks() -> None:
    throttler = _throttler(cc=0)
    for _ in range(300):
        throttler.try_acquire(0.0)
    loads = [t.in_flight for t in throttler.trackers]
    assert max(loads) - min(loads) <= 2, loads


def test_waiters_are_granted_oldest_first_as_slots_free() -> None:
    throttler = _throttler(cc=1, pods=PODS[:1])
    held = throttler.try_acquire(0.0)
    assert held is not None
    for name in ("a", "b", "c"):
        throttler.enqueue(name)
    assert throttler.try_acquire(0.0) is None  # nobody jumps the queue
    (grant,) = throttler.release(held, 1.0)
    assert grant[0] == "a"
    (grant,) = throttler.release(grant[1], 2.0)
    assert grant[0] == "b"


def test_queue_full_is_a_named_error() -> None:
    throttler = _throttler(cc=1, depth=2, pods=[])
    throttler.enqueue("a")
    throttler.enqueue("b")
    with pytest.raises(QueueFullError):
        throttler.enqueue("c")
    assert throttler.cancel("a") and not throttler.cancel("zzz")
    throttler.enqueue("c")


def test_pods_appearing_release_the_queue_in_order() -> None:
    throttler = _throttler(cc=1, pods=[])
    for name in "abcd":
        throttler.enqueue(name)
    grants = throttler.update(PODS, ONE, 1, now=5.0)
    assert [w for w, _ in grants] == ["a", "b", "c"]
    assert throttler.waiting == 1


def test_update_keeps_in_flight_counts_of_surviving_pods() -> None:
    throttler = _throttler(cc=1, pods=PODS[:1])
    held = throttler.try_acquire(0.0)
    assert held is not None
    throttler.update(PODS[:2], ONE, 1, now=1.0)
    nxt = throttler.try_acquire(1.0)
    assert nxt is not None and nxt.pod == PODS[1]


def test_refused_pod_is_skipped_until_its_backoff_ends_and_retries_go_first() -> None:
    throttler = _throttler(cc=1, pods=PODS[:1])
    tracker = throttler.try_acquire(0.0)
    assert tracker is not None
    throttler.enqueue("queued")
    throttler.enqueue_retry("retried")
    assert throttler.refused(tracker, now=10.0, backoff=1.0) == []
    assert throttler.next_refusal_end(10.0) == 11.0
    assert throttler.dispatch(10.5) == []
    (grant,) = throttler.dispatch(11.0)
    assert grant[0] == "retried"


def test_capacity_reports_unlimited_and_limited() -> None:
    assert _throttler(cc=0).capacity() == -1
    assert _throttler(cc=0, pods=[]).capacity() == 0
    assert _throttler(cc=3).capacity() == 9


def test_take_all_waiters_empties_the_queue() -> None:
    throttler = _throttler(cc=1, pods=[])
    throttler.enqueue("a")
    throttler.enqueue_retry("r")
    assert throttler.take_all_waiters() == ["r", "a"]
    assert throttler.waiting == 0


def test_concurrency_is_time_weighted() -> None:
    recorder = ConcurrencyRecorder(now=0.0)
    recorder.start(0.0)
    recorder.start(0.25)
    recorder.end(0.75)
    window = recorder.report(1.0)
    # 1 request for 1 s plus 1 for 0.5 s.
    assert window.average_concurrency == pytest.approx(1.5)
    assert window.requests == 2
    nxt = recorder.report(2.0)
    assert nxt.average_concurrency == pytest.approx(1.0) and nxt.requests == 0
    recorder.end(2.0)
    assert recorder.report(3.0).average_concurrency == 0.0
    assert recorder.idle()
