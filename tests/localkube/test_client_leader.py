"""Leader election on a Lease (localkube.client.leader): the timing rules with a synthetic clock,
then real electors against a real localkube API server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import pytest
from aiohttp.test_utils import unused_port

from localkube.client import (
    LEASES,
    NAMESPACES,
    ApiClient,
    Connection,
    cancel_and_wait,
    create_guarded_task,
    load_connection,
)
from localkube.client.leader import (
    LeaderElector,
    LeaseRecord,
    LeaseTimings,
    Observation,
    Outcome,
    lease_spec,
    released_spec,
    still_leading,
)
from localkube.client.resources import Resource
from localkube.server.runner import ThreadedApiServer

NS = "election"
LEASE = "the-lease"
# Short enough that a takeover after a crash fits in a fast test, long enough for a loaded machine.
QUICK = LeaseTimings(lease_duration=2.0, renew_deadline=1.5, retry_period=0.1)


# --- the timing rules, with a synthetic clock --------------------------------------------------


def test_timings_must_nest() -> None:
    with pytest.raises(ValueError):
        LeaseTimings(lease_duration=10, renew_deadline=10, retry_period=2)
    with pytest.raises(ValueError):
        LeaseTimings(lease_duration=15, renew_deadline=10, retry_period=0)


def test_another_holder_is_respected_for_a_duration_of_our_own_time() -> None:
    held = LeaseRecord(holder="a", lease_duration=15, renew_time="2020-01-01T00:00:00.000000Z")
    seen = Observation(held, observed_at=100.0)
    assert seen.held_by_another("b", 100.0, default_duration=60)
    assert seen.held_by_another("b", 114.9, default_duration=60)
    assert not seen.held_by_another("b", 115.0, default_duration=60)  # the Lease's own duration
    assert not seen.held_by_another("a", 100.0, default_duration=60)  # the holder may always renew


def test_a_changed_record_restarts_the_wait_and_an_unchanged_one_does_not() -> None:
    first = LeaseRecord(holder="a", lease_duration=15, renew_time="t1", transitions=2)
    seen = Observation(first, observed_at=100.0)
    assert seen.see(LeaseRecord(holder="a", lease_duration=15, renew_time="t1", transitions=2), 110.0) is seen
    renewed = seen.see(LeaseRecord(holder="a", lease_duration=15, renew_time="t2", transitions=2), 110.0)
    assert renewed.observed_at == 110.0
    assert renewed.held_by_another("b", 124.0, default_duration=15)
    assert not renewed.held_by_another("b", 125.0, default_duration=15)


@pytest.mark.parametrize("holder", ["", None])
def test_a_lease_nobody_holds_is_free_at_once(holder: str | None) -> None:
    record = LeaseRecord.from_lease({"spec": {"holderIdentity": holder, "leaseDurationSeconds": 1}})
    assert not Observation(record, observed_at=100.0).held_by_another("b", 100.0, default_duration=15)


def test_a_record_without_duration_uses_ours() -> None:
    seen = Observation(LeaseRecord.from_lease({"spec": {"holderIdentity": "a"}}), observed_at=0.0)
    assert seen.held_by_another("b", 9.9, default_duration=10)
    assert not seen.held_by_another("b", 10.0, default_duration=10)


@pytest.mark.parametrize(
    ("outcome", "last_renew", "now", "leading"),
    [
        ("leader", 0.0, 0.0, True),
        ("follower", 100.0, 100.0, False),  # another holder, or a lost 409 race: at once
        ("error", 100.0, 109.0, True),  # a blip: still within the renew deadline
        ("error", 100.0, 110.0, True),
        ("error", 100.0, 110.1, False),  # nothing renewed for longer than the deadline
        ("error", None, 100.0, False),  # never led
    ],
)
def test_when_a_leader_steps_down(
    outcome: Outcome, last_renew: float | None, now: float, leading: bool
) -> None:
    assert still_leading(outcome, last_renew, now, renew_deadline=10.0) is leading


def test_taking_a_lease_counts_a_transition_and_renewing_does_not() -> None:
    held = LeaseRecord(holder="a", lease_duration=15, acquire_time="t0", renew_time="t1", transitions=3)
    taken = lease_spec(held, "b", 15.0, "t2")
    assert taken == {
        "holderIdentity": "b",
        "leaseDurationSeconds": 15,
        "acquireTime": "t2",
        "renewTime": "t2",
        "leaseTransitions": 4,
    }
    renewed = lease_spec(held, "a", 15.0, "t2")
    assert (renewed["acquireTime"], renewed["renewTime"], renewed["leaseTransitions"]) == ("t0", "t2", 3)


def test_a_released_lease_names_nobody_and_expires_at_once() -> None:
    spec = {"holderIdentity": "a", "leaseDurationSeconds": 15, "leaseTransitions": 3, "acquireTime": "t0"}
    released = released_spec(spec, "t9")
    assert released == {**spec, "holderIdentity": "", "leaseDurationSeconds": 1, "renewTime": "t9"}


# --- electors against a real API server ---------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Crashing(LeaderElector):
    """An elector whose process dies: it never gets to release the Lease."""

    async def release(self) -> None:
        return None


class RacingClient(ApiClient):
    """A real client whose Lease writes wait for each other: two candidates that read the same
    resourceVersion then write it at the same moment, so the server must refuse one (409)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.barrier = asyncio.Barrier(2)

    async def replace(
        self,
        resource: Resource,
        body: Mapping[str, Any],
        namespace: str | None = None,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        if resource == LEASES:
            await self.barrier.wait()
        return await super().replace(resource, body, namespace, subresource)


@pytest.fixture
async def client(apiserver: ThreadedApiServer) -> AsyncIterator[ApiClient]:
    async with ApiClient(load_connection(str(apiserver.kubeconfig)), keep_warm_seconds=None) as api:
        await api.create(NAMESPACES, {"metadata": {"name": NS}})
        yield api


async def eventually(check: Callable[[], bool], within: float) -> float:
    """Poll `check` (bounded by `within` s); return how long it took."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not check():
        if loop.time() - start > within:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.01)
    return loop.time() - start


async def spec_of(client: ApiClient) -> dict[str, Any]:
    return dict((await client.get(LEASES, LEASE, NS))["spec"])


class Candidates:
    """Electors on one Lease, with a check that no two ever lead at the same moment."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.electors: dict[str, LeaderElector] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.leading: set[str] = set()
        self.most_at_once = 0
        self.changes: list[tuple[str, bool]] = []

    def start(self, identity: str, kind: type[LeaderElector] = LeaderElector) -> LeaderElector:
        def on_change(leading: bool) -> None:
            self.changes.append((identity, leading))
            (self.leading.add if leading else self.leading.discard)(identity)
            self.most_at_once = max(self.most_at_once, len(self.leading))

        elector = kind(
            self.client, name=LEASE, namespace=NS, identity=identity, on_change=on_change, timings=QUICK
        )
        self.electors[identity] = elector
        self.tasks[identity] = create_guarded_task(elector.run(), f"elector-{identity}")
        return elector

    async def stop(self, identity: str) -> None:
        await cancel_and_wait([self.tasks.pop(identity)])

    async def close(self) -> None:
        await cancel_and_wait(self.tasks.values())


@contextlib.asynccontextmanager
async def candidates(client: ApiClient) -> AsyncIterator[Candidates]:
    group = Candidates(client)
    try:
        yield group
    finally:
        await group.close()
    assert group.most_at_once <= 1, group.changes


async def rounds(n: int) -> None:
    for _ in range(n):
        await asyncio.sleep(QUICK.retry_period)


async def test_of_two_candidates_exactly_one_leads(client: ApiClient) -> None:
    async with candidates(client) as group:
        a, b = group.start("a"), group.start("b")
        await eventually(lambda: a.leading or b.leading, within=5)
        await rounds(10)  # both keep campaigning; the leader renews, the other stays off
        assert [a.leading, b.leading].count(True) == 1
        leader = a if a.leading else b
        spec = await spec_of(client)
        assert (spec["holderIdentity"], spec["leaseTransitions"], spec["leaseDurationSeconds"]) == (
            leader.identity,
            0,
            2,
        )
        assert spec["acquireTime"] <= spec["renewTime"]
        assert group.changes == [(leader.identity, True)]


async def test_a_crashed_leader_is_replaced_within_the_lease_duration(client: ApiClient) -> None:
    async with candidates(client) as group:
        crashing = group.start("a", Crashing)
        await eventually(lambda: crashing.leading, within=5)
        survivor = group.start("b")
        await rounds(3)
        assert not survivor.leading
        await group.stop("a")  # it stops acting (on_change False) but leaves the Lease held
        assert (await spec_of(client))["holderIdentity"] == "a"
        took = await eventually(lambda: survivor.leading, within=QUICK.lease_duration + 3)
        # Not before the Lease's duration has passed on b's clock since a's last renewal...
        assert took >= QUICK.lease_duration - 2 * QUICK.retry_period - 0.3
        spec = await spec_of(client)
        assert (spec["holderIdentity"], spec["leaseTransitions"]) == ("b", 1)


async def test_a_clean_release_hands_over_at_the_next_round(client: ApiClient) -> None:
    async with candidates(client) as group:
        first = group.start("a")
        await eventually(lambda: first.leading, within=5)
        second = group.start("b")
        await rounds(3)
        await group.stop("a")  # cancelled: it steps down, then releases
        released_by = (await spec_of(client))["holderIdentity"]
        took = await eventually(lambda: second.leading, within=QUICK.lease_duration)
        assert released_by in ("", "b")
        assert took < QUICK.lease_duration / 2  # no need to wait the Lease out
        assert group.changes[:2] == [("a", True), ("a", False)]
        assert (await spec_of(client))["leaseTransitions"] == 1


async def test_a_leader_that_sees_another_holder_stops_at_once(client: ApiClient) -> None:
    async with candidates(client) as group:
        leader = group.start("a")
        await eventually(lambda: leader.leading, within=5)
        await client.patch(LEASES, LEASE, {"spec": {"holderIdentity": "usurper"}}, NS)
        await eventually(lambda: not leader.leading, within=5)
        assert group.changes == [("a", True), ("a", False)]
    assert (await spec_of(client))["holderIdentity"] == "usurper"  # never released: not ours


async def test_two_writers_of_the_same_version_one_wins_the_other_gets_409(
    apiserver: ThreadedApiServer, client: ApiClient
) -> None:
    await client.create(
        LEASES,
        {"metadata": {"name": LEASE, "namespace": NS}, "spec": {"holderIdentity": "", "leaseTransitions": 5}},
        NS,
    )
    async with RacingClient(load_connection(str(apiserver.kubeconfig)), keep_warm_seconds=None) as racing:
        a, b = (LeaderElector(racing, name=LEASE, namespace=NS, identity=i, timings=QUICK) for i in "ab")
        outcomes = await asyncio.gather(a.try_acquire_or_renew(), b.try_acquire_or_renew())
    assert sorted(outcomes) == ["follower", "leader"]
    winner = (a, b)[outcomes.index("leader")]
    spec = await spec_of(client)
    assert (spec["holderIdentity"], spec["leaseTransitions"]) == (winner.identity, 6)  # one transition


async def test_expiry_is_judged_by_our_clock_not_the_renew_time(client: ApiClient) -> None:
    far_future = "2999-01-01T00:00:00.000000Z"  # a holder whose clock runs far ahead of ours
    await client.create(
        LEASES,
        {
            "metadata": {"name": LEASE, "namespace": NS},
            "spec": {"holderIdentity": "ghost", "leaseDurationSeconds": 15, "renewTime": far_future},
        },
        NS,
    )
    clock = Clock()
    # The clock is ours to move, so client-go's default timings: their 2 s retry period bounds
    # each API round, which QUICK's 0.1 s did not leave enough for on a loaded machine.
    candidate = LeaderElector(client, name=LEASE, namespace=NS, identity="c", clock=clock)
    assert await candidate.try_acquire_or_renew() == "follower"
    assert candidate.holder == "ghost"
    clock.now += 14.9
    assert await candidate.try_acquire_or_renew() == "follower"
    clock.now += 0.2  # the record has not changed for 15.1 s of our own time
    assert await candidate.try_acquire_or_renew() == "leader"
    assert candidate.holder == "c"


async def test_our_annotations_ride_on_the_lease_and_an_empty_one_is_removed(client: ApiClient) -> None:
    first = LeaderElector(
        client, name=LEASE, namespace=NS, identity="a", timings=QUICK, annotations={"example.dev/url": "u"}
    )
    assert await first.try_acquire_or_renew() == "leader"
    await first.release()
    lease = await client.get(LEASES, LEASE, NS)
    assert lease["metadata"]["annotations"] == {"example.dev/url": "u"}
    assert lease["spec"]["holderIdentity"] == ""
    second = LeaderElector(
        client, name=LEASE, namespace=NS, identity="b", timings=QUICK, annotations={"example.dev/url": ""}
    )
    assert await second.try_acquire_or_renew() == "leader"  # released: free at once
    assert (await client.get(LEASES, LEASE, NS))["metadata"].get("annotations") in ({}, None)


async def test_an_unreachable_server_is_an_error_round_not_a_crash() -> None:
    async with ApiClient(
        Connection.local(f"http://127.0.0.1:{unused_port()}"), keep_warm_seconds=None
    ) as api:
        elector = LeaderElector(api, name=LEASE, namespace=NS, identity="a", timings=QUICK)
        outcome: Awaitable[Outcome] = elector.try_acquire_or_renew()
        assert await outcome == "error"
        assert not elector.leading
