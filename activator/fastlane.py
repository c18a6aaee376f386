"""The gateway's own HTTP/1.1 server for plain requests: the data port's hot path.

aiohttp's web server costs about as much CPU per request as everything else the gateway does
together (measured: ~160 us per proxied request through it, ~50 us for a bare protocol over the
same upstream pool). This protocol parses plain requests itself (`plain_request`), runs the
handler chain on them as an `Exchange`, and writes the reply straight to the transport. The
first request on a connection that is not plain hands the connection over to aiohttp's server
(`aiohttp_edge`), bytes already read included, and aiohttp serves it from then on.

Per connection: one request at a time (pipelined requests wait in the buffer, answered in
order); a body must have arrived with its head (else aiohttp streams it); a head must arrive
within the header timeout, checked by a sweep rather than a timer per request; a
client that goes away cancels its request (logged 499). Shutdown closes idle connections,
lets busy ones finish with `Connection: close`, and aborts what is left at the bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import http
import logging
import time
from collections.abc import Awaitable, Callable
from typing import cast

from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from activator.config import GatewayConfig
from activator.handlers.context import Handler, RequestContext
from activator.handlers.exchange import Headers, Reply
from activator.handlers.limits import LimitedBody
from activator.http1 import LAST_CHUNK, encode_chunk
from activator.plain_request import NotPlain, PlainRequest, parse_plain_request

log = logging.getLogger("kwake.gateway.fastlane")

_REASONS = {status.value: status.phrase for status in http.HTTPStatus}
# Statuses that never carry a body (RFC 9110 6.4.1).
_NO_BODY = frozenset({204, 304}) | frozenset(range(100, 200))
_END_OF_HEAD = b"\r\n\r\n"
_CLOSE_AND_END_OF_HEAD = b"\r\nConnection: close\r\n\r\n"
# Bytes buffered behind a request in progress before the client is read no more.
_PIPELINE_BUFFER = 256 * 1024


class FastLane:
    """The data port's protocol factory, and the registry its shutdown walks."""

    def __init__(
        self, handler: Handler, fallback: Callable[[], asyncio.Protocol], config: GatewayConfig
    ) -> None:
        self.handler = handler
        self.fallback = fallback
        self.max_head_bytes = config.max_header_bytes
        self.max_body_bytes = min(config.buffer_small_bodies_bytes, config.max_body_bytes)
        self.header_timeout_s = config.header_timeout_s
        self.closing = False
        self.connections: set[FastConnection] = set()
        self._sweeper: asyncio.TimerHandle | None = None
        self._emptied = asyncio.Event()
        self._date_second = -1
        self._date = ""

    def __call__(self) -> FastConnection:
        return FastConnection(self)

    def start(self) -> None:
        self._schedule_sweep()

    def date(self) -> str:
        """The Date header's value, formatted once a second."""
        now = int(time.time())
        if now != self._date_second:
            self._date_second, self._date = now, email.utils.formatdate(now, usegmt=True)
        return self._date

    def _schedule_sweep(self) -> None:
        period = min(1.0, self.header_timeout_s / 4)
        self._sweeper = asyncio.get_running_loop().call_later(period, self._sweep)

    def _sweep(self) -> None:
        """Closes connections that have not sent a whole request within the header timeout:
        idle keep-alive ones and slow-loris ones alike (as aiohttp's keep-alive timeout does)."""
        cutoff = asyncio.get_running_loop().time() - self.header_timeout_s
        for connection in [c for c in self.connections if c.waiting_since < cutoff]:
            connection.close()
        self._schedule_sweep()

    def forget(self, connection: FastConnection) -> None:
        self.connections.discard(connection)
        if self.closing and not self.connections:
            self._emptied.set()

    async def shutdown(self, grace_s: float) -> None:
        """Idle connections closed now, busy ones after their answer, the rest cut at `grace_s`."""
        self.closing = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        for connection in list(self.connections):
            connection.close_when_idle()
        if self.connections:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace_s):
                    await self._emptied.wait()
        for connection in list(self.connections):
            connection.abort()


