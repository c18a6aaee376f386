"""What the gateway tells the autoscaler, and the seam it tells it through.

Wire format agreed with the autoscaler (it implements the receiving side):

    POST {autoscaler}/stats  {"gateway": "<id>", "timestamp": <unix float>,
                              "stats": [{"namespace": str, "revision": str,
                                         "concurrency": float, "requests": int}]}
    POST {autoscaler}/poke   {"namespace": str, "revision": str}

`concurrency` is the time-weighted average of requests in the gateway for that revision over the
reporting window (about one second), queued ones included; `requests` is how many arrived in it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from activator.routing import RevisionKey


@dataclasses.dataclass(frozen=True)
class RevisionStat:
    revision: RevisionKey
    concurrency: float
    requests: int

    def to_wire(self) -> dict[str, Any]:
        return {
            "namespace": self.revision.namespace,
            "revision": self.revision.name,
            "concurrency": self.concurrency,
            "requests": self.requests,
        }


@dataclasses.dataclass(frozen=True)
class StatsReport:
    gateway: str
    timestamp: float
    stats: tuple[RevisionStat, ...]

    def to_wire(self) -> dict[str, Any]:
        return {
            "gateway": self.gateway,
            "timestamp": self.timestamp,
            "stats": [s.to_wire() for s in self.stats],
        }


def poke_body(revision: RevisionKey) -> dict[str, str]:
    return {"namespace": revision.namespace, "revision": revision.name}


class StatsSink(Protocol):
    """Where stats and pokes go. Implementations must not raise: the data path never waits on them."""

    async def send_stats(self, report: StatsReport) -> None: ...

    async def poke(self, revision: RevisionKey) -> None: ...


class NullStatsSink:
    """For a gateway with no autoscaler (static routes, benchmarks)."""

    async def send_stats(self, report: StatsReport) -> None:
        return None

    async def poke(self, revision: RevisionKey) -> None:
        return None
