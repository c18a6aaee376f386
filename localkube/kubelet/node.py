"""The Node this kubelet registers, its status, and its Lease heartbeat (builders are pure)."""

from __future__ import annotations

import os
import platform
from typing import Any

from localkube.kubelet import clock as clocks

KUBELET_VERSION = "v1.32.0-localkube"
LEASE_NAMESPACE = "kube-node-lease"
LEASE_SECONDS = 40
HEARTBEAT_SECONDS = 10.0
ADDRESS = "127.0.0.1"


def _arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def node_object(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": _arch(),
                "node.kubernetes.io/instance-type": "localkube-process",
            },
        },
        "spec": {},
    }


def _condition(kind: str, ok: bool, reason: str, message: str, now: str, since: str) -> dict[str, Any]:
    return {
        "type": kind,
        "status": "True" if ok else "False",
        "reason": reason,
        "message": message,
        "lastHeartbeatTime": now,
        "lastTransitionTime": since,
    }


def node_status(
    name: str, kubelet_port: int, now: str, *, ready: bool = True, since: str = ""
) -> dict[str, Any]:
    """The status a kubelet posts: Ready, addresses, where its HTTPS endpoint is, capacity.

    `since` is when the conditions took their values (the kubelet's start, or its stop).
    """
    since = since or now
    cpus = str(os.cpu_count() or 1)
    memory = f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') // 1024}Ki"
    resources = {"cpu": cpus, "memory": memory, "pods": "1000", "ephemeral-storage": "0"}
    return {
        "conditions": [
            _condition(
                "MemoryPressure",
                False,
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory",
                now,
                since,
            ),
            _condition(
                "DiskPressure", False, "KubeletHasNoDiskPressure", "kubelet has no disk pressure", now, since
            ),
            _condition(
                "PIDPressure",
                False,
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
                now,
                since,
            ),
            _condition(
                "Ready",
                ready,
                "KubeletReady" if ready else "KubeletNotReady",
                "kubelet is posting ready status" if ready else "kubelet stopped",
                now,
                since,
            ),
        ],
        "addresses": [{"type": "InternalIP", "address": ADDRESS}, {"type": "Hostname", "address": name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
        "capacity": resources,
        "allocatable": resources,
        "nodeInfo": {
            "machineID": "",
            "systemUUID": "",
            "bootID": "",
            "kernelVersion": platform.release(),
            "osImage": "localkube (pods run as local processes)",
            "containerRuntimeVersion": "process://1",
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": _arch(),
        },
    }


def lease_object(node_name: str, node_uid: str, now_micro: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": node_name, "namespace": LEASE_NAMESPACE}
    if node_uid:
        metadata["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "Node", "name": node_name, "uid": node_uid}
        ]
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": {"holderIdentity": node_name, "leaseDurationSeconds": LEASE_SECONDS, "renewTime": now_micro},
    }


def micro_time(clock: clocks.Clock) -> str:
    """metav1.MicroTime, as Leases carry it."""
    return clock.wall().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
