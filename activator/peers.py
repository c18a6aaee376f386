"""Who the other gateway replicas are: this replica's slot, and where each peer says what it serves.

Knative's activators find their own index by looking themselves up in the activator Service's
Endpoints (IP-sorted); a replica not listed there (not ready yet, or draining) does not know its
index and uses every pod. kwake does the same with the Endpoints of the gateway's admin Service
(`kwake-system/kwake-gateway-admin`): its ready addresses are the replicas that take traffic, so
they are exactly the ones that must serve a KIngress generation before it may be called Ready,
and their `admin` port is where each one answers `GET /served`.

Workers of one `kwake gateway --workers N` process are replicas too, with fixed indexes and
admin ports `admin_port + i` on loopback.

Only the replica at index 0 writes KIngress status, so that N replicas do not race N writes; if
it goes away the next one becomes index 0 when Endpoints drop it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from activator.subsetting import ReplicaSlot

ADMIN_PORT_NAME = "admin"


@dataclasses.dataclass(frozen=True)
class Peers:
    """This replica's slot, whether it writes KIngress status, and the other replicas' admin URLs."""

    slot: ReplicaSlot = dataclasses.field(default_factory=ReplicaSlot)
    writes_status: bool = True
    others: tuple[str, ...] = ()
    # Workers of one host: one whose admin port refuses connections is down, and so is its data
    # side (one process), so it takes no traffic and need not serve anything. A pod listed ready
    # in Endpoints that refuses is counted as serving nothing instead.
    refused_means_absent: bool = False


@dataclasses.dataclass(frozen=True)
class StaticPeers:
    """Replica `index` of `count` workers on one host; peers' admin ports follow `admin_port + i`."""

    index: int = 0
    count: int = 1
    admin_port: int | None = None
    admin_host: str = "127.0.0.1"

    def resolve(self, endpoints: Mapping[tuple[str, str], Mapping[str, Any]]) -> Peers:
        others: tuple[str, ...] = ()
        if self.admin_port is not None:
            others = tuple(
                f"http://{self.admin_host}:{self.admin_port + i}"
                for i in range(self.count)
                if i != self.index
            )
        return Peers(ReplicaSlot(self.index, self.count), self.index == 0, others, refused_means_absent=True)


@dataclasses.dataclass(frozen=True)
class EndpointsPeers:
    """Replicas are the ready addresses of one Endpoints object; this one is `own_ip` among them
    (times `workers` processes per address, this being worker `worker`)."""

    namespace: str
    name: str
    own_ip: str
    port_name: str = ADMIN_PORT_NAME
    worker: int = 0
    workers: int = 1

    def resolve(self, endpoints: Mapping[tuple[str, str], Mapping[str, Any]]) -> Peers:
        listed = endpoints.get((self.namespace, self.name))
        if listed is None:
            # No such Endpoints at all (the admin Service was left out of the install): rather
            # than never marking anything Ready, this pod's workers act as the only replicas.
            return StaticPeers(self.worker, self.workers).resolve(endpoints)
        return peers_from_endpoints(listed, self.own_ip, self.port_name, self.worker, self.workers)


def peers_from_endpoints(
    endpoints: Mapping[str, Any] | None, own_ip: str, port_name: str, worker: int = 0, workers: int = 1
) -> Peers:
    """The replicas listed ready in `endpoints`; not listed means index -1 and no status writing.

    With several workers per address, address i's worker j is replica i * workers + j, and its
    admin port is the listed one + j (as `kwake gateway --workers` assigns them)."""
    addresses: dict[str, int | None] = {}
    for subset in (endpoints or {}).get("subsets") or []:
        ports = subset.get("ports") or []
        port = next((p.get("port") for p in ports if p.get("name") == port_name), None)
        if port is None and len(ports) == 1:
            port = ports[0].get("port")
        for address in subset.get("addresses") or []:
            ip = address.get("ip")
            if ip:
                addresses[str(ip)] = int(port) if port else None
    ordered = sorted(addresses, key=_ip_sort_key)
    count = max(1, len(ordered)) * workers
    if own_ip not in addresses:
        return Peers(ReplicaSlot(-1, count), False, ())
    index = ordered.index(own_ip) * workers + worker
    others = tuple(
        f"http://{_host(ip)}:{port + j}"
        for ip in ordered
        if (port := addresses[ip]) is not None
        for j in range(workers)
        if (ip, j) != (own_ip, worker)
    )
    return Peers(ReplicaSlot(index, count), index == 0, others)


def _ip_sort_key(ip: str) -> tuple[int, tuple[int, ...], str]:
    """IPv4 by number (10.0.0.9 before 10.0.0.10), anything else after, as text."""
    parts = ip.split(".")
    if len(parts) == 4 and all(part.isdigit() for part in parts):
        return (0, tuple(int(part) for part in parts), "")
    return (1, (), ip)


def _host(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip
