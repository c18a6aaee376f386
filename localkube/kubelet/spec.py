"""Typed views of the parts of a pod spec the kubelet acts on, built from the raw API dicts.

Defaults are Kubernetes' (probe period 10 s, timeout 1 s, thresholds 1 and 3, grace 30 s), except
that a readiness probe whose periodSeconds is 0, absent or 1 (kube's minimum, "as often as
allowed") is polled aggressively until it succeeds, as Knative's queue-proxy does, so a pod turns
Ready within tens of milliseconds of its port answering.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_GRACE_SECONDS = 30.0


@dataclass(frozen=True)
class HttpGet:
    path: str
    port: int | str
    host: str
    scheme: str
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class TcpSocket:
    port: int | str
    host: str


@dataclass(frozen=True)
class Exec:
    command: tuple[str, ...]


Action = HttpGet | TcpSocket | Exec


def action_from_body(body: dict[str, Any]) -> Action | None:
    """The handler of a probe or lifecycle hook, or None if it has none we can run."""
    if "httpGet" in body:
        get = body["httpGet"] or {}
        headers = tuple((str(h["name"]), str(h.get("value", ""))) for h in get.get("httpHeaders") or [])
        return HttpGet(
            path=str(get.get("path") or "/"),
            port=get.get("port") or 0,
            host=str(get.get("host") or ""),
            scheme=str(get.get("scheme") or "HTTP").upper(),
            headers=headers,
        )
    if "tcpSocket" in body:
        tcp = body["tcpSocket"] or {}
        return TcpSocket(port=tcp.get("port") or 0, host=str(tcp.get("host") or ""))
    if "exec" in body:
        return Exec(command=tuple(str(c) for c in (body["exec"] or {}).get("command") or []))
    return None


@dataclass(frozen=True)
class Probe:
    action: Action
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3
    aggressive: bool = False

    @classmethod
    def from_body(cls, body: dict[str, Any] | None, *, readiness: bool = False) -> Probe | None:
        if not body:
            return None
        action = action_from_body(body)
        if action is None:
            return None
        period = float(body.get("periodSeconds") or 0)
        return cls(
            action=action,
            initial_delay=float(body.get("initialDelaySeconds") or 0),
            period=period or 10.0,
            timeout=float(body.get("timeoutSeconds") or 1),
            success_threshold=int(body.get("successThreshold") or 1),
            failure_threshold=int(body.get("failureThreshold") or 3),
            aggressive=readiness and period <= 1,
        )


@dataclass(frozen=True)
class Port:
    name: str
    container_port: int


@dataclass(frozen=True)
class Container:
    name: str
    image: str
    command: tuple[str, ...]
    args: tuple[str, ...]
    working_dir: str
    env: tuple[dict[str, Any], ...]
    ports: tuple[Port, ...]
    readiness: Probe | None
    liveness: Probe | None
    startup: Probe | None
    pre_stop: Action | None
    post_start: Action | None
    logs_on_error: bool

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Container:
        lifecycle = body.get("lifecycle") or {}
        pre_stop = lifecycle.get("preStop")
        post_start = lifecycle.get("postStart")
        return cls(
            name=str(body["name"]),
            image=str(body.get("image") or ""),
            command=tuple(str(c) for c in body.get("command") or []),
            args=tuple(str(a) for a in body.get("args") or []),
            working_dir=str(body.get("workingDir") or ""),
            env=tuple(body.get("env") or []),
            ports=tuple(
                Port(name=str(p.get("name") or ""), container_port=int(p["containerPort"]))
                for p in body.get("ports") or []
                if p.get("containerPort") is not None
            ),
            readiness=Probe.from_body(body.get("readinessProbe"), readiness=True),
            liveness=Probe.from_body(body.get("livenessProbe")),
            startup=Probe.from_body(body.get("startupProbe")),
            pre_stop=action_from_body(pre_stop) if pre_stop else None,
            post_start=action_from_body(post_start) if post_start else None,
            logs_on_error=body.get("terminationMessagePolicy") == "FallbackToLogsOnError",
        )

    def resolve_port(self, port: int | str) -> int | None:
        """A probe's port: a number, a numeric string, or the name of one of our ports.

        0 (or nothing), which Kubernetes would reject, means the container's first port, as a
        Knative user probe without a port means the user port.
        """
        if port in (0, "0", "") and self.ports:
            return self.ports[0].container_port
        if isinstance(port, int):
            return port
        if port.isdigit():
            return int(port)
        for declared in self.ports:
            if declared.name == port:
                return declared.container_port
        return None


@dataclass(frozen=True)
class PodIdentity:
    namespace: str
    name: str
    uid: str

    @property
    def key(self) -> str:
        """The pod's directory name under the state dir, as kubelet names it."""
        return f"{self.namespace}_{self.name}_{self.uid}"


@dataclass(frozen=True)
class Pod:
    identity: PodIdentity
    containers: tuple[Container, ...]
    restart_policy: str
    grace_seconds: float
    body: dict[str, Any] = field(compare=False, repr=False)

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Pod:
        meta = body.get("metadata") or {}
        spec = body.get("spec") or {}
        grace = spec.get("terminationGracePeriodSeconds")
        return cls(
            identity=PodIdentity(
                namespace=str(meta.get("namespace") or "default"),
                name=str(meta.get("name") or ""),
                uid=str(meta.get("uid") or ""),
            ),
            containers=tuple(Container.from_body(c) for c in spec.get("containers") or []),
            restart_policy=str(spec.get("restartPolicy") or "Always"),
            grace_seconds=DEFAULT_GRACE_SECONDS if grace is None else float(grace),
            body=body,
        )
