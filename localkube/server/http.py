"""The HTTP face of localkube: Kubernetes API paths mapped onto `Api`, with kube's wire formats."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any

import yaml
from aiohttp import ClientSession, ClientTimeout, web

from localkube import selectors
from localkube.client.sessions import close_session
from localkube.server import discovery, errors, tables
from localkube.server.api import Api, DeleteOptions, WriteOptions
from localkube.server.resources import ResourceType
from localkube.store.sqlite import Change

log = logging.getLogger("localkube.http")

MAX_BODY_BYTES = 3 * 1024 * 1024
DEFAULT_WATCH_SECONDS = 1800
BOOKMARK_SECONDS = 30.0
WATCH_BATCH = 256

API_KEY: web.AppKey[Api] = web.AppKey("api", Api)
TOKEN_KEY: web.AppKey[str] = web.AppKey("token", str)
SESSION_KEY: web.AppKey[ClientSession] = web.AppKey("session", ClientSession)
ADDRESS_KEY: web.AppKey[list[str]] = web.AppKey("address", list)

PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}
OPEN_PATHS = ("/healthz", "/livez", "/readyz")


@dataclass(frozen=True)
class Target:
    rt: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def error_response(exc: errors.ApiError) -> web.Response:
    return json_response(exc.to_status(), status=exc.code)


@web.middleware
async def errors_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except errors.ApiError as exc:
        return error_response(exc)
    except web.HTTPRequestEntityTooLarge:
        return error_response(errors.too_large(MAX_BODY_BYTES))
    except web.HTTPException as exc:
        # aiohttp's own refusals (a path its router cannot match, say) still answer a Status.
        if exc.status == 404:
            return error_response(errors.path_not_found())
        return error_response(
            errors.ApiError(exc.status, exc.reason.replace(" ", ""), exc.text or exc.reason)
        )
    except (ConnectionResetError, asyncio.CancelledError):
        raise
    except Exception as exc:
        log.exception("unexpected error serving %s %s", request.method, request.path)
        return error_response(
            errors.internal(
                f"an error on the server ({type(exc).__name__}) has prevented the request from succeeding"
            )
        )


@web.middleware
async def auth_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    token = request.app[TOKEN_KEY]
    if token and request.path not in OPEN_PATHS:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        # RFC 7235: the scheme is case-insensitive (kopf's in-cluster login sends "bearer").
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            credentials.strip().encode(), token.encode()
        ):
            return error_response(errors.unauthorized())
    response: web.StreamResponse = await handler(request)
    return response


def build_app(api: Api, *, token: str = "") -> web.Application:
    app = web.Application(middlewares=[errors_middleware, auth_middleware], client_max_size=MAX_BODY_BYTES)
    app[API_KEY] = api
    app[TOKEN_KEY] = token
    app[ADDRESS_KEY] = ["127.0.0.1:0"]

    async def session_ctx(app: web.Application) -> Any:
        app[SESSION_KEY] = ClientSession(timeout=ClientTimeout(total=None, sock_connect=5))
        yield
        await close_session(app[SESSION_KEY])

    app.cleanup_ctx.append(session_ctx)
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app


async def dispatch(request: web.Request) -> web.StreamResponse:
    api = request.app[API_KEY]
    path = request.path.rstrip("/") or "/"
    parts = [p for p in path.split("/") if p]
    if path in OPEN_PATHS:
        return web.Response(text="ok")
    if path == "/version":
        return json_response(discovery.KUBE_VERSION)
    if not parts:
        return json_response({"paths": ["/api", "/api/v1", "/apis", "/healthz", "/openapi/v3", "/version"]})
    if parts[0] == "openapi":
        return _openapi(api, parts)
    if parts[0] == "api":
        if len(parts) == 1:
            return json_response(discovery.api_versions(request.app[ADDRESS_KEY][0]))
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis":
        if len(parts) == 1:
            return json_response(discovery.api_group_list(api.registry))
        if len(parts) == 2:
            body = discovery.api_group(api.registry, parts[1])
            if body is None:
                raise errors.path_not_found()
            return json_response(body)
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise errors.path_not_found()
    if not rest:
        listing = discovery.resource_list(api.registry, group, version)
        if listing is None:
            raise errors.path_not_found()
        return json_response(listing)
    target = _target(api, group, version, rest)
    return await _serve(request, api, target)


def _openapi(api: Api, parts: list[str]) -> web.Response:
    if parts[1:2] == ["v3"]:
        if len(parts) == 2:
            return json_response(discovery.openapi_v3_index(api.registry))
        rest = parts[2:]
        if rest[0] == "api" and len(rest) == 2:
            doc = discovery.openapi_v3_document(api.registry, "", rest[1])
        elif rest[0] == "apis" and len(rest) == 3:
            doc = discovery.openapi_v3_document(api.registry, rest[1], rest[2])
        else:
            doc = None
        if doc is not None:
            return json_response(doc)
    raise errors.path_not_found()


def _target(api: Api, group: str, version: str, rest: list[str]) -> Target:
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        raise errors.path_not_found()
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    rt = api.registry.get(group, version, plural)
    if rt is None:
        raise errors.path_not_found()
    if namespace is not None and not rt.namespaced:
        raise errors.path_not_found()
    if rt.namespaced and namespace is None and name is not None:
        raise errors.path_not_found()
    if sub is not None:
        allowed = set(rt.extra_subresources)
        if rt.status:
            allowed.add("status")
        if rt.scale is not None:
            allowed.add("scale")
        if sub not in allowed:
            raise errors.path_not_found()
    return Target(rt, namespace, name, sub)


async def _serve(request: web.Request, api: Api, target: Target) -> web.StreamResponse:
    method = request.method
    rt, ns, name, sub = target.rt, target.namespace or "", target.name, target.subresource
    q = request.query
    if name is None:
        if method == "GET":
            if q.get("watch") in ("true", "1"):
                return await _watch(request, api, target)
            return _list(request, api, target)
        if method == "POST":
            body = await _read_body(request)
            if rt.namespaced and not ns:
                raise errors.path_not_found()
            result = await api.create(rt, ns, body, _write_options(request))
            return json_response(result.obj, 201, _warning_headers(result.warnings))
        if method == "DELETE":
            return await _delete_collection(request, api, target)
        raise errors.method_not_allowed(method)
    if method == "GET":
        if sub == "scale":
            return json_response(api.get_scale(rt, ns, name))
        if sub == "log":
            return await _pod_log(request, api, ns, name)
        obj = api.get(rt, ns, name)
        if _wants_table(request):
            return json_response(
                tables.table(
                    rt,
                    [obj],
                    obj["metadata"].get("resourceVersion", ""),
                    api.clock(),
                    api_version=_table_version(request),
                    include_object=q.get("includeObject", "Metadata"),
                )
            )
        return json_response(obj)
    if method == "PUT":
        body = await _read_body(request)
        if sub == "finalize" and rt.plural == "namespaces":
            sub = None
        result = await api.update(rt, ns, name, body, sub, _write_options(request))
        return json_response(result.obj, 200, _warning_headers(result.warnings))
    if method == "PATCH":
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        patch_type = PATCH_TYPES.get(content_type)
        if patch_type is None:
            raise errors.unsupported_media_type(content_type)
        raw = await request.read()
        patch_body = _parse(raw, yaml_ok=patch_type == "apply")
        result = await api.patch(rt, ns, name, patch_type, patch_body, sub, _write_options(request))
        return json_response(result.obj, 201 if result.created else 200, _warning_headers(result.warnings))
    if method == "DELETE":
        opts = await _delete_options(request)
        obj, removed = await api.delete(rt, ns, name, opts)
        if removed and not rt.from_crd:
            md = obj.get("metadata") or {}
            return json_response(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": {"name": name, "group": rt.group, "kind": rt.plural, "uid": md.get("uid")},
                }
            )
        return json_response(obj)
    if method == "POST" and sub == "binding":
        body = await _read_body(request)
        node = ((body.get("target") or {}) if isinstance(body, dict) else {}).get("name")
        if not node:
            raise errors.bad_request("a Binding needs target.name (the node)")
        current = api.get(rt, ns, name)
        if (current.get("spec") or {}).get("nodeName"):
            raise errors.conflict(
                rt.plural,
                rt.group,
                name,
                f"pod {name} is already assigned to node {current['spec']['nodeName']!r}",
            )
        await api.patch(rt, ns, name, "merge", {"spec": {"nodeName": node}})
        return json_response(
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, 201
        )
    if method == "POST" and sub == "eviction":
        obj, _ = await api.delete(rt, ns, name, DeleteOptions())
        return json_response(
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, 201
        )
    raise errors.method_not_allowed(method)


def _list(request: web.Request, api: Api, target: Target) -> web.Response:
    label_sel, field_sel = _selectors(request)
    items, rv = api.list_objects(target.rt, target.namespace, label_sel, field_sel)
    if _wants_table(request):
        return json_response(
            tables.table(
                target.rt,
                items,
                str(rv),
                api.clock(),
                api_version=_table_version(request),
                include_object=request.query.get("includeObject", "Metadata"),
            )
        )
    return json_response(
        {
            "kind": target.rt.list_kind,
            "apiVersion": target.rt.api_version,
            "metadata": {"resourceVersion": str(rv)},
            "items": items,
        }
    )


async def _delete_collection(request: web.Request, api: Api, target: Target) -> web.Response:
    label_sel, field_sel = _selectors(request)
    opts = await _delete_options(request)
    items, _ = api.list_objects(target.rt, target.namespace, label_sel, field_sel)
    for item in items:
        md = item["metadata"]
        try:
            await api.delete(target.rt, md.get("namespace", ""), md["name"], opts)
        except errors.ApiError as exc:
            if exc.code != 404:
                raise
    return json_response(
        {
            "kind": target.rt.list_kind,
            "apiVersion": target.rt.api_version,
            "metadata": {"resourceVersion": str(api.store.resource_version)},
            "items": items,
        }
    )


def _selectors(request: web.Request) -> tuple[selectors.LabelSelector | None, selectors.FieldSelector | None]:
    try:
        label_sel = (
            selectors.parse_label_selector(request.query["labelSelector"])
            if request.query.get("labelSelector")
            else None
        )
        field_sel = (
            selectors.parse_field_selector(request.query["fieldSelector"])
            if request.query.get("fieldSelector")
            else None
        )
    except selectors.SelectorError as exc:
        raise errors.bad_request(f"unable to parse requirement: {exc}") from exc
    return label_sel, field_sel


def _wants_table(request: web.Request) -> bool:
    return "as=Table" in request.headers.get("Accept", "")


def _table_version(request: web.Request) -> str:
    accept = request.headers.get("Accept", "")
    for clause in accept.split(","):
        if "as=Table" in clause and "v=v1beta1" in clause and "v=v1;" not in clause:
            return "meta.k8s.io/v1beta1"
        if "as=Table" in clause:
            return "meta.k8s.io/v1"
    return "meta.k8s.io/v1"


def _write_options(request: web.Request) -> WriteOptions:
    q = request.query
    dry_run = q.get("dryRun") == "All"
    validation = q.get("fieldValidation", "Warn")
    if validation not in ("Ignore", "Warn", "Strict"):
        raise errors.bad_request(f"fieldValidation must be Ignore, Warn or Strict, not {validation!r}")
    return WriteOptions(dry_run=dry_run, field_validation=validation, field_manager=q.get("fieldManager", ""))


def _warning_headers(warnings: tuple[str, ...]) -> dict[str, str] | None:
    if not warnings:
        return None
    return {"Warning": ", ".join(f'299 - "{w}"' for w in warnings)}


def _parse(raw: bytes, *, yaml_ok: bool) -> Any:
    if not raw.strip():
        raise errors.bad_request("the request body is empty")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        if yaml_ok:
            try:
                return yaml.safe_load(raw)
            except yaml.YAMLError as yexc:
                raise errors.bad_request(f"the body is neither JSON nor YAML: {yexc}") from yexc
        raise errors.bad_request(f"the body is not valid JSON: {exc}") from exc


async def _read_body(request: web.Request) -> Any:
    raw = await request.read()
    content_type = request.headers.get("Content-Type", "application/json").split(";")[0].strip().lower()
    if "protobuf" in content_type or "cbor" in content_type:
        raise errors.ApiError(
            415,
            "UnsupportedMediaType",
            f"localkube speaks JSON only, not {content_type}: kubectl's typed generators (kubectl create "
            f"configmap/secret/deployment ...) send protobuf; pipe them instead: kubectl create ... "
            f"--dry-run=client -o yaml | kubectl apply -f -",
        )
    return _parse(raw, yaml_ok=content_type in ("application/yaml", "application/x-yaml", "text/yaml"))


async def _delete_options(request: web.Request) -> DeleteOptions:
    q = request.query
    body: dict[str, Any] = {}
    raw = await request.read()
    if raw.strip():
        parsed = _parse(raw, yaml_ok=False)
        if not isinstance(parsed, dict):
            raise errors.bad_request("DeleteOptions must be an object")
        body = parsed
    policy = body.get("propagationPolicy") or q.get("propagationPolicy")
    if body.get("orphanDependents") is True or q.get("orphanDependents") == "true":
        policy = policy or "Orphan"
    grace = body.get("gracePeriodSeconds", q.get("gracePeriodSeconds"))
    try:
        grace_int = int(grace) if grace is not None else None
    except (TypeError, ValueError) as exc:
        raise errors.bad_request(f"gracePeriodSeconds must be an integer, not {grace!r}") from exc
    pre = body.get("preconditions") or {}
    dry_values = body.get("dryRun") or q.getall("dryRun", [])
    dry = [str(v) for v in dry_values] if isinstance(dry_values, list) else []
    return DeleteOptions(
        propagation_policy=policy,
        grace_period_seconds=grace_int,
        precondition_uid=pre.get("uid"),
        precondition_rv=pre.get("resourceVersion"),
        dry_run="All" in dry,
    )


async def _watch(request: web.Request, api: Api, target: Target) -> web.StreamResponse:
    rt = target.rt
    q = request.query
    label_sel, field_sel = _selectors(request)
    as_table = _wants_table(request)
    table_version = _table_version(request)
    bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
    try:
        timeout = float(q.get("timeoutSeconds", DEFAULT_WATCH_SECONDS))
        rv_text = q.get("resourceVersion", "")
        start_rv = int(rv_text) if rv_text not in ("", "0") else None
    except ValueError as exc:
        raise errors.bad_request(f"invalid resourceVersion or timeoutSeconds: {exc}") from exc
    namespace = target.namespace if rt.namespaced else None

    response = web.StreamResponse(headers={"Content-Type": "application/json", "Cache-Control": "no-cache"})
    response.enable_chunked_encoding()
    await response.prepare(request)

    def encode(event_type: str, obj: dict[str, Any]) -> bytes:
        shown = api.present(rt, obj)
        if as_table:
            shown = tables.table(
                rt,
                [shown],
                shown["metadata"].get("resourceVersion", ""),
                api.clock(),
                api_version=table_version,
                include_object=q.get("includeObject", "Metadata"),
            )
        return json.dumps({"type": event_type, "object": shown}, separators=(",", ":")).encode() + b"\n"

    # Register, then snapshot or replay, with no await in between: no change can fall in the gap.
    watcher = api.hub.register(rt.group_resource, namespace)
    initial: list[bytes] = []
    if start_rv is None:
        items, last_rv = api.list_objects(rt, namespace, label_sel, field_sel)
        initial = [encode("ADDED", item) for item in items]
    elif start_rv < api.store.oldest_replayable():
        api.hub.unregister(watcher)
        gone = errors.gone_resource_version(start_rv, api.store.oldest_replayable())
        await response.write(json.dumps({"type": "ERROR", "object": gone.to_status()}).encode() + b"\n")
        await response.write_eof()
        return response
    else:
        last_rv = start_rv
        for change in api.store.changes_since(start_rv):
            if change.group_resource == rt.group_resource and (
                namespace is None or change.namespace == namespace
            ):
                event = _event_for(change, label_sel, field_sel)
                if event is not None:
                    initial.append(encode(event, change.obj))
            last_rv = change.rv
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        if initial:
            await response.write(b"".join(initial))
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            wait = min(remaining, BOOKMARK_SECONDS) if bookmarks else remaining
            try:
                item = await asyncio.wait_for(_next(watcher.queue), wait)
            except TimeoutError:
                if bookmarks and watcher.queue.empty() and loop.time() < deadline:
                    last_rv = max(last_rv, api.store.resource_version)
                    bookmark = {
                        "type": "BOOKMARK",
                        "object": {
                            "kind": rt.kind,
                            "apiVersion": rt.api_version,
                            "metadata": {"resourceVersion": str(last_rv)},
                        },
                    }
                    await response.write(json.dumps(bookmark).encode() + b"\n")
                continue
            # Drain what else is queued and send it in one write: fewer TLS records and syscalls when
            # changes arrive in bursts, and never a wait for more.
            batch: list[bytes] = []
            ended = False
            while True:
                if item is None:
                    ended = True
                    break
                if item.rv > last_rv:
                    last_rv = item.rv
                    event = _event_for(item, label_sel, field_sel)
                    if event is not None:
                        batch.append(encode(event, item.obj))
                if watcher.queue.empty() or len(batch) >= WATCH_BATCH:
                    break
                item = watcher.queue.get_nowait()
            if batch:
                await response.write(b"".join(batch))
            if ended:
                break
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        api.hub.unregister(watcher)
    with contextlib.suppress(ConnectionResetError):
        await response.write_eof()
    return response


def _event_for(
    change: Change, label_sel: selectors.LabelSelector | None, field_sel: selectors.FieldSelector | None
) -> str | None:
    """The event type this watcher sees, with kube's selector transitions (in -> out is DELETED)."""
    now_matches = Api.matches(change.obj, label_sel, field_sel)
    if change.type != "MODIFIED" or (label_sel is None and field_sel is None):
        return change.type if now_matches else None
    before = change.previous is not None and Api.matches(change.previous, label_sel, field_sel)
    if now_matches and before:
        return "MODIFIED"
    if now_matches:
        return "ADDED"
    if before:
        return "DELETED"
    return None


