"""The real kopf against localkube: handlers, finalizers, status, adopted children, no stalls.

kopf waits up to 5 s after each of its patches for the watch event carrying that patch's
resourceVersion; a server that gets this wrong costs 5 s per step, which these tests would see.
"""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import kopf
import pytest
import yaml

from localkube.server.runner import ThreadedApiServer
from tests.conftest import Kubectl
from tests.localkube.apihttp import WIDGET_CRD

STEP_SECONDS = 4.0  # well under kopf's 5 s consistency timeout


@dataclass
class Seen:
    created: list[str] = field(default_factory=list)
    updated: list[Any] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


@dataclass
class RunningOperator:
    seen: Seen
    stop: threading.Event
    thread: threading.Thread


def _connection(server: ThreadedApiServer) -> kopf.ConnectionInfo:
    config = yaml.safe_load(server.kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    return kopf.ConnectionInfo(
        server=cluster["server"],
        ca_data=base64.b64decode(cluster["certificate-authority-data"]),
        token=config["users"][0]["user"]["token"],
        default_namespace="default",
    )


@pytest.fixture
def operator(apiserver: ThreadedApiServer, kubectl: Kubectl) -> Iterator[RunningOperator]:
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump(WIDGET_CRD))
    registry = kopf.OperatorRegistry()
    seen = Seen()

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return _connection(apiserver)

    @kopf.on.create("example.com", "v1", "widgets", registry=registry, id="create")
    def create(name: str, body: kopf.Body, **_: Any) -> dict[str, str]:
        child = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{name}-child"},
            "data": {"x": "1"},
        }
        kopf.adopt(child, owner=body)
        kopf.label(child, {"made-by": "kopf"})
        from kubernetes import client as k8s_client  # noqa: PLC0415 (only this handler needs it)
        from kubernetes import config as k8s_config  # noqa: PLC0415

        configuration = k8s_client.Configuration()
        k8s_config.load_kube_config(config_file=str(apiserver.kubeconfig), client_configuration=configuration)
        api = k8s_client.ApiClient(configuration)
        try:
            k8s_client.CoreV1Api(api).create_namespaced_config_map("default", child)  # type: ignore[arg-type]
        finally:
            api.rest_client.pool_manager.clear()
            api.close()
        seen.created.append(name)
        return {"phase": "Created"}

    @kopf.on.update("example.com", "v1", "widgets", registry=registry)
    def update(diff: Any, **_: Any) -> None:
        seen.updated.append(list(diff))

    @kopf.on.delete("example.com", "v1", "widgets", registry=registry)
    def delete(name: str, **_: Any) -> None:
        seen.deleted.append(name)

    stop = threading.Event()

    def run() -> None:
        settings = kopf.OperatorSettings()
        settings.posting.enabled = False
        asyncio.run(
            kopf.operator(
                registry=registry, settings=settings, standalone=True, clusterwide=True, stop_flag=stop
            )
        )

    thread = threading.Thread(target=run, name="kopf-operator", daemon=True)
    thread.start()
    try:
        yield RunningOperator(seen, stop, thread)
    finally:
        stop.set()
        thread.join(timeout=30)


def _within(seconds: float, check: Callable[[], bool]) -> float:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if check():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"not done within {seconds} s")


def _json(kubectl: Kubectl, *args: str) -> Any:
    return yaml.safe_load(kubectl.run("get", *args, "-o", "json").stdout)


def test_kopf_create_update_delete_with_finalizer_status_and_children(
    operator: RunningOperator, kubectl: Kubectl
) -> None:
    kubectl.run(
        "apply",
        "-f",
        "-",
        input="apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 1}\n",
    )

    def created() -> bool:
        widget = _json(kubectl, "widget", "w1")
        return (
            bool(operator.seen.created)
            and (widget.get("status") or {}).get("create", {}).get("phase") == "Created"
        )

    _within(STEP_SECONDS + 2, created)  # the first step also covers kopf's own start-up
    widget = _json(kubectl, "widget", "w1")
    assert widget["metadata"]["finalizers"] == ["kopf.zalando.org/KopfFinalizerMarker"]
    child = _json(kubectl, "cm", "w1-child")
    assert child["metadata"]["ownerReferences"][0]["uid"] == widget["metadata"]["uid"]

    kubectl.run("patch", "widget", "w1", "--type=merge", "-p", '{"spec":{"size":2}}')
    _within(STEP_SECONDS, lambda: bool(operator.seen.updated))
    assert operator.seen.updated[0][0][1] == ("spec", "size")

    kubectl.run("delete", "widget", "w1", "--wait=false")
    _within(STEP_SECONDS, lambda: kubectl.run("get", "widget", "w1", check=False).returncode != 0)
    assert operator.seen.deleted == ["w1"]
    _within(STEP_SECONDS, lambda: kubectl.run("get", "cm", "w1-child", check=False).returncode != 0)
