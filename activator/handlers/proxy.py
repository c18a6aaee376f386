"""The last handler: sends the request to the chosen pod and the pod's answer back.

One shared ClientSession (keep-alive pools per pod). Bodies stream both ways; a response with a
small declared length is read whole and written at once, which costs less than streaming it.
Connection refused before anything was sent is raised as `PodRefusedError` for the throttler to
retry elsewhere; other upstream failures before the response starts are 502, and a deadline
passed before it starts is 504. A pod that fails mid-response cuts that response short only.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from activator.config import GatewayConfig
from activator.handlers import websocket
from activator.handlers.context import CONTEXT, PodRefusedError, RequestContext
from activator.handlers.limits import BodyTooLargeError, limited_body
from activator.headers import downstream_headers, upstream_headers

log = logging.getLogger("kwake.gateway.proxy")

_NO_TIMEOUT = aiohttp.ClientTimeout(total=None)


class Proxy:
    def __init__(self, config: GatewayConfig) -> None:
        self._config = config
        # Attached when the app starts: a session needs a running loop.
        self.session: aiohttp.ClientSession | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ctx = request[CONTEXT]
        session = self.session
        assert session is not None, "the app's cleanup context attaches the session"
        assert ctx.pod is not None and ctx.path is not None and ctx.split is not None
        extra = ctx.path.append_headers + ctx.split.append_headers
        headers = upstream_headers(
            request.headers,
            peer=request.remote,
            scheme=request.scheme,
            host=request.host,
            request_id=ctx.request_id,
            extra=extra,
        )
        url = URL(f"http://{ctx.pod.authority}{request.raw_path}", encoded=True)
        if websocket.is_upgrade(request):
            return await websocket.proxy_websocket(request, session, url, headers, ctx)
        return await self._proxy_http(session, request, url, headers, ctx)

    async def _proxy_http(
        self,
        session: aiohttp.ClientSession,
        request: web.Request,
        url: URL,
        headers: CIMultiDict[str],
        ctx: RequestContext,
    ) -> web.StreamResponse:
        body = None
        if request.body_exists:
            body = limited_body(request.content, self._config.max_body_bytes)
            if request.content_length is not None:
                headers["Content-Length"] = str(request.content_length)
        try:
            async with asyncio.timeout_at(ctx.response_deadline):
                upstream = await session.request(
                    request.method,
                    url,
                    headers=headers,
                    data=body,
                    allow_redirects=False,
                    timeout=_NO_TIMEOUT,
                )
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, ConnectionRefusedError) and not _body_started(request):
                raise PodRefusedError(str(exc)) from exc
            return _bad_gateway(f"cannot connect to {ctx.pod}: {exc.os_error}")
        except TimeoutError:
            return web.Response(status=504, text="kwake gateway: request timeout\n")
        except BodyTooLargeError as exc:
            return web.Response(status=413, text=f"kwake gateway: {exc}\n")
        except aiohttp.ClientError as exc:
            too_large = _caused_by(exc, BodyTooLargeError)
            if too_large is not None:
                return web.Response(status=413, text=f"kwake gateway: {too_large}\n")
            return _bad_gateway(f"{type(exc).__name__} from {ctx.pod}")
        try:
            async with asyncio.timeout_at(ctx.total_deadline):
                return await self._respond(request, upstream)
        finally:
            upstream.release()

    async def _respond(self, request: web.Request, upstream: aiohttp.ClientResponse) -> web.StreamResponse:
        headers = downstream_headers(upstream.headers)
        length = upstream.content_length
        if length is not None and length <= self._config.buffer_small_bodies_bytes:
            try:
                payload = await upstream.read()
            except (aiohttp.ClientError, ConnectionError) as exc:
                return _bad_gateway(f"{type(exc).__name__} reading the response")
            return web.Response(status=upstream.status, reason=upstream.reason, headers=headers, body=payload)
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason, headers=headers)
        if length is not None:
            response.content_length = length
        await response.prepare(request)
        try:
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
        except (aiohttp.ClientError, ConnectionError) as exc:
            # Headers are gone already: the only honest signal left is cutting the connection.
            log.warning("upstream failed mid-response: %s", exc)
            if request.transport is not None:
                request.transport.abort()
            return response
        await response.write_eof()
        return response


def _body_started(request: web.Request) -> bool:
    # aiohttp connects before it writes any body, so a refused connect consumed nothing;
    # checked anyway so a retry can never replay a partly read body.
    return request.content.total_bytes > 0


def _caused_by(exc: BaseException, kind: type[Exception]) -> BaseException | None:
    # aiohttp wraps errors raised by a body generator; find ours in the chain.
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None or isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _bad_gateway(reason: str) -> web.Response:
    return web.Response(status=502, text=f"kwake gateway: upstream error: {reason}\n")