class FastConnection(asyncio.Protocol):
    def __init__(self, lane: FastLane) -> None:
        self._lane = lane
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        # One task serves the connection's requests in turn, waiting on `_next` between them:
        # cheaper than a task per request (aiohttp's server does the same).
        self._runner: asyncio.Task[None] | None = None
        self._next: asyncio.Future[FastExchange] | None = None
        self._busy = False
        self._handed_over = False
        self.remote: str | None = None
        # Loop time since when a request is awaited; infinite while one is being served.
        self.waiting_since = self._loop.time()
        self.keep_alive = True
        self._reading_paused = False
        self._writing_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self.closed = False

    # -- asyncio.Protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike.
        self._transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.remote = str(peer[0]) if isinstance(peer, tuple) else None
        self._lane.connections.add(self)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self._busy:
            exchange = self._take_request()
            if exchange is None:
                return
            waiter, self._next = self._next, None
            if waiter is not None:
                waiter.set_result(exchange)
            else:
                self._runner = self._loop.create_task(self._run(exchange))
        elif len(self._buffer) > _PIPELINE_BUFFER and not self._reading_paused:
            assert self._transport is not None
            self._transport.pause_reading()
            self._reading_paused = True

    def eof_received(self) -> bool:
        # A client that closes its side has gone, as aiohttp and nginx take it: its request is
        # cancelled (a queued one never reaches a pod) and the connection closed.
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._lane.forget(self)
        self._stop_runner()
        self._wake_writer(ConnectionResetError("client connection lost"))

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake_writer(None)

    # -- requests -------------------------------------------------------------------------------

    def _take_request(self) -> FastExchange | None:
        """The next whole plain request in the buffer; None if it is incomplete, or if it is not
        plain (the connection is then aiohttp's)."""
        lane = self._lane
        try:
            parsed = parse_plain_request(self._buffer, lane.max_head_bytes, lane.max_body_bytes)
        except NotPlain:
            self._hand_over()
            return None
        if parsed is None:
            return None
        head, end = parsed
        length = head.content_length or 0
        if len(self._buffer) < end + length:
            # Not all of the body came with the head: aiohttp streams it to the pod as it comes
            # (a stalled body then meets the revision's timeout, not this lane's header timeout).
            self._hand_over()
            return None
        body = bytes(self._buffer[end : end + length])
        del self._buffer[: end + length]
        self._busy = True
        self.waiting_since = float("inf")
        self.keep_alive = head.keep_alive and not lane.closing
        return FastExchange(self, head, body, end)

    async def _run(self, exchange: FastExchange) -> None:
        """Serves requests until the connection closes, is handed over, or goes idle for good."""
        handler = self._lane.handler
        while True:
            try:
                reply = await handler(exchange)
            except asyncio.CancelledError:
                self._busy = False
                self.abort()  # the client went away (or shutdown cut the request)
                raise
            except Exception as error:
                log.error("error handling %s %s", exchange.method, exchange.raw_path, exc_info=error)
                self._busy = False
                if exchange.started:
                    self.abort()
                    return
                self.keep_alive = False
                reply = Reply(
                    500, b"kwake gateway: internal error\n", content_type="text/plain; charset=utf-8"
                )
            self._busy = False
            if exchange.aborted or self.closed:
                return
            if not reply.sent:
                self._write_reply(exchange, reply)
            if not self.keep_alive:
                self.close()
                return
            self.waiting_since = self._loop.time()
            if self._reading_paused:
                assert self._transport is not None
                self._reading_paused = False
                self._transport.resume_reading()
            following = self._take_request() if self._buffer else None
            if following is None:
                if self._handed_over or self.closed:
                    return
                waiter = self._next = self._loop.create_future()
                try:
                    following = await waiter
                except asyncio.CancelledError:
                    if waiter.cancelled() and not self._busy:
                        return  # idle, and the connection closed or was handed over
                    raise
            exchange = following

    def _stop_runner(self) -> None:
        """Idle: the runner's wait ends quietly. Busy: its request is cancelled (499)."""
        waiter, self._next = self._next, None
        if waiter is not None:
            waiter.cancel()
        elif self._busy and self._runner is not None:
            self._runner.cancel()

    def _hand_over(self) -> None:
        """From now on aiohttp's server serves this connection, starting with what was read."""
        transport = self._transport
        assert transport is not None and not self._busy
        self._handed_over = True
        self._stop_runner()
        self._lane.forget(self)
        if self._reading_paused:
            self._reading_paused = False
            transport.resume_reading()
        protocol = self._lane.fallback()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if self._buffer:
            data, self._buffer = bytes(self._buffer), bytearray()
            protocol.data_received(data)

    # -- writing --------------------------------------------------------------------------------

    def status_head(self, status: int, reason: str | None, headers: CIMultiDict[str] | None) -> list[str]:
        """The status line and header lines of a response, each line without its CRLF."""
        lines = [f"HTTP/1.1 {status} {reason or _REASONS.get(status, 'Unknown')}"]
        if headers:
            lines.extend(map(": ".join, headers.items()))  # in C: cheaper than formatting each
        if headers is None or "Date" not in headers:
            lines.append(f"Date: {self._lane.date()}")
        if not self.keep_alive:
            lines.append("Connection: close")
        return lines

    def _write_reply(self, exchange: FastExchange, reply: Reply) -> None:
        body = reply.body
        if reply.verbatim_head is not None:
            data = reply.verbatim_head + (_END_OF_HEAD if self.keep_alive else _CLOSE_AND_END_OF_HEAD)
        else:
            headers = reply.headers
            lines = self.status_head(reply.status, reply.reason, headers)
            if reply.content_type is not None and (headers is None or "Content-Type" not in headers):
                lines.append(f"Content-Type: {reply.content_type}")
            if reply.status in _NO_BODY:
                body = b""
            elif headers is None or "Content-Length" not in headers:
                lines.append(f"Content-Length: {len(body)}")
            lines.append("\r\n")
            data = "\r\n".join(lines).encode("utf-8", "surrogateescape")
        if exchange.method == "HEAD":
            body = b""
        assert self._transport is not None
        if len(body) < 65536:
            self._transport.write(data + body)  # one send
        else:
            self._transport.writelines((data, body))

    def write(self, data: bytes) -> None:
        assert self._transport is not None
        self._transport.write(data)

    async def drain(self) -> None:
        if self.closed:
            raise ConnectionResetError("client connection lost")
        if self._writing_paused:
            waiter = self._drain_waiter = self._loop.create_future()
            await waiter

    def _wake_writer(self, error: Exception | None) -> None:
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)

    def close(self) -> None:
        if self._transport is not None and not self.closed:
            self._transport.close()

    def close_when_idle(self) -> None:
        self.keep_alive = False
        if not self._busy:
            self.close()

    def abort(self) -> None:
        if self._transport is not None and not self.closed:
            self._transport.abort()


