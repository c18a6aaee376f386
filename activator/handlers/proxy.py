"""The last handler: sends the request to the chosen pod and the pod's answer back.

HTTP goes through the keep-alive pool (`activator.upstream`); websockets through the shared
ClientSession. Bodies stream both ways; a response with a small declared length is read whole
and written at once, which costs less than streaming it. Connection refused before anything was
sent is raised as `PodRefusedError` for the throttler to retry on another pod; other failures
before the response starts are 502, and a deadline passed before it starts is 504. A pod that
fails mid-response cuts that response short (the client connection is aborted), nothing else.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from activator.config import GatewayConfig
from activator.handlers import session_proxy, websocket
from activator.handlers.context import CONTEXT, PodClosedError, PodRefusedError, RequestContext
from activator.handlers.limits import BodyTooLargeError, limited_body
from activator.handlers.responses import bad_gateway, body_started
from activator.headers import downstream_headers, upstream_headers
from activator.upstream import ClosedBeforeResponseError, UpstreamError, UpstreamPool, UpstreamResponse

# Methods RFC 9110 calls idempotent and safe to send again when no byte of the answer was seen.
RETRYABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

log = logging.getLogger("kwake.gateway.proxy")


class Proxy:
    def __init__(self, config: GatewayConfig) -> None:
        self._config = config
        # Attached when the app starts (a session needs a running loop).
        self.session: aiohttp.ClientSession | None = None
        self.pool: UpstreamPool | None = None

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        ctx = request[CONTEXT]
        assert ctx.pod is not None and ctx.path is not None and ctx.split is not None
        headers = upstream_headers(
            request.headers,
            peer=request.remote,
            scheme=request.scheme,
            host=request.host,
            request_id=ctx.request_id,
            extra=ctx.path.append_headers + ctx.split.append_headers,
        )
        if websocket.is_upgrade(request):
            assert self.session is not None, "the app's cleanup context attaches the session"
            url = URL(f"http://{ctx.pod.authority}{request.raw_path}", encoded=True)
            return await websocket.proxy_websocket(request, self.session, url, headers, ctx)
        if self.pool is None:
            assert self.session is not None, "the app's cleanup context attaches the session"
            return await session_proxy.forward(self.session, self._config, request, headers, ctx)
        return await self._forward(self.pool, request, headers, ctx)

    async def _forward(
        self, pool: UpstreamPool, request: web.BaseRequest, headers: CIMultiDict[str], ctx: RequestContext
    ) -> web.StreamResponse:
        assert ctx.pod is not None
        if "Host" not in headers:
            headers["Host"] = request.host
        body = None
        if request.body_exists:
            if request.headers.get("Expect", "").lower() == "100-continue":
                # The client waits for this before sending its body; the pod never sees Expect.
                await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = limited_body(request.content, self._config.max_body_bytes)
        loop = asyncio.get_running_loop()
        try:
            # One timer for the common case: until the head arrives, then (rescheduled) until a
            # small body is read whole. An idle timeout counts from when the pod gets the request
            # (Knative's also counts the wait in the activator's queue: a cold start is not the
            # app being silent).
            async with asyncio.timeout_at(
                _idle_bound(ctx.response_deadline, ctx.idle_timeout, loop)
            ) as scope:
                upstream = await pool.request(
                    ctx.pod, request.method, request.raw_path, headers.items(), body, request.content_length
                )
                length = upstream.content_length
                if length is not None and length <= self._config.buffer_small_bodies_bytes:
                    if ctx.total_deadline != ctx.response_deadline or ctx.idle_timeout:
                        scope.reschedule(_idle_bound(ctx.total_deadline, ctx.idle_timeout, loop))
                    try:
                        payload = await upstream.read()
                    finally:
                        upstream.release()
                    response_headers = downstream_headers(upstream.headers)
                    if request.method == "HEAD" and "Content-Length" in upstream.headers:
                        # No body follows a HEAD answer, but its length is still the pod's.
                        response_headers["Content-Length"] = upstream.headers["Content-Length"]
                        return web.Response(
                            status=upstream.status, reason=upstream.reason, headers=response_headers
                        )
                    return web.Response(
                        status=upstream.status, reason=upstream.reason, headers=response_headers, body=payload
                    )
        except ConnectionRefusedError as exc:
            if not body_started(body):
                raise PodRefusedError(str(exc)) from exc
            return bad_gateway(f"{ctx.pod} refused the connection")
        except TimeoutError:
            return web.Response(status=504, text="kwake gateway: request timeout\n")
        except BodyTooLargeError as exc:
            return web.Response(status=413, text=f"kwake gateway: {exc}\n")
        except ClosedBeforeResponseError as exc:
            # A pod shutting down (still listed while it leaves Endpoints) accepted and closed.
            # Nothing of the response was seen, and the method is safe to repeat: use another pod.
            if request.method in RETRYABLE_METHODS and body is None:
                raise PodClosedError(str(exc)) from exc
            return bad_gateway(f"{ctx.pod}: {exc}")
        except (UpstreamError, OSError) as exc:
            return bad_gateway(f"{ctx.pod}: {exc}")
        try:
            return await self._stream(request, upstream, ctx)
        finally:
            upstream.release()

    async def _stream(
        self, request: web.BaseRequest, upstream: UpstreamResponse, ctx: RequestContext
    ) -> web.StreamResponse:
        headers = downstream_headers(upstream.headers)
        length = upstream.content_length
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason, headers=headers)
        if length is not None:
            response.content_length = length
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(_idle_bound(ctx.total_deadline, ctx.idle_timeout, loop)) as scope:
                await response.prepare(request)
                async for chunk in upstream.iter_chunks():
                    await response.write(chunk)
                    if ctx.idle_timeout:
                        scope.reschedule(_idle_bound(ctx.total_deadline, ctx.idle_timeout, loop))
        except (UpstreamError, TimeoutError) as exc:
            # The status line is gone already: cutting the connection is the only honest signal
            # (nginx and Envoy do the same); the access log and metrics still count the request.
            reason = (
                exc
                if isinstance(exc, UpstreamError)
                else "timeout (revision timeoutSeconds or idleTimeoutSeconds)"
            )
            log.warning("upstream failed mid-response from %s: %s", ctx.pod, reason)
            if request.transport is not None:
                request.transport.abort()
            return response
        await response.write_eof()
        return response


def _idle_bound(deadline: float, idle_timeout: float, loop: asyncio.AbstractEventLoop) -> float:
    """The earlier of `deadline` and `idle_timeout` seconds from now (when one is set)."""
    return min(deadline, loop.time() + idle_timeout) if idle_timeout else deadline
