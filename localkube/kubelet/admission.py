"""Pod admission: every pod gets its own free port on 127.0.0.1.

Pods here share one network namespace, so two replicas cannot both listen on 8080. At admission
each declared containerPort is replaced by a free port (the serving container, the first that
declares a port, gets one named `http` if it declares none), its PORT variable is set to it, and
probes and hooks that named the old number follow. A Service's named targetPort then resolves
per pod exactly as in Kubernetes. The old -> new mapping is kept in an annotation, so that a
numeric targetPort can be resolved too, and so a pod is never remapped twice.
"""

from __future__ import annotations

import base64
import copy
import json
import random
import socket
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

PORTS_ANNOTATION = "kubelet.localkube.io/ports"
RECENT_PORTS = 4096


def _escape(token: str) -> str:
    """A JSON Pointer reference token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range for outgoing connections' local ports."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


class PortAllocator:
    """Hands out free loopback ports for pods, never one handed out recently.

    Ports come from below the kernel's ephemeral range, so an outgoing connection cannot take a
    pod's port between admission and the moment the pod listens (the OS's own pick, bind to 0,
    would come from that range). A port is free if it can be bound now; a port handed out
    recently is skipped, since its pod may not be listening yet.
    """

    def __init__(self, low: int = 20000, high: int | None = None) -> None:
        self._recent: OrderedDict[int, None] = OrderedDict()
        ephemeral_low, _ = ephemeral_range()
        self._low = low
        self._high = high if high is not None else ephemeral_low - 1
        self._random = random.Random()

    def reserve(self, ports: list[int]) -> None:
        """Never hand out these ports (those of pods that exist already) for a while."""
        for port in ports:
            self._recent[port] = None
            self._recent.move_to_end(port)

    def _bindable(self, port: int) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
        return True

    def allocate(self) -> int:
        port = 0
        if self._high - self._low >= 1000:
            for _ in range(64):
                candidate = self._random.randint(self._low, self._high)
                if candidate not in self._recent and self._bindable(candidate):
                    port = candidate
                    break
        while not port:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind(("127.0.0.1", 0))
                candidate = int(sock.getsockname()[1])
            if candidate not in self._recent:
                port = candidate
        self._recent[port] = None
        while len(self._recent) > RECENT_PORTS:
            self._recent.popitem(last=False)
        return port


def pod_ports(pod: dict[str, Any]) -> list[int]:
    """Every containerPort the pod declares, and its serving container's PORT."""
    ports = []
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if isinstance(port.get("containerPort"), int):
                ports.append(int(port["containerPort"]))
        for entry in container.get("env") or []:
            if entry.get("name") == "PORT" and str(entry.get("value") or "").isdigit():
                ports.append(int(entry["value"]))
    return ports


def serving_container_index(containers: list[dict[str, Any]]) -> int:
    for index, container in enumerate(containers):
        if container.get("ports"):
            return index
    return 0


def _remap_action(
    action: dict[str, Any], mapping: dict[int, int], pointer: str, ops: list[dict[str, Any]]
) -> None:
    for kind in ("httpGet", "tcpSocket"):
        target = action.get(kind)
        if not isinstance(target, dict):
            continue
        port = target.get("port")
        number = int(port) if isinstance(port, int) or (isinstance(port, str) and port.isdigit()) else None
        if number is not None and number in mapping:
            ops.append({"op": "replace", "path": f"{pointer}/{kind}/port", "value": mapping[number]})


