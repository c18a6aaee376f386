"""WebSocket (Upgrade) requests: a websocket to the pod, one to the client, frames pumped both ways.

A client handshake that is not valid is refused (400) before any pod is asked. Then the pod's
handshake answer decides: a refused connection is retried like any request; a pod that declines
the upgrade has its status passed back (with the gateway's own body: aiohttp's client keeps no
body of a declined upgrade). The pod slot stays held while the socket lives.
"""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from activator.handlers.context import PodRefusedError, RequestContext
from activator.handlers.exchange import Exchange

# The handshake is redone hop by hop: these belong to each hop, not to the request.
_HANDSHAKE_HEADERS = frozenset(
    {"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol"}
)


def is_upgrade(request: Exchange) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


async def proxy_websocket(
    request: web.BaseRequest,
    session: aiohttp.ClientSession,
    url: URL,
    headers: CIMultiDict[str],
    ctx: RequestContext,
) -> web.StreamResponse:
    if request.method != "GET" or not web.WebSocketResponse().can_prepare(request).ok:
        # Refuse a handshake the client side could never complete before a pod is bothered
        # (RFC 6455 4.1: a GET with Upgrade, Connection: Upgrade, a 16-byte key, version 13).
        return web.Response(status=400, text="kwake gateway: not a valid websocket handshake\n")
    for name in list(headers.keys()):
        if name.lower() in _HANDSHAKE_HEADERS:
            del headers[name]
    headers["Host"] = request.host
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    try:
        async with asyncio.timeout_at(ctx.response_deadline):
            upstream = await session.ws_connect(url, headers=headers, protocols=offered, autoping=True)
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, ConnectionRefusedError):
            raise PodRefusedError(str(exc)) from exc
        return web.Response(status=502, text=f"kwake gateway: cannot connect to {ctx.pod}\n")
    except aiohttp.WSServerHandshakeError as exc:
        return web.Response(status=exc.status or 502, text="kwake gateway: upstream refused the upgrade\n")
    except TimeoutError:
        return web.Response(status=504, text="kwake gateway: request timeout\n")
    except aiohttp.ClientError as exc:
        return web.Response(status=502, text=f"kwake gateway: upstream error: {type(exc).__name__}\n")
    try:
        client = web.WebSocketResponse(protocols=(upstream.protocol,) if upstream.protocol else ())
        await client.prepare(request)
        to_pod = asyncio.ensure_future(_pump(client, upstream))
        to_client = asyncio.ensure_future(_pump(upstream, client))
        try:
            await asyncio.wait((to_pod, to_client), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (to_pod, to_client):
                task.cancel()
            await asyncio.gather(to_pod, to_client, return_exceptions=True)
            code = upstream.close_code or client.close_code or aiohttp.WSCloseCode.OK
            with contextlib.suppress(ConnectionError):
                await client.close(code=code)
            await upstream.close(code=client.close_code or aiohttp.WSCloseCode.OK)
        return client
    finally:
        await upstream.close()


async def _pump(
    source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
    sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
) -> None:
    async for message in source:
        if message.type == aiohttp.WSMsgType.TEXT:
            await sink.send_str(message.data)
        elif message.type == aiohttp.WSMsgType.BINARY:
            await sink.send_bytes(message.data)
        else:
            break
