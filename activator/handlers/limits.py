"""Request size limits: headers over the limit get 431, declared bodies over it 413.

Chunked bodies are counted as they stream (see `limited_body`): the proxy answers 413 when the
count passes the limit before the pod has answered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import StreamReader, web

from activator.config import GatewayConfig
from activator.handlers.chain import Check
from activator.headers import header_bytes


class BodyTooLargeError(Exception):
    """A streamed request body passed the limit."""


def limits_check(config: GatewayConfig) -> Check:
    def limits(request: web.BaseRequest) -> web.StreamResponse | None:
        if header_bytes(request.headers) > config.max_header_bytes:
            return web.Response(status=431, text="request header fields too large")
        length = request.content_length
        if length is not None and length > config.max_body_bytes:
            return web.Response(status=413, text=f"request body over {config.max_body_bytes} bytes")
        return None

    return limits


async def limited_body(content: StreamReader, limit: int) -> AsyncIterator[bytes]:
    seen = 0
    async for chunk in content.iter_any():
        seen += len(chunk)
        if seen > limit:
            raise BodyTooLargeError(f"request body over {limit} bytes")
        yield chunk
