"""The shared client against localkube's real API server (HTTPS, bearer token, kubeconfig)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
from collections.abc import AsyncIterator
from typing import Any

import pytest

from localkube.client import (
    CONFIGMAPS,
    DEPLOYMENTS,
    EVENTS,
    PODS,
    AlreadyExists,
    ApiClient,
    Conflict,
    EventRecorder,
    Informer,
    Invalid,
    NotFound,
    load_connection,
)
from localkube.server.runner import ThreadedApiServer

Obj = dict[str, Any]


@pytest.fixture
async def client(apiserver: ThreadedApiServer) -> AsyncIterator[ApiClient]:
    async with ApiClient(load_connection(apiserver.kubeconfig, environ={})) as api:
        yield api


def deployment(name: str, replicas: int = 1) -> Obj:
    labels = {"app": name}
    container = {"name": "app", "image": "x", "command": ["sleep", "1"]}
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


async def test_kubeconfig_connection_with_tls_and_token(client: ApiClient) -> None:
    version = await client.version()
    assert version["major"] == "1"
    assert client.connection.server.startswith("https://127.0.0.1:")
    assert client.default_namespace == "default"


async def test_crud_and_typed_errors(client: ApiClient) -> None:
    created = await client.create(CONFIGMAPS, {"metadata": {"name": "a"}, "data": {"x": "1"}})
    assert created["metadata"]["namespace"] == "default"
    with pytest.raises(AlreadyExists):
        await client.create(CONFIGMAPS, {"metadata": {"name": "a"}})
    merged = await client.patch(CONFIGMAPS, "a", {"data": {"y": "2"}})
    assert merged["data"] == {"x": "1", "y": "2"}
    ops = [{"op": "test", "path": "/data/x", "value": "1"}, {"op": "remove", "path": "/data/x"}]
    assert (await client.patch(CONFIGMAPS, "a", ops, patch_type="json"))["data"] == {"y": "2"}
    with pytest.raises(Invalid):
        await client.patch(
            CONFIGMAPS, "a", [{"op": "test", "path": "/data/y", "value": "no"}], patch_type="json"
        )
    stale = {**created, "data": {"z": "3"}}
    with pytest.raises(Conflict):
        await client.replace(CONFIGMAPS, stale)
    await client.delete(CONFIGMAPS, "a")
    with pytest.raises(NotFound) as missing:
        await client.get(CONFIGMAPS, "a")
    assert missing.value.reason == "NotFound"


async def test_scale_and_status_subresources(client: ApiClient) -> None:
    await client.create(DEPLOYMENTS, deployment("web"))
    scale = await client.patch(DEPLOYMENTS, "web", {"spec": {"replicas": 3}}, subresource="scale")
    assert scale["kind"] == "Scale"
    assert scale["spec"]["replicas"] == 3
    assert (await client.get(DEPLOYMENTS, "web"))["spec"]["replicas"] == 3
    status = await client.patch(DEPLOYMENTS, "web", {"status": {"readyReplicas": 2}}, subresource="status")
    assert status["status"]["readyReplicas"] == 2
    read = await client.get(DEPLOYMENTS, "web", subresource="scale")
    assert read["spec"]["replicas"] == 3


async def test_list_then_watch_from_its_resource_version(client: ApiClient) -> None:
    await client.create(CONFIGMAPS, {"metadata": {"name": "before"}})
    listed = await client.list(CONFIGMAPS, "default")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["before"]
    rv = listed["metadata"]["resourceVersion"]
    await client.create(CONFIGMAPS, {"metadata": {"name": "after"}})
    await client.delete(CONFIGMAPS, "before")
    seen: list[tuple[str, str]] = []
    stream = client.watch(CONFIGMAPS, "default", resource_version=rv, timeout_seconds=30)
    async with asyncio.timeout(10), contextlib.aclosing(stream) as events:
        async for event in events:
            if event.type != "BOOKMARK":
                seen.append((event.type, event.object["metadata"]["name"]))
            if len(seen) == 2:
                break
    assert seen == [("ADDED", "after"), ("DELETED", "before")]


async def test_informer_against_the_api_server(client: ApiClient) -> None:
    changed = asyncio.Event()

    async def on_change(*_: Obj) -> None:
        changed.set()

    informer = Informer(client, PODS, namespace="default", on_add=on_change, on_delete=on_change)
    async with informer:
        async with asyncio.timeout(10):
            await informer.wait_synced()
        pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
        await client.create(PODS, pod)
        async with asyncio.timeout(10):
            while informer.get("p", "default") is None:
                changed.clear()
                await changed.wait()
        await client.delete(PODS, "p", grace_period_seconds=0)
        async with asyncio.timeout(10):
            while informer.get("p", "default") is not None:
                changed.clear()
                await changed.wait()


async def test_event_recorder_posts_core_v1_events(client: ApiClient) -> None:
    cm = await client.create(CONFIGMAPS, {"metadata": {"name": "subject"}})
    recorder = EventRecorder(client, component="tester", host="here")
    event = await recorder.record(cm, "Tested", "it works", type="Warning")
    assert event is not None
    assert event["metadata"]["name"].startswith("subject.")
    events = await client.list(EVENTS, "default", field_selector="involvedObject.name=subject")
    assert [(e["reason"], e["type"], e["source"]["component"]) for e in events["items"]] == [
        ("Tested", "Warning", "tester")
    ]


async def test_repeated_events_are_counted_not_piled_up(client: ApiClient) -> None:
    pod = await client.create(
        PODS, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    )
    recorder = EventRecorder(client, component="tester", aggregate_window=datetime.timedelta(minutes=10))
    for _ in range(3):
        await recorder.record(pod, "BackOff", "Back-off restarting failed container", type="Warning")
    await recorder.record(pod, "Started", "Started container c")
    events = await client.list(EVENTS, "default", field_selector="involvedObject.name=p")
    counts = sorted((e["reason"], e["count"]) for e in events["items"])
    assert counts == [("BackOff", 3), ("Started", 1)]