class FastExchange:
    """A plain request as the chain's `Exchange`, answered on its fast-lane connection."""

    __slots__ = (
        "_body",
        "_chunked",
        "_connection",
        "aborted",
        "content_length",
        "ctx",
        "header_bytes",
        "headers",
        "host",
        "method",
        "raw_path",
        "remote",
        "started",
        "verbatim_head",
    )
    scheme = "http"
    takes_verbatim_heads = True

    def __init__(self, connection: FastConnection, head: PlainRequest, body: bytes, head_bytes: int) -> None:
        self._connection = connection
        # The whole head, an upper bound of the header section (never over the limit: a larger
        # head is not plain).
        self.header_bytes = head_bytes
        self.method = head.method
        self.raw_path = head.target
        self.headers: Headers = head.headers
        self.host = head.host
        self.remote = connection.remote
        self.content_length = head.content_length
        self.verbatim_head = head.verbatim
        self._body = body
        self._chunked = False
        self.started = False
        self.aborted = False
        self.ctx: RequestContext

    @property
    def path(self) -> str:
        target = self.raw_path
        if "%" in target:
            return URL(target, encoded=True).path
        return target.partition("?")[0]

    @property
    def body_exists(self) -> bool:
        return bool(self._body)

    def upstream_body(self, limit: int) -> bytes | LimitedBody | None:
        return self._body or None

    async def start_stream(
        self, status: int, reason: str, headers: CIMultiDict[str], content_length: int | None
    ) -> None:
        connection = self._connection
        lines = connection.status_head(status, reason, headers)
        if status in _NO_BODY:
            pass
        elif content_length is not None:
            lines.append(f"Content-Length: {content_length}")
        else:
            self._chunked = True
            lines.append("Transfer-Encoding: chunked")
        lines.append("\r\n")
        self.started = True
        connection.write("\r\n".join(lines).encode("utf-8", "surrogateescape"))
        await connection.drain()

    async def write(self, data: bytes) -> None:
        if self.method == "HEAD" or not data:
            return
        self._connection.write(encode_chunk(data) if self._chunked else data)
        await self._connection.drain()

    async def end_stream(self) -> None:
        if self._chunked and self.method != "HEAD":
            self._connection.write(LAST_CHUNK)
        await self._connection.drain()

    def abort(self) -> None:
        self.aborted = True
        self._connection.abort()

    async def websocket(self, proxy: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]) -> Reply:
        # Unreachable: a request with Upgrade is never plain.
        return Reply(400, b"kwake gateway: upgrade requests are not served here\n")
