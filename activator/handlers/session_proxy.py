"""The HTTP hop through aiohttp's ClientSession: kept as the reference the benchmark compares the
keep-alive pool (`activator.upstream`) against, selected by `GatewayConfig.upstream_client`.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from activator.config import GatewayConfig
from activator.handlers.context import PodRefusedError, RequestContext
from activator.handlers.limits import BodyTooLargeError, limited_body
from activator.handlers.responses import bad_gateway, body_started, caused_by
from activator.headers import downstream_headers

log = logging.getLogger("kwake.gateway.proxy")

_NO_TIMEOUT = aiohttp.ClientTimeout(total=None)


async def forward(
    session: aiohttp.ClientSession,
    config: GatewayConfig,
    request: web.BaseRequest,
    headers: CIMultiDict[str],
    ctx: RequestContext,
) -> web.StreamResponse:
    assert ctx.pod is not None
    url = URL(f"http://{ctx.pod.authority}{request.raw_path}", encoded=True)
    body = None
    if request.body_exists:
        body = limited_body(request.content, config.max_body_bytes)
        if request.content_length is not None:
            headers["Content-Length"] = str(request.content_length)
    try:
        async with asyncio.timeout_at(ctx.response_deadline):
            upstream = await session.request(
                request.method, url, headers=headers, data=body, allow_redirects=False, timeout=_NO_TIMEOUT
            )
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, ConnectionRefusedError) and not body_started(body):
            raise PodRefusedError(str(exc)) from exc
        return bad_gateway(f"cannot connect to {ctx.pod}: {exc.os_error}")
    except TimeoutError:
        return web.Response(status=504, text="kwake gateway: request timeout\n")
    except BodyTooLargeError as exc:
        return web.Response(status=413, text=f"kwake gateway: {exc}\n")
    except aiohttp.ClientError as exc:
        too_large = caused_by(exc, BodyTooLargeError)
        if too_large is not None:
            return web.Response(status=413, text=f"kwake gateway: {too_large}\n")
        return bad_gateway(f"{type(exc).__name__} from {ctx.pod}")
    try:
        async with asyncio.timeout_at(ctx.total_deadline):
            return await _respond(config, request, upstream)
    finally:
        upstream.release()


async def _respond(
    config: GatewayConfig, request: web.BaseRequest, upstream: aiohttp.ClientResponse
) -> web.StreamResponse:
    headers = downstream_headers(upstream.headers)
    length = upstream.content_length
    if length is not None and length <= config.buffer_small_bodies_bytes:
        try:
            payload = await upstream.read()
        except (aiohttp.ClientError, ConnectionError) as exc:
            return bad_gateway(f"{type(exc).__name__} reading the response")
        return web.Response(status=upstream.status, reason=upstream.reason, headers=headers, body=payload)
    response = web.StreamResponse(status=upstream.status, reason=upstream.reason, headers=headers)
    if length is not None:
        response.content_length = length
    await response.prepare(request)
    try:
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
    except (aiohttp.ClientError, ConnectionError) as exc:
        log.warning("upstream failed mid-response: %s", exc)
        if request.transport is not None:
            request.transport.abort()
        return response
    await response.write_eof()
    return response
