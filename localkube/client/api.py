"""`ApiClient`: a small asyncio client for the Kubernetes HTTP API (JSON only).

It works the same against localkube and a real cluster::

    from localkube.client import ApiClient, load_connection, PODS, NotFound

    async with ApiClient(load_connection()) as client:
        pod = await client.get(PODS, "web-1", namespace="default")
        await client.patch(PODS, "web-1", {"status": {...}}, subresource="status")
        async for event in client.watch(PODS, namespace="default", resource_version=rv):
            ...

Namespaces: single-object calls on a namespaced resource use `namespace`, else the body's
`metadata.namespace` (create/replace), else the connection's default namespace. `list` and
`watch` with `namespace=None` cover all namespaces. Cluster-scoped resources ignore it.

Errors raise `ApiError` subclasses (`NotFound`, `Conflict`, `AlreadyExists`, `Gone`, `Invalid`).
The client does not retry: callers (informers, controllers) decide what a failure means.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncGenerator, Mapping
from types import TracebackType
from typing import Any, Literal

import aiohttp

from localkube.client import errors
from localkube.client.config import Connection
from localkube.client.resources import Resource
from localkube.client.sessions import close_session
from localkube.client.tasks import cancel_and_wait, create_guarded_task
from localkube.client.watch import WatchEvent, decode_events

PatchType = Literal["merge", "json", "strategic", "apply"]

PATCH_CONTENT_TYPES: Mapping[str, str] = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}

_TOKEN_REREAD_SECONDS = 60.0


class ApiClient:
    """One aiohttp session to one API server. Use `async with` or call `close()`.

    `timeout` bounds each non-watch request. Watches are bounded by `timeout_seconds` (server
    side) and a read timeout of that plus a margin.
    """

    def __init__(
        self,
        connection: Connection,
        *,
        timeout: float = 30.0,
        user_agent: str = "kwake",
        keep_warm_seconds: float | None = 20.0,
    ) -> None:
        self._connection = connection
        self._timeout = timeout
        self._user_agent = user_agent
        self._keep_warm_seconds = keep_warm_seconds
        self._keep_warm: asyncio.Task[None] | None = None
        self._last_used = time.monotonic()
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._token_read_at = float("-inf")

    @property
    def connection(self) -> Connection:
        return self._connection

    @property
    def default_namespace(self) -> str:
        return self._connection.namespace

    async def __aenter__(self) -> ApiClient:
        self._ensure_session()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        warm, self._keep_warm = self._keep_warm, None
        if warm is not None:
            await cancel_and_wait([warm])
        session, self._session = self._session, None
        if session is not None:
            await close_session(session)

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                # Informers hold one connection per watch; do not let them starve plain requests.
                limit=0,
                ssl=self._connection.ssl if self._connection.ssl is not None else True,
                # Before 3.12.7 asyncio can leak the socket of a TLS connection closed mid-request
                # (a cancelled call); aiohttp then aborts those transports when the session closes.
                enable_cleanup_closed=sys.version_info < (3, 12, 7),
                keepalive_timeout=120.0,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"Accept": "application/json", "User-Agent": self._user_agent},
            )
            if self._keep_warm_seconds and self._keep_warm is None:
                self._keep_warm = create_guarded_task(
                    self._stay_warm(self._keep_warm_seconds), "api-client-keep-warm"
                )
        return self._session

    async def _stay_warm(self, interval: float) -> None:
        """Keep one pooled connection open: after a quiet spell, the next call (a scale from
        zero, say) then skips a TLS handshake (~5 ms here, more on a busy machine); servers
        close idle connections (aiohttp after 75 s)."""
        while True:
            await asyncio.sleep(interval)
            if time.monotonic() - self._last_used >= interval:
                # Only a courtesy: the next real call reports real trouble.
                with contextlib.suppress(TimeoutError, errors.ApiError, aiohttp.ClientError, OSError):
                    await self.version()

    def _headers(self) -> dict[str, str]:
        headers = dict(self._connection.headers)
        token_path = self._connection.token_path
        if token_path is not None:
            now = time.monotonic()
            if now - self._token_read_at > _TOKEN_REREAD_SECONDS:
                # Service-account tokens rotate on disk; a stale copy expires within the hour.
                self._token = token_path.read_text().strip()
                self._token_read_at = now
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def _namespace(
        self, resource: Resource, namespace: str | None, body: Mapping[str, Any] | None = None
    ) -> str | None:
        if not resource.namespaced:
            return None
        if namespace:
            return namespace
        if body is not None:
            from_body = (body.get("metadata") or {}).get("namespace")
            if from_body:
                return str(from_body)
        return self._connection.namespace

    # --- raw request --------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        """One request to `path` (e.g. `/version`); returns the decoded JSON body, raises `ApiError`."""
        session = self._ensure_session()
        self._last_used = time.monotonic()
        headers = self._headers()
        data: bytes | None = None
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = content_type
        async with session.request(
            method,
            self._connection.server + path,
            params=params,
            data=data,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=self._timeout),
            server_hostname=self._connection.tls_server_name,
        ) as response:
            text = await response.text()
            if response.status >= 400:
                raise errors.error_from_response(response.status, text)
            if not text:
                return {}
            decoded = json.loads(text)
            return decoded if isinstance(decoded, dict) else {"items": decoded}

    # --- verbs ---------------------------------------------------------------------------------

    async def get(
        self, resource: Resource, name: str, namespace: str | None = None, subresource: str | None = None
    ) -> dict[str, Any]:
        """GET one object (or its subresource, e.g. `scale`)."""
        path = resource.path(self._namespace(resource, namespace), name, subresource)
        return await self.request("GET", path)

    async def list(
        self,
        resource: Resource,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> dict[str, Any]:
        """LIST a collection: the list body, with `items` and `metadata.resourceVersion`.

        Follows `metadata.continue` so the result is always complete. Items get `kind` and
        `apiVersion` filled in (the API server leaves them out of list items).
        """
        params: dict[str, str] = {}
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        path = resource.path(namespace if resource.namespaced else None)
        result = await self.request("GET", path, params=params)
        items: list[dict[str, Any]] = list(result.get("items") or [])
        token = (result.get("metadata") or {}).get("continue")
        while token:
            page = await self.request("GET", path, params={**params, "continue": str(token)})
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            result["metadata"] = {**(page.get("metadata") or {}), "continue": ""}
        for item in items:
            item.setdefault("kind", resource.kind)
            item.setdefault("apiVersion", resource.api_version)
        result["items"] = items
        return result

    async def create(
        self,
        resource: Resource,
        body: Mapping[str, Any],
        namespace: str | None = None,
        subresource: str | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        """POST a new object (`metadata.generateName` works). For a subresource (e.g. a pod's
        `eviction` or `binding`) pass the parent's `name`."""
        ns = self._namespace(resource, namespace, body)
        if subresource:
            if name is None:
                name = str((body.get("metadata") or {}).get("name") or "")
            path = resource.path(ns, name, subresource)
        else:
            path = resource.path(ns)
        return await self.request("POST", path, body=_with_type(resource, body, subresource))

    async def replace(
        self,
        resource: Resource,
        body: Mapping[str, Any],
        namespace: str | None = None,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        """PUT the whole object; its `metadata.resourceVersion` makes it conditional (`Conflict`)."""
        name = str((body.get("metadata") or {}).get("name") or "")
        path = resource.path(self._namespace(resource, namespace, body), name, subresource)
        return await self.request("PUT", path, body=_with_type(resource, body, subresource))

    async def patch(
        self,
        resource: Resource,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        subresource: str | None = None,
        patch_type: PatchType = "merge",
        field_manager: str | None = None,
        force: bool | None = None,
    ) -> dict[str, Any]:
        """PATCH an object: `patch` is a dict (merge, strategic, apply) or a list of ops (json)."""
        params: dict[str, str] = {}
        if field_manager:
            params["fieldManager"] = field_manager
        if force is not None:
            params["force"] = "true" if force else "false"
        path = resource.path(self._namespace(resource, namespace), name, subresource)
        return await self.request(
            "PATCH", path, params=params, body=patch, content_type=PATCH_CONTENT_TYPES[patch_type]
        )

    async def delete(
        self,
        resource: Resource,
        name: str,
        namespace: str | None = None,
        *,
        propagation_policy: Literal["Background", "Foreground", "Orphan"] | None = None,
        grace_period_seconds: int | None = None,
        preconditions: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """DELETE an object: returns the object (deletion pending) or a Status (gone at once).

        `preconditions` may hold `uid` and/or `resourceVersion` (a mismatch raises `Conflict`).
        """
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if preconditions:
            options["preconditions"] = dict(preconditions)
        path = resource.path(self._namespace(resource, namespace), name)
        return await self.request("DELETE", path, body=options)

    async def watch(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int | None = None,
        allow_bookmarks: bool = True,
    ) -> AsyncGenerator[WatchEvent, None]:
        """One watch stream; ends when the server closes it (at `timeout_seconds`).

        Start from the `resource_version` of a list to miss nothing; without one the server
        first sends ADDED for every existing object. BOOKMARK events are yielded so the caller
        can advance its resourceVersion. An in-stream ERROR raises its `ApiError` (`Gone` for
        410: relist). Reconnecting is the caller's job (see `Informer`).

        Leaving the loop early? Close the stream so its connection is released at once:
        `async with contextlib.aclosing(client.watch(...)) as events: async for e in events: ...`
        """
        params: dict[str, str] = {"watch": "true"}
        if allow_bookmarks:
            params["allowWatchBookmarks"] = "true"
        if resource_version:
            params["resourceVersion"] = resource_version
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        if timeout_seconds is not None:
            params["timeoutSeconds"] = str(timeout_seconds)
        session = self._ensure_session()
        # No total timeout: a watch lives long. A read timeout catches a silently dead peer.
        read_timeout = None if timeout_seconds is None else timeout_seconds + 60.0
        timeout = aiohttp.ClientTimeout(total=None, connect=self._timeout, sock_read=read_timeout)
        path = resource.path(namespace if resource.namespaced else None)
        async with session.get(
            self._connection.server + path,
            params=params,
            headers=self._headers(),
            timeout=timeout,
            server_hostname=self._connection.tls_server_name,
        ) as response:
            if response.status >= 400:
                raise errors.error_from_response(response.status, await response.text())
            finished = False
            try:
                async for event in decode_events(response.content.iter_any()):
                    yield event
                finished = True
            finally:
                if not finished:
                    _abort(response)

    # --- conveniences ------------------------------------------------------------------------

    async def get_or_none(
        self, resource: Resource, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        """GET, or None when the object does not exist."""
        try:
            return await self.get(resource, name, namespace)
        except errors.NotFound:
            return None

    async def version(self) -> dict[str, Any]:
        """The server's `/version` (a cheap liveness check)."""
        return await self.request("GET", "/version")

    async def wait_until_reachable(self, within: float = 10.0) -> None:
        """Poll `/version` until the server answers (for callers racing a server's startup)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        delay = 0.01
        while True:
            try:
                await self.version()
                return
            except (aiohttp.ClientError, OSError):
                if loop.time() + delay > deadline:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)


def _with_type(resource: Resource, body: Mapping[str, Any], subresource: str | None) -> dict[str, Any]:
    """The body with `kind`/`apiVersion` filled in when missing (not for subresources)."""
    result = dict(body)
    if not subresource:
        result.setdefault("kind", resource.kind)
        result.setdefault("apiVersion", resource.api_version)
    return result


def _abort(response: aiohttp.ClientResponse) -> None:
    """Drop a watch connection left mid-stream at once.

    A graceful close of a TLS connection waits for the peer's close_notify; a watch abandoned at
    shutdown would then outlive its event loop and leak its socket.
    """
    connection = response.connection
    transport = connection.transport if connection is not None else None
    if transport is not None:
        transport.abort()
