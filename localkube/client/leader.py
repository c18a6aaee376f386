"""Leader election on a coordination.k8s.io/v1 Lease, with client-go's leaderelection semantics.

Every `retry_period` a candidate reads the Lease and takes it when nobody holds it, when it
holds it already (a renewal), or when the holder's record (holder, renewTime, leaseTransitions)
has not changed for `leaseDurationSeconds` as measured on the candidate's OWN monotonic clock
since it last saw the record change. Clocks of two machines are never compared: the renewTime
written is informative only.

Writes are conditional on the resourceVersion read in the same round, so of two candidates
racing for a free or expired Lease one wins and the other gets a 409 Conflict; a Conflict means
someone else won, and a leader that gets one (or sees another holder) stops leading at once. A
leader that cannot reach the API server stops after `renew_deadline`, which is shorter than
`lease_duration`, so it has stopped before any other candidate may take over. On clean shutdown
the leader releases the Lease (empty holder, 1 s duration, as client-go's ReleaseOnCancel does)
so a standby takes over at its next round instead of waiting out a full duration.

The timing rules are pure (`LeaseRecord`, `Observation`, `still_leading`, `lease_spec`) and take
`now`; `LeaderElector` is the loop around them that talks to the API server.

    elector = LeaderElector(client, name="my-lease", namespace="ns", identity=default_identity(),
                            on_change=lambda leading: ...)
    task = create_guarded_task(elector.run(), "leader-election")   # cancel it to stop + release
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from localkube.client.api import ApiClient
from localkube.client.errors import AlreadyExists, Conflict, NotFound
from localkube.client.events import format_micro_time
from localkube.client.resources import LEASES

logger = logging.getLogger(__name__)

Outcome = Literal["leader", "follower", "error"]
"""One round's result: we hold the Lease; someone else does (or won a race); the API failed."""

RELEASE_SECONDS = 4.0  # a release is best effort: an unreleased Lease expires by itself


@dataclass(frozen=True)
class LeaseTimings:
    """client-go's defaults: 15 s lease, 10 s renew deadline, 2 s retry period."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError("need 0 < retry_period < renew_deadline < lease_duration")


DEFAULT_TIMINGS = LeaseTimings()


def default_identity() -> str:
    """Unique per process: host name, pid and a random suffix (a restarted pod is a new holder)."""
    return f"{socket.gethostname()}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class LeaseRecord:
    """The election fields of a Lease's spec."""

    holder: str = ""
    lease_duration: float | None = None
    acquire_time: str | None = None
    renew_time: str | None = None
    transitions: int = 0

    @classmethod
    def from_lease(cls, lease: Mapping[str, Any]) -> LeaseRecord:
        spec = lease.get("spec") or {}
        duration = spec.get("leaseDurationSeconds")
        return cls(
            holder=str(spec.get("holderIdentity") or ""),
            lease_duration=float(duration) if duration else None,
            acquire_time=spec.get("acquireTime"),
            renew_time=spec.get("renewTime"),
            transitions=int(spec.get("leaseTransitions") or 0),
        )


@dataclass(frozen=True)
class Observation:
    """What a candidate last saw of the Lease, and when by its own monotonic clock."""

    record: LeaseRecord
    observed_at: float

    def see(self, record: LeaseRecord, now: float) -> Observation:
        """The record as read at `now`: the time restarts only when the record changed."""
        return self if record == self.record else Observation(record, now)

    def held_by_another(self, identity: str, now: float, default_duration: float) -> bool:
        """Someone else holds it and has renewed within the duration (by our clock): keep off."""
        holder = self.record.holder
        duration = self.record.lease_duration or default_duration
        return bool(holder) and holder != identity and now < self.observed_at + duration


def still_leading(outcome: Outcome, last_renew: float | None, now: float, renew_deadline: float) -> bool:
    """Whether we lead after a round that ended so (`last_renew`: start of our last renewal).

    Another holder or a lost race ends leadership at once; API errors only once nothing was
    renewed for `renew_deadline`, so a blip does not cost the lead but a partition does, before
    the others may take over.
    """
    if outcome == "leader":
        return True
    if outcome == "follower" or last_renew is None:
        return False
    return now - last_renew <= renew_deadline


def lease_spec(current: LeaseRecord, identity: str, lease_duration: float, renew_time: str) -> dict[str, Any]:
    """The spec that takes (or renews, when we hold it) the Lease at wall time `renew_time`."""
    mine = current.holder == identity
    return {
        "holderIdentity": identity,
        "leaseDurationSeconds": max(1, int(lease_duration)),
        "acquireTime": current.acquire_time if mine and current.acquire_time else renew_time,
        "renewTime": renew_time,
        "leaseTransitions": current.transitions if mine else current.transitions + 1,
    }


def released_spec(current: Mapping[str, Any], renew_time: str) -> dict[str, Any]:
    """The spec a leader leaves on clean shutdown: nobody holds it, and it expires at once."""
    return {**current, "holderIdentity": "", "leaseDurationSeconds": 1, "renewTime": renew_time}


def _wall_time() -> str:
    return format_micro_time(datetime.datetime.now(datetime.UTC))


