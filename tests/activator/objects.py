"""Builders for the raw objects the gateway routes by, shaped as the operator writes them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml


def split(revision: str, percent: int, namespace: str = "default") -> dict[str, Any]:
    return {
        "serviceName": revision,
        "serviceNamespace": namespace,
        "servicePort": 80,
        "percent": percent,
        "appendHeaders": {
            "Knative-Serving-Revision": revision,
            "Knative-Serving-Namespace": namespace,
        },
    }


def path(
    splits: Sequence[dict[str, Any]],
    headers: dict[str, str] | None = None,
    append: dict[str, str] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"splits": list(splits)}
    if headers:
        body["headers"] = {k: {"exact": v} for k, v in headers.items()}
    if append:
        body["appendHeaders"] = append
    return body


def ingress(
    name: str,
    hosts: Sequence[str],
    paths: Sequence[dict[str, Any]],
    namespace: str = "default",
    generation: int = 1,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": "networking.internal.knative.dev/v1alpha1",
        "kind": "Ingress",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "generation": generation,
            "labels": {"serving.knative.dev/service": name},
            "annotations": annotations or {},
        },
        "spec": {
            "rules": [{"hosts": list(hosts), "visibility": "ExternalIP", "http": {"paths": list(paths)}}]
        },
    }


def endpoints(
    name: str,
    ports: Sequence[int],
    namespace: str = "default",
    not_ready: Sequence[int] = (),
    ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """One subset per port: under localkube every pod has its own port on 127.0.0.1."""
    subsets: list[dict[str, Any]] = [
        {"addresses": [{"ip": ip}], "ports": [{"name": "http", "port": port}]} for port in ports
    ]
    subsets += [
        {"notReadyAddresses": [{"ip": ip}], "ports": [{"name": "http", "port": p}]} for p in not_ready
    ]
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": name, "namespace": namespace},
        "subsets": subsets,
    }


def revision(
    name: str,
    container_concurrency: int = 0,
    timeout_s: int | None = None,
    response_start_s: int | None = None,
    namespace: str = "default",
    idle_s: int | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"containerConcurrency": container_concurrency, "containers": [{"image": "x"}]}
    if timeout_s is not None:
        spec["timeoutSeconds"] = timeout_s
    if response_start_s is not None:
        spec["responseStartTimeoutSeconds"] = response_start_s
    if idle_s is not None:
        spec["idleTimeoutSeconds"] = idle_s
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Revision",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def routes_file(file: Path, host: str, revision: str, pod_port: int) -> Path:
    """A `--static-routes` file: one KIngress sending `host` to `revision`, served by one pod."""
    name = revision.rsplit("-", 1)[0]
    objects = [ingress(name, [host], [path([split(revision, 100)])]), endpoints(revision, [pod_port])]
    file.write_text(yaml.safe_dump_all(objects))
    return file
