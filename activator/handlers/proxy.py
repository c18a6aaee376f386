"""The last handler: sends the request to the chosen pod and the pod's answer back.

HTTP goes through the keep-alive pool (`activator.upstream`); websockets through the shared
ClientSession (on aiohttp's side of the edge, which serves every Upgrade request). Bodies stream
both ways; a response with a small declared length is read whole
and written at once, which costs less than streaming it. Connection refused before anything was
sent is raised as `PodRefusedError` for the throttler to retry on another pod; other failures
before the response starts are 502, and a deadline passed before it starts is 504. A pod that
fails mid-response cuts that response short (the client connection is aborted), nothing else.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Sequence

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from activator.config import GatewayConfig
from activator.deadlines import DeadlineWatch
from activator.handlers import websocket
from activator.handlers.context import PodClosedError, PodRefusedError, RequestContext
from activator.handlers.exchange import Exchange, Reply, text_reply
from activator.handlers.limits import BodyTooLargeError
from activator.handlers.responses import bad_gateway, body_started
from activator.headers import downstream_headers, forwarding_fields, upstream_headers
from activator.upstream import ClosedBeforeResponseError, UpstreamError, UpstreamPool, UpstreamResponse

# Methods RFC 9110 calls idempotent and safe to send again when no byte of the answer was seen.
RETRYABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

log = logging.getLogger("kwake.gateway.proxy")


class Proxy:
    def __init__(self, config: GatewayConfig, deadlines: DeadlineWatch) -> None:
        self._config = config
        self._deadlines = deadlines
        # Attached when the app starts (a session needs a running loop).
        self.session: aiohttp.ClientSession | None = None
        self.pool: UpstreamPool | None = None

    def handle(self, request: Exchange) -> Awaitable[Reply]:
        # A plain function handing on the awaitable: no coroutine frame of its own.
        ctx = request.ctx
        assert ctx.pod is not None and ctx.path is not None and ctx.split is not None
        assert self.pool is not None, "the app's start attaches the pool"
        extra = ctx.path.append_headers + ctx.split.append_headers
        verbatim = request.verbatim_head
        if verbatim is not None and not extra:
            # Nothing in the client's head to drop or replace: it goes as it came, with the
            # forwarding fields after it (what upstream_headers would write, not rebuilt).
            added = forwarding_fields(
                peer=request.remote, scheme=request.scheme, host=request.host, request_id=ctx.request_id
            )
            return self._forward(self.pool, request, (), ctx, verbatim + added)
        headers = upstream_headers(
            request.headers,
            peer=request.remote,
            scheme=request.scheme,
            host=request.host,
            request_id=ctx.request_id,
            extra=extra,
        )
        if websocket.is_upgrade(request):
            assert self.session is not None, "the app's start attaches the session"
            url = URL(f"http://{ctx.pod.authority}{request.raw_path}", encoded=True)
            return request.websocket(
                functools.partial(
                    websocket.proxy_websocket,
                    session=self.session,
                    url=url,
                    headers=CIMultiDict(headers),
                    ctx=ctx,
                )
            )
        return self._forward(self.pool, request, headers, ctx)

    async def _forward(
        self,
        pool: UpstreamPool,
        request: Exchange,
        headers: Sequence[tuple[str, str]],
        ctx: RequestContext,
        encoded_head: bytes | None = None,
    ) -> Reply:
        assert ctx.pod is not None
        body = request.upstream_body(self._config.max_body_bytes) if request.body_exists else None
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        watch = self._deadlines
        try:
            # One deadline for the common case: until the head arrives, then (moved) until a
            # small body is read whole. An idle timeout counts from when the pod gets the request
            # (Knative's also counts the wait in the activator's queue: a cold start is not the
            # app being silent).
            watch.watch(task, _idle_bound(ctx.response_deadline, ctx.idle_timeout, loop))
            upstream = await pool.request(
                ctx.pod,
                request.method,
                request.raw_path,
                headers,
                body,
                request.content_length,
                encoded_head=encoded_head,
            )
            length = upstream.content_length
            if length is not None and length <= self._config.buffer_small_bodies_bytes:
                if ctx.total_deadline != ctx.response_deadline or ctx.idle_timeout:
                    watch.watch(task, _idle_bound(ctx.total_deadline, ctx.idle_timeout, loop))
                try:
                    payload = await upstream.read()
                finally:
                    upstream.release()
                if upstream.verbatim is not None and request.takes_verbatim_heads:
                    # Nothing in the pod's head to drop or set, and its Content-Length is the
                    # payload's: it goes out as it came, no headers parsed or rebuilt.
                    return Reply(
                        upstream.status, payload, reason=upstream.reason, verbatim_head=upstream.verbatim
                    )
                response_headers = downstream_headers(upstream.headers)
                if request.method == "HEAD" and "Content-Length" in upstream.headers:
                    # No body follows a HEAD answer, but its length is still the pod's.
                    response_headers["Content-Length"] = upstream.headers["Content-Length"]
                return Reply(upstream.status, payload, response_headers, upstream.reason)
        except asyncio.CancelledError:
            if not watch.expired(task):
                raise
            return text_reply(504, "kwake gateway: request timeout\n")
        except ConnectionRefusedError as exc:
            if not body_started(body):
                raise PodRefusedError(str(exc)) from exc
            return bad_gateway(f"{ctx.pod} refused the connection")
        except TimeoutError:
            return text_reply(504, "kwake gateway: request timeout\n")
        except BodyTooLargeError as exc:
            return text_reply(413, f"kwake gateway: {exc}\n")
        except ClosedBeforeResponseError as exc:
            # A pod shutting down (still listed while it leaves Endpoints) accepted and closed.
            # Nothing of the response was seen, and the method is safe to repeat: use another pod.
            if request.method in RETRYABLE_METHODS and body is None:
                raise PodClosedError(str(exc)) from exc
            return bad_gateway(f"{ctx.pod}: {exc}")
        except (UpstreamError, OSError) as exc:
            return bad_gateway(f"{ctx.pod}: {exc}")
        finally:
            watch.unwatch(task)
        try:
            return await self._stream(request, upstream, ctx)
        finally:
            upstream.release()

    async def _stream(self, request: Exchange, upstream: UpstreamResponse, ctx: RequestContext) -> Reply:
        headers = downstream_headers(upstream.headers)
        loop = asyncio.get_running_loop()
        size = 0
        try:
            async with asyncio.timeout_at(_idle_bound(ctx.total_deadline, ctx.idle_timeout, loop)) as scope:
                await request.start_stream(upstream.status, upstream.reason, headers, upstream.content_length)
                while chunk := await upstream.next_chunk():
                    await request.write(chunk)
                    size += len(chunk)
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
            request.abort()
            return Reply(upstream.status, sent=True, size=size)
        await request.end_stream()
        return Reply(upstream.status, sent=True, size=size)


def _idle_bound(deadline: float, idle_timeout: float, loop: asyncio.AbstractEventLoop) -> float:
    """The earlier of `deadline` and `idle_timeout` seconds from now (when one is set)."""
    return min(deadline, loop.time() + idle_timeout) if idle_timeout else deadline
