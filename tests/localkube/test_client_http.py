"""ApiClient, watch decoding and Informer against a tiny real HTTP server on 127.0.0.1.

The server below speaks just enough of the Kubernetes API for ConfigMaps (CRUD, merge patch,
list with a resourceVersion, watch with replay, in-stream 410, BOOKMARKs, Status errors) to
exercise the client's wire behaviour. The full contract is tested against localkube's real API
server in test_client_apiserver.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from localkube.client import (
    CONFIGMAPS,
    DEPLOYMENTS,
    NODES,
    AlreadyExists,
    ApiClient,
    ApiError,
    Connection,
    EventRecorder,
    Gone,
    Informer,
    NotFound,
    Resource,
    WorkQueue,
)
from localkube.client.watch import decode_events

Obj = dict[str, Any]


@dataclass
class TinyApi:
    """A ConfigMap-only API server with a global RV and an event log."""

    objects: dict[str, Obj] = field(default_factory=dict)
    log: list[tuple[int, str, Obj]] = field(default_factory=list)
    rv: int = 100
    oldest_watchable: int = 0
    requests: list[web.Request] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    bookmark_next_watch: bool = False
    end_watches: asyncio.Event = field(default_factory=asyncio.Event)
    fail_lists: int = 0
    pinged: asyncio.Event = field(default_factory=asyncio.Event)
    close_watches_at_once: bool = False

    async def emit(self, kind: str, obj: Obj) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.log.append((self.rv, kind, json.loads(json.dumps(obj))))
        async with self.changed:
            self.changed.notify_all()


def _status(code: int, reason: str, message: str) -> web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason}
    return web.json_response({**body, "message": message, "metadata": {}}, status=code)


def build_app(api: TinyApi) -> web.Application:
    routes = web.RouteTableDef()

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        api.requests.append(request)
        response: web.StreamResponse = await handler(request)
        return response

    @routes.get("/version")
    async def version(request: web.Request) -> web.Response:
        api.pinged.set()
        return web.json_response({"major": "1", "minor": "32"})

    @routes.get("/api/v1/namespaces/{ns}/configmaps")
    async def collection(request: web.Request) -> web.StreamResponse:
        if request.query.get("watch") == "true":
            return await watch(request)
        if api.fail_lists > 0:
            api.fail_lists -= 1
            return web.Response(status=503, text="<html>upstream down</html>")
        items = [o for k, o in sorted(api.objects.items()) if k.startswith(request.match_info["ns"] + "/")]
        if "continue" not in request.query and len(items) > 2:
            page = {"resourceVersion": str(api.rv), "continue": "page2"}
            return web.json_response({"kind": "ConfigMapList", "metadata": page, "items": items[:2]})
        rest = items[2:] if "continue" in request.query else items
        body = {"kind": "ConfigMapList", "metadata": {"resourceVersion": str(api.rv)}, "items": rest}
        return web.json_response(body)

    async def watch(request: web.Request) -> web.StreamResponse:
        since = int(request.query.get("resourceVersion") or 0)
        response = web.StreamResponse()
        await response.prepare(request)
        if api.close_watches_at_once:
            return response
        if since < api.oldest_watchable:
            status = {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"}
            await response.write(json.dumps({"type": "ERROR", "object": status}).encode() + b"\n")
            return response
        if api.bookmark_next_watch:
            api.bookmark_next_watch = False
            mark = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"resourceVersion": str(api.rv)}}
            # Split mid-line on purpose: the client must reassemble chunks into lines.
            payload = json.dumps({"type": "BOOKMARK", "object": mark}).encode() + b"\n"
            await response.write(payload[:10])
            await response.write(payload[10:])
            since = api.rv
        while not api.end_watches.is_set():
            for rv, kind, obj in list(api.log):
                if rv > since:
                    await response.write(json.dumps({"type": kind, "object": obj}).encode() + b"\n")
                    since = rv
            async with api.changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(api.changed.wait(), 0.2)
        return response

    @routes.post("/api/v1/namespaces/{ns}/configmaps")
    async def create(request: web.Request) -> web.Response:
        body = await request.json()
        name = body["metadata"].get("name") or body["metadata"]["generateName"] + str(api.rv)
        key = f"{request.match_info['ns']}/{name}"
        if key in api.objects:
            return _status(409, "AlreadyExists", f'configmaps "{name}" already exists')
        body["metadata"].update(name=name, namespace=request.match_info["ns"], uid=f"uid-{name}")
        api.objects[key] = body
        await api.emit("ADDED", body)
        return web.json_response(body, status=201)

    @routes.get("/api/v1/namespaces/{ns}/configmaps/{name}")
    async def get(request: web.Request) -> web.Response:
        obj = api.objects.get(f"{request.match_info['ns']}/{request.match_info['name']}")
        if obj is None:
            return _status(404, "NotFound", f'configmaps "{request.match_info["name"]}" not found')
        return web.json_response(obj)

    @routes.patch("/api/v1/namespaces/{ns}/configmaps/{name}")
    async def patch(request: web.Request) -> web.Response:
        obj = api.objects.get(f"{request.match_info['ns']}/{request.match_info['name']}")
        if obj is None:
            return _status(404, "NotFound", "not found")
        if request.content_type != "application/merge-patch+json":
            return _status(415, "UnsupportedMediaType", request.content_type)
        obj.setdefault("data", {}).update((await request.json()).get("data", {}))
        await api.emit("MODIFIED", obj)
        return web.json_response(obj)

    @routes.delete("/api/v1/namespaces/{ns}/configmaps/{name}")
    async def delete(request: web.Request) -> web.Response:
        obj = api.objects.pop(f"{request.match_info['ns']}/{request.match_info['name']}", None)
        if obj is None:
            return _status(404, "NotFound", "not found")
        await api.emit("DELETED", obj)
        return web.json_response(obj)

    app = web.Application(middlewares=[record])
    app.add_routes(routes)
    return app


@dataclass
class Served:
    api: TinyApi
    client: ApiClient


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    api = TinyApi()
    runner = web.AppRunner(build_app(api), shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    client = ApiClient(Connection.local(f"http://127.0.0.1:{port}", namespace="ns"))
    try:
        yield Served(api, client)
    finally:
        api.end_watches.set()
        await client.close()
        await runner.cleanup()


def cm(name: str, **data: str) -> Obj:
    return {"metadata": {"name": name}, "data": dict(data)}


# --- paths -----------------------------------------------------------------------------------


def test_paths_for_core_group_and_cluster_scope() -> None:
    assert CONFIGMAPS.path("ns", "a") == "/api/v1/namespaces/ns/configmaps/a"
    assert CONFIGMAPS.path() == "/api/v1/configmaps"
    assert DEPLOYMENTS.path("ns", "d", "scale") == "/apis/apps/v1/namespaces/ns/deployments/d/scale"
    assert NODES.path("ignored", "n1") == "/api/v1/nodes/n1"
    ksvc = Resource.custom("serving.knative.dev", "v1", "services", "Service")
    assert ksvc.api_version == "serving.knative.dev/v1"
    assert ksvc.path("ns") == "/apis/serving.knative.dev/v1/namespaces/ns/services"


def test_paths_refuse_traversal_and_escape_odd_names() -> None:
    with pytest.raises(ValueError, match="invalid"):
        CONFIGMAPS.path("ns", "..")
    assert CONFIGMAPS.path("ns", "a/b") == "/api/v1/namespaces/ns/configmaps/a%2Fb"


# --- verbs and errors ------------------------------------------------------------------------


async def test_create_get_patch_delete_round_trip(served: Served) -> None:
    client = served.client
    created = await client.create(CONFIGMAPS, cm("a", x="1"))
    assert created["metadata"]["namespace"] == "ns"  # the connection's default namespace
    assert created["kind"] == "ConfigMap" and created["apiVersion"] == "v1"
    patched = await client.patch(CONFIGMAPS, "a", {"data": {"y": "2"}})
    assert patched["data"] == {"x": "1", "y": "2"}
    assert (await client.get(CONFIGMAPS, "a"))["data"]["y"] == "2"
    await client.delete(CONFIGMAPS, "a", propagation_policy="Background")
    assert await client.get_or_none(CONFIGMAPS, "a") is None
    delete_request = served.api.requests[-2]
    assert delete_request.method == "DELETE"


async def test_status_errors_become_typed_exceptions(served: Served) -> None:
    await served.client.create(CONFIGMAPS, cm("a"))
    with pytest.raises(AlreadyExists) as exists:
        await served.client.create(CONFIGMAPS, cm("a"))
    assert exists.value.status == 409
    assert "already exists" in exists.value.message
    with pytest.raises(NotFound) as missing:
        await served.client.get(CONFIGMAPS, "nope")
    assert missing.value.reason == "NotFound"
    assert missing.value.body["kind"] == "Status"


async def test_non_status_error_bodies_are_synthesized(served: Served) -> None:
    served.api.fail_lists = 1
    with pytest.raises(ApiError) as failure:
        await served.client.list(CONFIGMAPS, "ns")
    assert failure.value.status == 503
    assert failure.value.reason == "ServiceUnavailable"
    assert "upstream down" in failure.value.message


async def test_patch_types_set_content_type(served: Served) -> None:
    await served.client.create(CONFIGMAPS, cm("a"))
    with pytest.raises(ApiError) as refused:
        await served.client.patch(CONFIGMAPS, "a", [{"op": "add"}], patch_type="json")
    assert refused.value.status == 415
    assert refused.value.message == "application/json-patch+json"


async def test_list_follows_continue_and_fills_kinds(served: Served) -> None:
    for name in "abc":
        await served.client.create(CONFIGMAPS, cm(name))
    listed = await served.client.list(CONFIGMAPS, "ns")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a", "b", "c"]
    assert listed["metadata"]["resourceVersion"] == "103"
    assert all(i["kind"] == "ConfigMap" for i in listed["items"])


# --- watch -----------------------------------------------------------------------------------


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_decode_events_reassembles_split_and_long_lines() -> None:
    big = {"type": "ADDED", "object": {"metadata": {"name": "x" * 300_000, "resourceVersion": "5"}}}
    line = json.dumps(big).encode() + b"\n"
    parts = [line[:7], line[7:200_000], line[200_000:] + b'{"type":"DELETED","object":{}}']
    events = [e async for e in decode_events(_chunks(*parts))]
    assert [e.type for e in events] == ["ADDED", "DELETED"]
    assert events[0].resource_version == "5"


async def test_decode_events_raises_gone_for_in_stream_410() -> None:
    error = b'{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"old"}}\n'
    with pytest.raises(Gone):
        _ = [e async for e in decode_events(_chunks(error))]


async def test_watch_replays_from_resource_version(served: Served) -> None:
    await served.client.create(CONFIGMAPS, cm("a"))
    rv = served.api.rv
    await served.client.patch(CONFIGMAPS, "a", {"data": {"k": "v"}})
    await served.client.delete(CONFIGMAPS, "a")
    seen: list[str] = []
    stream = served.client.watch(CONFIGMAPS, "ns", resource_version=str(rv))
    async with asyncio.timeout(5), contextlib.aclosing(stream) as events:
        async for event in events:
            seen.append(event.type)
            if event.type == "DELETED":
                break
    assert seen == ["MODIFIED", "DELETED"]
    query = served.api.requests[-1].query
    assert query["watch"] == "true" and query["allowWatchBookmarks"] == "true"


# --- informer --------------------------------------------------------------------------------


@dataclass
class Recorder:
    seen: list[tuple[str, str]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def add(self, obj: Obj) -> None:
        self.seen.append(("add", obj["metadata"]["name"]))
        self.changed.set()

    async def update(self, old: Obj, new: Obj) -> None:
        self.seen.append(("update", new["metadata"]["name"]))
        self.changed.set()

    async def delete(self, obj: Obj) -> None:
        self.seen.append(("delete", obj["metadata"]["name"]))
        self.changed.set()

    async def until(self, entry: tuple[str, str]) -> None:
        async with asyncio.timeout(5):
            while entry not in self.seen:
                self.changed.clear()
                await self.changed.wait()


async def test_informer_lists_then_follows_changes(served: Served) -> None:
    await served.client.create(CONFIGMAPS, cm("a"))
    rec = Recorder()
    informer = Informer(
        served.client, CONFIGMAPS, namespace="ns", on_add=rec.add, on_update=rec.update, on_delete=rec.delete
    )
    async with informer:
        async with asyncio.timeout(5):
            await informer.wait_synced()
        assert informer.get("a", "ns") is not None
        await served.client.create(CONFIGMAPS, cm("b"))
        await served.client.patch(CONFIGMAPS, "a", {"data": {"k": "v"}})
        await served.client.delete(CONFIGMAPS, "b")
        await rec.until(("delete", "b"))
        assert rec.seen == [("add", "a"), ("add", "b"), ("update", "a"), ("delete", "b")]
        assert informer.keys() == ["ns/a"]
        cached = informer.get("a", "ns")
        assert cached is not None and cached["data"] == {"k": "v"}


async def test_informer_relists_on_410_and_reports_what_it_missed(served: Served) -> None:
    await served.client.create(CONFIGMAPS, cm("a"))
    await served.client.create(CONFIGMAPS, cm("b"))
    rec = Recorder()
    informer = Informer(
        served.client, CONFIGMAPS, namespace="ns", on_add=rec.add, on_update=rec.update, on_delete=rec.delete
    )
    async with informer:
        async with asyncio.timeout(5):
            await informer.wait_synced()
        # While the informer is away: b goes, c comes, and the log before now is compacted.
        served.api.end_watches.set()
        served.api.objects.pop("ns/b")
        served.api.objects["ns/c"] = {**cm("c"), "metadata": {"name": "c", "namespace": "ns"}}
        served.api.rv += 10
        served.api.oldest_watchable = served.api.rv
        served.api.end_watches = asyncio.Event()
        await rec.until(("add", "c"))
        await rec.until(("delete", "b"))
        assert sorted(informer.keys()) == ["ns/a", "ns/c"]


async def test_informer_survives_server_errors_with_backoff(served: Served) -> None:
    served.api.fail_lists = 2
    await served.client.create(CONFIGMAPS, cm("a"))
    async with Informer(served.client, CONFIGMAPS, namespace="ns") as informer:
        async with asyncio.timeout(5):
            await informer.wait_synced()
        assert informer.keys() == ["ns/a"]
    assert served.api.fail_lists == 0


async def test_informer_advances_on_bookmark(served: Served) -> None:
    served.api.bookmark_next_watch = True
    served.api.rv = 500
    rec = Recorder()
    async with Informer(served.client, CONFIGMAPS, namespace="ns", on_add=rec.add) as informer:
        async with asyncio.timeout(5):
            await informer.wait_synced()
        await served.client.create(CONFIGMAPS, cm("z"))
        await rec.until(("add", "z"))
        assert informer.resource_version == "501"


async def test_handler_failure_does_not_stop_the_informer(served: Served) -> None:
    rec = Recorder()

    async def explode(obj: Obj) -> None:
        raise RuntimeError("boom")

    informer = Informer(served.client, CONFIGMAPS, namespace="ns", on_add=explode)
    informer.add_handlers(on_add=rec.add)
    async with informer:
        await served.client.create(CONFIGMAPS, cm("a"))
        await rec.until(("add", "a"))


# --- events and work queue -------------------------------------------------------------------


async def test_event_recorder_never_raises(served: Served) -> None:
    recorder = EventRecorder(served.client, component="test")
    obj = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "a", "namespace": "ns"}}
    assert await recorder.record(obj, "Created", "made it") is None  # the tiny server has no events


async def test_work_queue_deduplicates_and_requeues_keys_added_while_held() -> None:
    queue = WorkQueue()
    queue.add("a")
    queue.add("a")
    queue.add("b")
    first = await queue.get()
    assert first == "a"
    queue.add("a")  # while held: must come back after done, not run twice concurrently
    assert await queue.get() == "b"
    queue.done("b")
    queue.done("a")
    assert await queue.get() == "a"
    queue.done("a")
    assert len(queue) == 0
    queue.shut_down()
    assert await queue.get() is None


async def test_an_idle_client_keeps_one_connection_warm(served: Served) -> None:
    client = ApiClient(served.client.connection, keep_warm_seconds=0.05)
    try:
        await client.version()
        async with asyncio.timeout(5):
            for _ in range(2):  # pings with no call of ours in between
                served.api.pinged.clear()
                await served.api.pinged.wait()
    finally:
        await client.close()
    count = len(served.api.requests)
    await asyncio.sleep(0.2)
    assert len(served.api.requests) == count, "no pings once closed"


async def test_informer_backs_off_when_watches_end_at_once(served: Served) -> None:
    served.api.close_watches_at_once = True
    async with Informer(served.client, CONFIGMAPS, namespace="ns") as informer:
        async with asyncio.timeout(5):
            await informer.wait_synced()
        await asyncio.sleep(0.5)  # a spinning informer would re-watch hundreds of times here
    watches = [r for r in served.api.requests if r.query.get("watch") == "true"]
    assert 2 <= len(watches) <= 10
