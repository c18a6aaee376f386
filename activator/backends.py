"""What the gateway needs to know about a revision: its ready pods and its request settings.

Pods come from the Endpoints object of the revision's Kubernetes Service (its name is the
revision's name): ready addresses only, each paired with every port of its subset. Settings come
from the Revision object; a revision not (yet) seen gets Knative's defaults.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping
from typing import Any

from activator.config import DEFAULT_REVISION_TIMEOUT_S

# Endpoints port names that carry HTTP, preferred when a subset lists several ports.
_HTTP_PORT_NAMES = ("http", "http1", "h2c", "")


@dataclasses.dataclass(frozen=True, order=True)
class PodAddress:
    ip: str
    port: int
    # host:port, as requests and logs name the pod (computed once: used on every request).
    authority: str = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        object.__setattr__(self, "authority", f"{host}:{self.port}")

    @property
    def sort_key(self) -> tuple[int, int, str, int]:
        # Knative sorts pods by IP; numeric order keeps 10.0.0.9 before 10.0.0.10.
        try:
            parsed = ipaddress.ip_address(self.ip)
            return (parsed.version, int(parsed), "", self.port)
        except ValueError:
            return (9, 0, self.ip, self.port)

    def __str__(self) -> str:
        return self.authority


def ready_addresses(endpoints: Mapping[str, Any]) -> tuple[PodAddress, ...]:
    """The ready (ip, port) pairs of an Endpoints object, sorted as Knative sorts pods."""
    found: set[PodAddress] = set()
    for subset in endpoints.get("subsets") or ():
        port = _http_port(subset.get("ports") or ())
        if port is None:
            continue
        for address in subset.get("addresses") or ():
            ip = address.get("ip")
            if ip:
                found.add(PodAddress(str(ip), port))
    return tuple(sorted(found, key=lambda p: p.sort_key))


def _http_port(ports: Any) -> int | None:
    by_name = {str(p.get("name") or ""): int(p["port"]) for p in ports if p.get("port")}
    for name in _HTTP_PORT_NAMES:
        if name in by_name:
            return by_name[name]
    return next(iter(by_name.values()), None)


@dataclasses.dataclass(frozen=True)
class RevisionSettings:
    """The per-revision knobs the data path enforces."""

    container_concurrency: int = 0
    timeout_s: float = DEFAULT_REVISION_TIMEOUT_S
    response_start_timeout_s: float = DEFAULT_REVISION_TIMEOUT_S
    # Longest silence from the pod once the request is sent to it; 0 = none (Knative's default).
    idle_timeout_s: float = 0.0

    @classmethod
    def from_revision(cls, revision: Mapping[str, Any]) -> RevisionSettings:
        spec = revision.get("spec") or {}
        timeout = float(spec.get("timeoutSeconds") or DEFAULT_REVISION_TIMEOUT_S)
        start = spec.get("responseStartTimeoutSeconds")
        idle = spec.get("idleTimeoutSeconds")
        return cls(
            container_concurrency=int(spec.get("containerConcurrency") or 0),
            timeout_s=timeout,
            response_start_timeout_s=min(float(start), timeout) if start else timeout,
            idle_timeout_s=min(float(idle), timeout) if idle else 0.0,
        )