async def _pod_log(request: web.Request, api: Api, namespace: str, name: str) -> web.StreamResponse:
    pod_rt = api.registry.get("", "v1", "pods")
    node_rt = api.registry.get("", "v1", "nodes")
    assert pod_rt is not None and node_rt is not None
    pod = api.get(pod_rt, namespace, name)
    containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    container = request.query.get("container") or (containers[0] if len(containers) == 1 else None)
    if container is None:
        raise errors.bad_request(
            f"a container name must be specified for pod {name}, choose one of: {containers}"
        )
    if container not in containers:
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        raise errors.bad_request(f'pod "{name}" is not scheduled to a node yet, so it has no logs')
    node = api.get(node_rt, "", node_name)
    status = node.get("status") or {}
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    address = next(
        (a.get("address") for a in status.get("addresses") or [] if a.get("type") == "InternalIP"),
        "127.0.0.1",
    )
    if not port:
        raise errors.ApiError(
            503, "ServiceUnavailable", f"node {node_name} does not publish a kubelet endpoint"
        )
    params = {
        k: v
        for k, v in request.query.items()
        if k in ("follow", "tailLines", "previous", "timestamps", "sinceSeconds", "limitBytes")
    }
    session = request.app[SESSION_KEY]
    url = f"https://{address}:{port}/containerLogs/{namespace}/{name}/{container}"
    try:
        upstream = await session.get(url, params=params, ssl=False)
    except OSError as exc:
        raise errors.ApiError(
            503, "ServiceUnavailable", f"cannot reach the kubelet on {node_name}: {exc}"
        ) from exc
    async with upstream:
        if upstream.status != 200:
            text = await upstream.text()
            raise errors.bad_request(text.strip() or f"the kubelet answered {upstream.status}")
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        try:
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
        except (ConnectionResetError, asyncio.CancelledError):
            return response
        await response.write_eof()
        return response


async def _next(queue: asyncio.Queue[Change | None]) -> Change | None:
    return await queue.get()
