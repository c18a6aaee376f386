"""The EndpointSlices a Service should have, from its pods: pure functions, no I/O.

As kube's EndpointSlice controller, for a Service with a selector: one slice per distinct set of
resolved ports (ports are per slice, and every localkube pod has its own port), labelled
`kubernetes.io/service-name` and managed-by the endpointslice controller, owned by the Service.
Unlike Endpoints, a terminating pod stays listed with `terminating: true` and `ready: false`
until it is gone, so consumers can drain it. A Service with no endpoints keeps one empty slice.
Slice names are `{service}-{hash of the port set}`, so a slice is never created twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from localkube.controllers import pods as podutil
from localkube.controllers.endpoints_plan import resolve_target_port, selector_of, selects

Obj = dict[str, Any]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"

PortKey = tuple[tuple[str, int, str], ...]


def _port_key(ports: Sequence[Mapping[str, Any]]) -> PortKey:
    return tuple(
        sorted(
            (str(p.get("name") or ""), int(p.get("port") or 0), str(p.get("protocol") or "TCP"))
            for p in ports
        )
    )


def slice_name(service_name: str, ports: Sequence[Mapping[str, Any]]) -> str:
    digest = hashlib.sha256(json.dumps(_port_key(ports)).encode()).hexdigest()[:8]
    return f"{service_name[:240]}-{digest}"


def _endpoint(pod: Mapping[str, Any], publish_not_ready: bool) -> Obj:
    meta = podutil.meta(pod)
    terminating = podutil.is_terminating(pod)
    serving = podutil.is_ready(pod) or publish_not_ready
    endpoint: Obj = {
        "addresses": [str((pod.get("status") or {}).get("podIP"))],
        "conditions": {"ready": serving and not terminating, "serving": serving, "terminating": terminating},
        "targetRef": {
            "kind": "Pod",
            "namespace": str(meta.get("namespace") or ""),
            "name": str(meta.get("name") or ""),
            "uid": str(meta.get("uid") or ""),
        },
    }
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        endpoint["nodeName"] = node
    return endpoint


def desired_slices(service: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> list[Obj]:
    """Whole EndpointSlice objects for the Service (empty list when it has no selector)."""
    selector = selector_of(service)
    if selector is None:
        return []
    spec = service.get("spec") or {}
    publish_not_ready = bool(spec.get("publishNotReadyAddresses"))
    service_ports = [p for p in spec.get("ports") or [] if isinstance(p, Mapping)]
    by_ports: dict[PortKey, tuple[list[Obj], list[Obj]]] = {}
    for pod in pods:
        status = pod.get("status") or {}
        if (
            not selects(selector, pod)
            or not status.get("podIP")
            or status.get("phase") in podutil.TERMINAL_PHASES
        ):
            continue
        ports: list[Obj] = []
        for service_port in service_ports:
            number = resolve_target_port(service_port, pod)
            if number is None:
                continue
            port: Obj = {"name": str(service_port.get("name") or ""), "port": number}
            port["protocol"] = str(service_port.get("protocol") or "TCP")
            if service_port.get("appProtocol"):
                port["appProtocol"] = service_port["appProtocol"]
            ports.append(port)
        if service_ports and not ports:
            continue
        key = _port_key(ports)
        entry = by_ports.setdefault(key, (sorted(ports, key=lambda p: _port_key([p])), []))
        entry[1].append(_endpoint(pod, publish_not_ready))
    if not by_ports:
        by_ports[()] = ([], [])  # kube keeps one empty placeholder slice
    return [
        slice_body(service, ports, sorted(endpoints, key=lambda e: e["targetRef"]["name"]))
        for _, (ports, endpoints) in sorted(by_ports.items())
    ]


def slice_body(service: Mapping[str, Any], ports: list[Obj], endpoints: list[Obj]) -> Obj:
    meta = podutil.meta(service)
    name = str(meta.get("name") or "")
    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    labels.update({SERVICE_NAME_LABEL: name, MANAGED_BY_LABEL: MANAGED_BY})
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": slice_name(name, ports),
            "namespace": meta.get("namespace"),
            "labels": labels,
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "name": name,
                    "uid": meta.get("uid"),
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": ports,
    }


def slice_patch(current: Mapping[str, Any], desired: Mapping[str, Any]) -> Obj | None:
    """A merge patch bringing `current` to `desired` (endpoints, ports, labels), or None."""
    patch: Obj = {}
    for field in ("endpoints", "ports"):
        if (current.get(field) or []) != desired[field]:
            patch[field] = desired[field]
    labels = podutil.meta(current).get("labels") or {}
    wanted = desired["metadata"]["labels"]
    label_patch: dict[str, str | None] = {k: None for k in labels if k not in wanted}
    label_patch.update({k: v for k, v in wanted.items() if labels.get(k) != v})
    if label_patch:
        patch["metadata"] = {"labels": label_patch}
    return patch or None