def port_patch(pod: dict[str, Any], allocate: Callable[[], int]) -> list[dict[str, Any]]:
    """The JSON Patch that gives `pod` its own ports; empty if it already has them."""
    meta = pod.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    containers = list((pod.get("spec") or {}).get("containers") or [])
    if PORTS_ANNOTATION in annotations or not containers:
        return []
    ops: list[dict[str, Any]] = []
    mapping: dict[int, int] = {}
    serving = serving_container_index(containers)
    serving_port: int | None = None
    for c_index, container in enumerate(containers):
        for p_index, port in enumerate(container.get("ports") or []):
            old = port.get("containerPort")
            new = mapping[int(old)] if old is not None and int(old) in mapping else allocate()
            if old is not None:
                mapping[int(old)] = new
            ops.append(
                {
                    "op": "replace",
                    "path": f"/spec/containers/{c_index}/ports/{p_index}/containerPort",
                    "value": new,
                }
            )
            if c_index == serving and serving_port is None:
                serving_port = new
    if serving_port is None:
        serving_port = allocate()
        ops.append(
            {
                "op": "add",
                "path": f"/spec/containers/{serving}/ports",
                "value": [{"name": "http", "containerPort": serving_port, "protocol": "TCP"}],
            }
        )
    env = list(containers[serving].get("env") or [])
    port_var = {"name": "PORT", "value": str(serving_port)}
    existing = next((i for i, entry in enumerate(env) if entry.get("name") == "PORT"), None)
    if existing is not None:
        ops.append({"op": "replace", "path": f"/spec/containers/{serving}/env/{existing}", "value": port_var})
    elif env:
        ops.append({"op": "add", "path": f"/spec/containers/{serving}/env/-", "value": port_var})
    else:
        ops.append({"op": "add", "path": f"/spec/containers/{serving}/env", "value": [port_var]})
    for c_index, container in enumerate(containers):
        base = f"/spec/containers/{c_index}"
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            if isinstance(container.get(probe), dict):
                _remap_action(container[probe], mapping, f"{base}/{probe}", ops)
        lifecycle = container.get("lifecycle") or {}
        for hook in ("preStop", "postStart"):
            if isinstance(lifecycle.get(hook), dict):
                _remap_action(lifecycle[hook], mapping, f"{base}/lifecycle/{hook}", ops)
    record = json.dumps({str(old): new for old, new in mapping.items()} | {"PORT": serving_port})
    if "annotations" in meta and isinstance(meta["annotations"], dict):
        ops.append(
            {"op": "add", "path": f"/metadata/annotations/{_escape(PORTS_ANNOTATION)}", "value": record}
        )
    else:
        ops.append({"op": "add", "path": "/metadata/annotations", "value": {PORTS_ANNOTATION: record}})
    return ops


def review_response(review: dict[str, Any], allocate: Callable[[], int]) -> dict[str, Any]:
    """The AdmissionReview v1 answer to a review of a pod CREATE."""
    request = review.get("request") or {}
    response: dict[str, Any] = {"uid": request.get("uid", ""), "allowed": True}
    resource = request.get("resource") or {}
    if (
        request.get("operation") == "CREATE"
        and resource.get("resource") == "pods"
        and not request.get("subResource")
        and isinstance(request.get("object"), dict)
    ):
        ops = port_patch(request["object"], allocate)
        if ops:
            response["patchType"] = "JSONPatch"
            response["patch"] = base64.b64encode(json.dumps(ops).encode()).decode()
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}


def unadmitted_port_env(pod: dict[str, Any], allocate: Callable[[], int]) -> dict[str, Any]:
    """For a pod that never went through the webhook: a copy whose serving container has PORT.

    Its declared port is kept (the API knows no other), so PORT is that port, or a fresh one if
    the container declares none and sets no PORT itself.
    """
    body: dict[str, Any] = copy.deepcopy(pod)
    containers = (body.get("spec") or {}).get("containers") or []
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    if not containers or PORTS_ANNOTATION in annotations:
        return body
    serving = containers[serving_container_index(containers)]
    env = serving.setdefault("env", [])
    if any(entry.get("name") == "PORT" for entry in env):
        return body
    ports = serving.get("ports") or []
    port = int(ports[0]["containerPort"]) if ports and ports[0].get("containerPort") else allocate()
    env.append({"name": "PORT", "value": str(port)})
    return body
