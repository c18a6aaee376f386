"""The Endpoints object a Service should have, from its pods: pure functions, no I/O.

As kube's endpoints controller: pods selected by the Service (same namespace, labels match the
selector), with an IP, not terminal and not being deleted; ready pods (or all, with
publishNotReadyAddresses) under `addresses`, others under `notReadyAddresses`. Each Service
port's targetPort is resolved per pod (a number, or a name looked up in the pod's container
ports); a pod where a name does not resolve is left out for that port. Addresses with the same
set of ports share a subset (kube's RepackSubsets), keyed by IP *and* pod uid, since every
localkube pod has the IP 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from localkube.controllers import pods as podutil

Obj = dict[str, Any]

_TOLERATE_UNREADY = "service.alpha.kubernetes.io/tolerate-unready-endpoints"


def selector_of(service: Mapping[str, Any]) -> dict[str, str] | None:
    """The Service's selector, or None when it has none (its Endpoints are managed by hand)."""
    selector = (service.get("spec") or {}).get("selector")
    if not isinstance(selector, Mapping) or not selector:
        return None
    return {str(k): str(v) for k, v in selector.items()}


def selects(selector: Mapping[str, str], pod: Mapping[str, Any]) -> bool:
    labels = podutil.meta(pod).get("labels") or {}
    return all(labels.get(k) == v for k, v in selector.items())


def _eligible(pod: Mapping[str, Any]) -> bool:
    status = pod.get("status") or {}
    if podutil.is_terminating(pod) or not status.get("podIP"):
        return False
    return status.get("phase") not in podutil.TERMINAL_PHASES


def resolve_target_port(service_port: Mapping[str, Any], pod: Mapping[str, Any]) -> int | None:
    """The pod's port for one Service port: numeric targetPort, or the named container port."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str):
        if target.isdigit():
            return int(target)
        protocol = service_port.get("protocol") or "TCP"
        for container in (pod.get("spec") or {}).get("containers") or []:
            for port in container.get("ports") or []:
                if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                    number = port.get("containerPort")
                    return int(number) if number is not None else None
    return None


def _address(pod: Mapping[str, Any], service_name: str) -> Obj:
    meta = podutil.meta(pod)
    spec = pod.get("spec") or {}
    address: Obj = {
        "ip": str((pod.get("status") or {}).get("podIP")),
        "targetRef": {
            "kind": "Pod",
            "namespace": str(meta.get("namespace") or ""),
            "name": str(meta.get("name") or ""),
            "uid": str(meta.get("uid") or ""),
        },
    }
    if spec.get("nodeName"):
        address["nodeName"] = spec["nodeName"]
    if spec.get("hostname") and spec.get("subdomain") == service_name:
        address["hostname"] = spec["hostname"]
    return address


def _port_key(port: Mapping[str, Any]) -> tuple[str, int, str]:
    return (str(port.get("name") or ""), int(port.get("port") or 0), str(port.get("protocol") or "TCP"))


def _address_key(address: Mapping[str, Any]) -> tuple[str, str, str]:
    ref = address.get("targetRef") or {}
    return (str(address.get("ip")), str(ref.get("name") or ""), str(ref.get("uid") or ""))


def desired_subsets(service: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> list[Obj]:
    """The `subsets` of the Service's Endpoints (sorted, so equal inputs give equal output)."""
    selector = selector_of(service)
    if selector is None:
        return []
    spec = service.get("spec") or {}
    name = str(podutil.meta(service).get("name") or "")
    annotations = podutil.meta(service).get("annotations") or {}
    publish_not_ready = bool(spec.get("publishNotReadyAddresses")) or (
        str(annotations.get(_TOLERATE_UNREADY, "")).lower() == "true"
    )
    service_ports = [p for p in spec.get("ports") or [] if isinstance(p, Mapping)]
    # (ports of the pod, ready?) -> addresses; kube groups addresses with identical port sets.
    groups: dict[tuple[tuple[tuple[str, int, str], ...], bool], list[Obj]] = {}
    ports_by_key: dict[tuple[str, int, str], Obj] = {}
    for pod in pods:
        if not selects(selector, pod) or not _eligible(pod):
            continue
        ready = publish_not_ready or podutil.is_ready(pod)
        resolved: list[Obj] = []
        for service_port in service_ports:
            number = resolve_target_port(service_port, pod)
            if number is None:
                continue
            endpoint_port: Obj = {"port": number, "protocol": str(service_port.get("protocol") or "TCP")}
            if service_port.get("name"):
                endpoint_port["name"] = service_port["name"]
            if service_port.get("appProtocol"):
                endpoint_port["appProtocol"] = service_port["appProtocol"]
            resolved.append(endpoint_port)
        if service_ports and not resolved:
            continue  # no port resolves on this pod: it cannot serve the Service
        keys = tuple(sorted({_port_key(p) for p in resolved}))
        for port in resolved:
            ports_by_key[_port_key(port)] = port
        groups.setdefault((keys, ready), []).append(_address(pod, name))
    by_ports: dict[tuple[tuple[str, int, str], ...], Obj] = {}
    for (keys, ready), addresses in groups.items():
        subset = by_ports.setdefault(keys, {})
        field = "addresses" if ready else "notReadyAddresses"
        subset[field] = sorted(addresses, key=_address_key)
    subsets: list[Obj] = []
    for keys in sorted(by_ports):
        subset = by_ports[keys]
        if keys:
            subset["ports"] = [ports_by_key[k] for k in keys]
        ordered: Obj = {}
        for field in ("addresses", "notReadyAddresses", "ports"):
            if field in subset:
                ordered[field] = subset[field]
        subsets.append(ordered)
    return subsets


def desired_labels(service: Mapping[str, Any]) -> dict[str, str]:
    """The Service's labels, plus kube's headless marker for a headless Service."""
    labels = {str(k): str(v) for k, v in (podutil.meta(service).get("labels") or {}).items()}
    if (service.get("spec") or {}).get("clusterIP") == "None":
        labels["service.kubernetes.io/headless"] = ""
    return labels


def endpoints_body(service: Mapping[str, Any], subsets: list[Obj]) -> Obj:
    """A whole Endpoints object for the Service (for create)."""
    meta = podutil.meta(service)
    body: Obj = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "labels": desired_labels(service),
        },
    }
    if subsets:
        body["subsets"] = subsets
    return body


def endpoints_patch(current: Mapping[str, Any], service: Mapping[str, Any], subsets: list[Obj]) -> Obj | None:
    """A merge patch bringing `current` Endpoints to the desired state, or None if it is there."""
    patch: Obj = {}
    if (current.get("subsets") or []) != subsets:
        patch["subsets"] = subsets
    labels = podutil.meta(current).get("labels") or {}
    wanted = desired_labels(service)
    label_patch: dict[str, str | None] = {k: None for k in labels if k not in wanted}
    label_patch.update({k: v for k, v in wanted.items() if labels.get(k) != v})
    if label_patch:
        patch["metadata"] = {"labels": label_patch}
    return patch or None
