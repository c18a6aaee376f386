"""Request size limits: headers over the limit get 431, declared bodies over it 413.

Chunked bodies are counted as they stream (see `limited_body`): the proxy answers 413 when the
count passes the limit before the pod has answered.
"""

from __future__ import annotations

from aiohttp import StreamReader

from activator.config import GatewayConfig
from activator.handlers.chain import Check
from activator.handlers.exchange import Exchange, Reply, text_reply


class BodyTooLargeError(Exception):
    """A streamed request body passed the limit."""


def limits_check(config: GatewayConfig) -> Check:
    def limits(request: Exchange) -> Reply | None:
        if request.header_bytes > config.max_header_bytes:
            return text_reply(431, "request header fields too large")
        length = request.content_length
        if length is not None and length > config.max_body_bytes:
            return text_reply(413, f"request body over {config.max_body_bytes} bytes")
        return None

    return limits


class LimitedBody:
    """A request body as it streams in, refused past `limit` bytes. `started` turns true when
    the first chunk is taken from the client's stream: until then nothing of it went anywhere,
    and a pod that refused the connection can be swapped for another (bytes that merely arrived
    with the headers do not count)."""

    def __init__(self, content: StreamReader, limit: int) -> None:
        self._content = content
        self._limit = limit
        self._seen = 0
        self.started = False

    def __aiter__(self) -> LimitedBody:
        return self

    async def __anext__(self) -> bytes:
        self.started = True
        chunk = await self._content.readany()
        if not chunk:
            raise StopAsyncIteration
        self._seen += len(chunk)
        if self._seen > self._limit:
            raise BodyTooLargeError(f"request body over {self._limit} bytes")
        return chunk


def limited_body(content: StreamReader, limit: int) -> LimitedBody:
    return LimitedBody(content, limit)