def _merged_annotations(current: Any, ours: Mapping[str, str]) -> dict[str, str]:
    """The Lease's annotations with ours written over them; an empty value removes the key."""
    merged = dict(current) if isinstance(current, Mapping) else {}
    for key, value in ours.items():
        if value:
            merged[key] = value
        else:
            merged.pop(key, None)
    return merged


class LeaderElector:
    """Campaigns for one Lease until cancelled; `on_change(True/False)` when leadership changes.

    `on_change` is called in the elector's task the moment leadership changes, so a caller can
    stop acting synchronously. Cancelling `run()` ends leadership (`on_change(False)`) and then
    releases the Lease. `annotations` are written on the Lease with every acquire and renewal
    (the autoscaler advertises its URL this way); `lease` is the Lease as last read or written.
    """

    def __init__(
        self,
        client: ApiClient,
        *,
        name: str,
        namespace: str,
        identity: str,
        on_change: Callable[[bool], None] | None = None,
        timings: LeaseTimings = DEFAULT_TIMINGS,
        clock: Callable[[], float] = time.monotonic,
        annotations: Mapping[str, str] | None = None,
    ) -> None:
        self._client = client
        self.name = name
        self.namespace = namespace
        self.identity = identity
        self._on_change = on_change
        self.timings = timings
        self._clock = clock
        self.annotations: Mapping[str, str] = dict(annotations or {})
        self.leading = False
        self.lease: dict[str, Any] | None = None
        self._observation: Observation | None = None
        self._last_renew: float | None = None

    @property
    def holder(self) -> str:
        """Who held the Lease when we last looked ('' for nobody)."""
        return self._observation.record.holder if self._observation else ""

    @property
    def holder_annotations(self) -> Mapping[str, str]:
        return ((self.lease or {}).get("metadata") or {}).get("annotations") or {}

    async def run(self) -> None:
        try:
            while True:
                started = self._clock()
                outcome = await self.try_acquire_or_renew()
                if outcome == "leader":
                    self._last_renew = started
                self._set(
                    still_leading(outcome, self._last_renew, self._clock(), self.timings.renew_deadline)
                )
                await asyncio.sleep(self.timings.retry_period)
        finally:
            if self.leading:
                self._set(False, "stopped; releasing")
                await self.release()

    def _set(self, leading: bool, how: str = "lost") -> None:
        if leading == self.leading:
            return
        self.leading = leading
        if not leading:
            self._last_renew = None
        logger.info(
            "%s %s the lease %s/%s",
            self.identity,
            "acquired" if leading else how,
            self.namespace,
            self.name,
        )
        if self._on_change is not None:
            self._on_change(leading)

    async def try_acquire_or_renew(self) -> Outcome:
        """One round: read the Lease and take or renew it if we may."""
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation that
            # arrives as the call completes, and the loop would then never stop.
            async with asyncio.timeout(self.timings.retry_period):
                return await self._round()
        except Exception as err:  # an unreachable server, a timeout: not a crash
            logger.warning("leader election round failed: %s: %s", type(err).__name__, err)
            return "error"

    async def _round(self) -> Outcome:
        now = self._clock()
        try:
            lease = await self._client.get(LEASES, self.name, self.namespace)
        except NotFound:
            if await self._create(now):
                return "leader"
            # Another candidate created it first: read who holds it.
            lease = await self._client.get(LEASES, self.name, self.namespace)
        self._see(lease, now)
        assert self._observation is not None
        if self._observation.held_by_another(self.identity, now, self.timings.lease_duration):
            return "follower"
        spec = lease_spec(self._observation.record, self.identity, self.timings.lease_duration, _wall_time())
        metadata = dict(lease.get("metadata") or {})
        metadata["annotations"] = _merged_annotations(metadata.get("annotations"), self.annotations)
        try:
            written = await self._client.replace(
                LEASES, {**lease, "metadata": metadata, "spec": spec}, self.namespace
            )
        except Conflict:
            return "follower"  # someone wrote it since we read it: they won this round
        self._see(written, now)
        return "leader"

    async def _create(self, now: float) -> bool:
        duration = self.timings.lease_duration
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "annotations": _merged_annotations(None, self.annotations),
            },
            # The first holder of a new Lease: no transition yet (as client-go writes it).
            "spec": {
                **lease_spec(LeaseRecord(), self.identity, duration, _wall_time()),
                "leaseTransitions": 0,
            },
        }
        try:
            created = await self._client.create(LEASES, body, self.namespace)
        except (AlreadyExists, Conflict):
            return False
        self._see(created, now)
        return True

    def _see(self, lease: dict[str, Any], now: float) -> None:
        self.lease = lease
        record = LeaseRecord.from_lease(lease)
        self._observation = (
            Observation(record, now) if self._observation is None else self._observation.see(record, now)
        )

    async def release(self) -> None:
        """Hand the Lease back (if we still hold it) so a standby need not wait out the duration."""
        try:
            async with asyncio.timeout(RELEASE_SECONDS):
                lease = await self._client.get(LEASES, self.name, self.namespace)
                if LeaseRecord.from_lease(lease).holder != self.identity:
                    return
                spec = released_spec(lease.get("spec") or {}, _wall_time())
                self.lease = await self._client.replace(LEASES, {**lease, "spec": spec}, self.namespace)
        except Exception as err:
            logger.warning(
                "releasing the lease %s/%s failed (it expires by itself): %s", self.namespace, self.name, err
            )
