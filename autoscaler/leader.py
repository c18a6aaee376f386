"""Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does, so two
autoscaler replicas never both write scales.

Every `retry_period` a candidate reads the Lease. It takes it when nobody holds it, when it holds
it already (a renewal), or when the holder's record has not changed for `leaseDurationSeconds`
as measured on the candidate's own monotonic clock (client-go's rule: clocks of two machines
are never compared). Writes are conditional on the resourceVersion, so of two candidates racing
for a free Lease one wins and the other gets a Conflict.

A leader that sees another holder steps down at once; one that cannot reach the API server
steps down after `renew_deadline`, before the others may take over at `lease_duration`. On
stop a leader releases the Lease (empty holder), so a standby takes over at its next retry.

The holder advertises where it listens (`autoscaling.kwake.dev/leader-url` on the Lease), so a
standby can forward the stats and pokes gateways send it (Knative's autoscaler forwards stats
to the bucket owner the same way).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

from localkube.client import LEASES, AlreadyExists, ApiClient, Conflict, NotFound, format_micro_time

logger = logging.getLogger(__name__)

LEASE_NAME: Final = "kwake-autoscaler"
# Where the holder receives stats, so standbys can forward what gateways send them.
URL_ANNOTATION: Final = "autoscaling.kwake.dev/leader-url"

Outcome = Literal["leader", "follower", "error"]


@dataclass(frozen=True)
class LeaseTimings:
    """client-go's defaults: 15 s lease, 10 s renew deadline, 2 s retry."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError("need 0 < retry_period < renew_deadline < lease_duration")


def default_identity() -> str:
    """Unique per process: host name, pid and a random suffix (a restarted pod is a new holder)."""
    return f"{socket.gethostname()}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


def _now_micro() -> str:
    return format_micro_time(datetime.datetime.now(datetime.UTC))


class LeaderElector:
    """Campaigns for the Lease until cancelled; `on_change(True/False)` when leadership changes."""

    def __init__(
        self,
        client: ApiClient,
        *,
        namespace: str,
        identity: str,
        on_change: Callable[[bool], None],
        name: str = LEASE_NAME,
        url: str | None = None,
        timings: LeaseTimings = LeaseTimings(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._namespace = namespace
        self._name = name
        self.identity = identity
        self._on_change = on_change
        self._timings = timings
        self._clock = clock
        self.leading = False
        self.url = url
        self.leader_url: str | None = None
        """The current holder's advertised URL (ours while we lead), None when nobody holds it."""
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self._last_renew = 0.0

    async def run(self) -> None:
        try:
            while True:
                outcome = await self.try_acquire_or_renew()
                now = self._clock()
                if outcome == "leader":
                    self._last_renew = now
                    self._set(True)
                elif outcome == "follower" or now - self._last_renew > self._timings.renew_deadline:
                    self._set(False)
                await asyncio.sleep(self._timings.retry_period)
        finally:
            if self.leading:
                self._set(False)
                await self._release()

    def _set(self, leading: bool) -> None:
        if leading != self.leading:
            self.leading = leading
            logger.info(
                "%s %s the lease %s/%s",
                self.identity,
                "acquired" if leading else "lost",
                self._namespace,
                self._name,
            )
            self._on_change(leading)

    async def try_acquire_or_renew(self) -> Outcome:
        """One round: read the Lease and take or renew it if we may."""
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation that
            # arrives as the call completes, and this loop would then never stop.
            async with asyncio.timeout(self._timings.retry_period):
                return await self._round()
        except Exception as err:  # an unreachable server, a timeout: not a crash
            logger.warning("leader election round failed: %s: %s", type(err).__name__, err)
            return "error"

    async def _round(self) -> Outcome:
        now = self._clock()
        try:
            lease = await self._client.get(LEASES, self._name, self._namespace)
        except NotFound:
            if await self._create():
                return "leader"
            # Another candidate created it first: read who, so we know where the leader is now.
            lease = await self._client.get(LEASES, self._name, self._namespace)
        spec = lease.get("spec") or {}
        holder = str(spec.get("holderIdentity") or "")
        record = (holder, spec.get("renewTime"), spec.get("leaseTransitions"))
        if record != self._observed:
            self._observed, self._observed_at = record, now
        duration = float(spec.get("leaseDurationSeconds") or self._timings.lease_duration)
        if holder and holder != self.identity and now < self._observed_at + duration:
            annotations = (lease.get("metadata") or {}).get("annotations") or {}
            self.leader_url = annotations.get(URL_ANNOTATION) or None
            return "follower"
        renew = _now_micro()
        transitions = int(spec.get("leaseTransitions") or 0)
        mine = holder == self.identity
        new_spec = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(self._timings.lease_duration),
            "acquireTime": spec.get("acquireTime") if mine else renew,
            "renewTime": renew,
            "leaseTransitions": transitions if mine else transitions + 1,
        }
        metadata = dict(lease.get("metadata") or {})
        metadata["annotations"] = self._annotations(metadata.get("annotations"))
        try:
            await self._client.replace(
                LEASES, {**lease, "metadata": metadata, "spec": new_spec}, self._namespace
            )
        except Conflict:
            return "follower"  # someone else wrote first; look again next round
        self._observed, self._observed_at = (self.identity, renew, new_spec["leaseTransitions"]), now
        self.leader_url = self.url
        return "leader"

    def _annotations(self, current: Any) -> dict[str, str]:
        annotations = dict(current) if isinstance(current, dict) else {}
        annotations.pop(URL_ANNOTATION, None)
        if self.url:
            annotations[URL_ANNOTATION] = self.url
        return annotations

    async def _create(self) -> bool:
        renew = _now_micro()
        body = {
            "metadata": {
                "name": self._name,
                "namespace": self._namespace,
                "annotations": self._annotations(None),
            },
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": int(self._timings.lease_duration),
                "acquireTime": renew,
                "renewTime": renew,
                "leaseTransitions": 0,
            },
        }
        try:
            await self._client.create(LEASES, body, self._namespace)
        except (AlreadyExists, Conflict):
            return False
        self._observed, self._observed_at = (self.identity, renew, 0), self._clock()
        self.leader_url = self.url
        return True

    async def _release(self) -> None:
        """Hand the Lease back so a standby need not wait out the lease duration."""
        try:
            async with asyncio.timeout(4.0):
                lease = await self._client.get(LEASES, self._name, self._namespace)
                spec = lease.get("spec") or {}
                if spec.get("holderIdentity") != self.identity:
                    return
                released = {
                    **spec,
                    "holderIdentity": "",
                    "leaseDurationSeconds": 1,
                    "renewTime": _now_micro(),
                }
                await self._client.replace(LEASES, {**lease, "spec": released}, self._namespace)
        except Exception as err:
            logger.warning("releasing the lease failed (it expires by itself): %s", err)
