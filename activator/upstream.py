"""Keep-alive HTTP/1.1 connections to pods: the gateway's hot path to upstream.

Measured on this machine, aiohttp's ClientSession spends about 350 us of CPU per proxied request;
this pool, a bare asyncio protocol per connection with the parsing in `http1`, spends a fraction
of that. It does only what the proxy needs: one request at a time per connection, streaming
bodies both ways with flow control, idle connections reused LIFO per pod and closed after
`idle_timeout_s`. Websockets and the autoscaler's calls still go through the shared ClientSession.

A reused connection that the pod closed while idle is detected when no byte of the response
arrives; a request without a body is then sent once more on a fresh connection (nothing was
processed), as nginx does for idempotent retries.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import select
import time
from collections.abc import AsyncIterator, Callable, Iterable

from multidict import CIMultiDict

from activator import http1
from activator.backends import PodAddress

# Pause reading from a pod once this much of its body waits for the client.
_READ_HIGH_WATER = 256 * 1024


class UpstreamError(Exception):
    """The pod failed: connection error, protocol error, or the body cut short."""


class ClosedBeforeResponseError(UpstreamError):
    """The pod closed the connection before any byte of the response.

    On a reused connection the pod most likely closed it while idle: a bodiless request is sent
    once more on a fresh connection. On a fresh one the pod is going away (accepted, then shut
    down): the gateway may send an idempotent request to another pod.
    """


class _Connection(asyncio.Protocol):
    def __init__(self, pod: PodAddress, on_lost: Callable[[_Connection], None]) -> None:
        self.pod = pod
        self._on_lost: Callable[[_Connection], None] | None = on_lost
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._loop = asyncio.get_running_loop()
        self._buffer = bytearray()
        self._method = "GET"
        self._head_waiter: asyncio.Future[http1.ResponseHead] | None = None
        self._got_bytes = False
        # Body state.
        self._head: http1.ResponseHead | None = None
        self._remaining: int | None = None
        self._chunked: http1.ChunkedDecoder | None = None
        self._chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._body_done = False
        self._body_error: BaseException | None = None
        self._body_waiter: asyncio.Future[None] | None = None
        self._reading_paused = False
        self._reusable_request = True
        # Upload flow control.
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None

    # asyncio.Protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is alike, not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        on_lost, self._on_lost = self._on_lost, None
        if on_lost is not None:
            on_lost(self)
        if self._head_waiter is not None and not self._head_waiter.done():
            kind = UpstreamError if self._got_bytes else ClosedBeforeResponseError
            self._head_waiter.set_exception(kind(f"{self.pod} closed the connection: {exc or 'EOF'}"))
        elif self._head is not None and not self._body_done:
            if self._remaining is None and self._chunked is None:
                self._body_done = True  # read-until-close framing: this is the end
            else:
                self._body_error = UpstreamError(f"{self.pod} closed the connection mid-response")
            self._wake_body()
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_exception(UpstreamError(f"{self.pod} closed the connection"))

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)

    def data_received(self, data: bytes) -> None:
        self._got_bytes = True
        try:
            if self._head is None:
                # A head that comes in one piece (nearly all) is parsed from `data` itself.
                source: bytes | bytearray = data
                if self._buffer:
                    self._buffer += data
                    source = self._buffer
                parsed = http1.parse_response_head(source, self._method)
                if parsed is None:
                    if source is data:
                        self._buffer += data
                    return
                head, size = parsed
                rest = bytes(source[size:])
                self._buffer.clear()
                if 100 <= head.status < 200:
                    # Interim responses (100 Continue) precede the real one.
                    if rest:
                        self.data_received(rest)
                    return
                self._start_body(head)
                if self._head_waiter is not None and not self._head_waiter.done():
                    self._head_waiter.set_result(head)
                if rest:
                    self._feed_body(rest)
                elif self._remaining == 0:
                    self._finish_body()
            else:
                self._feed_body(data)
        except http1.ProtocolError as exc:
            self._fail(UpstreamError(f"{self.pod}: {exc}"))

    # Request side ---------------------------------------------------------------------------

    def begin(self, method: str) -> None:
        self._method = method
        self._head = None
        self._got_bytes = False
        self._remaining = None
        self._chunked = None
        self._chunks.clear()
        self._buffered = 0
        self._body_done = False
        self._body_error = None
        self._reusable_request = True
        self._head_waiter = self._loop.create_future()

    def write(self, data: bytes | bytearray) -> None:
        if self.closed or self.transport is None:
            raise ClosedBeforeResponseError(f"{self.pod} connection is closed")
        self.transport.write(data)

    async def drain(self) -> None:
        if self._write_paused and not self.closed:
            self._drain_waiter = self._loop.create_future()
            await self._drain_waiter

    @property
    def head_waiter(self) -> asyncio.Future[http1.ResponseHead]:
        assert self._head_waiter is not None
        return self._head_waiter

    def forbid_reuse(self) -> None:
        """The request body was not sent whole: this connection's framing is lost."""
        self._reusable_request = False

    # Body side ------------------------------------------------------------------------------

    def _start_body(self, head: http1.ResponseHead) -> None:
        self._head = head
        if head.chunked:
            self._chunked = http1.ChunkedDecoder()
        else:
            self._remaining = head.content_length

    def _feed_body(self, data: bytes) -> None:
        if self._body_done:
            self._fail(UpstreamError(f"{self.pod} sent bytes after the response"))
            return
        if self._chunked is not None:
            pieces, rest = self._chunked.feed(data)
            for piece in pieces:
                self._push(piece)
            if self._chunked.done:
                if rest:
                    self._fail(UpstreamError(f"{self.pod} sent bytes after the response"))
                    return
                self._finish_body()
            return
        if self._remaining is None:
            self._push(data)
            return
        if len(data) > self._remaining:
            self._fail(UpstreamError(f"{self.pod} sent more than its Content-Length"))
            return
        self._remaining -= len(data)
        self._push(data)
        if self._remaining == 0:
            self._finish_body()

    def _push(self, data: bytes) -> None:
        if not data:
            return
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > _READ_HIGH_WATER and not self._reading_paused and self.transport:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake_body()

    def _finish_body(self) -> None:
        self._body_done = True
        self._wake_body()

    def _wake_body(self) -> None:
        if self._body_waiter is not None and not self._body_waiter.done():
            self._body_waiter.set_result(None)

    def _fail(self, error: UpstreamError) -> None:
        if self._head_waiter is not None and not self._head_waiter.done():
            self._head_waiter.set_exception(error)
        else:
            self._body_error = error
            self._wake_body()
        self.abort()

    def take_whole_body(self) -> bytes | None:
        """The body, if all of it is here already (a small answer usually comes with its head)."""
        if not self._body_done or self._body_error is not None:
            return None
        chunks = self._chunks
        if len(chunks) == 1:
            whole = chunks.popleft()
        else:
            whole = b"".join(chunks)
            chunks.clear()
        self._buffered = 0
        return whole

    async def next_chunk(self) -> bytes:
        """The next piece of the body, or b"" at its end; raises UpstreamError if cut short."""
        while not self._chunks:
            if self._body_error is not None:
                raise self._body_error
            if self._body_done:
                return b""
            self._body_waiter = self._loop.create_future()
            await self._body_waiter
        chunk = self._chunks.popleft()
        self._buffered -= len(chunk)
        if self._reading_paused and self._buffered < _READ_HIGH_WATER // 2 and self.transport:
            self._reading_paused = False
            self.transport.resume_reading()
        return chunk

    @property
    def reusable(self) -> bool:
        return (
            self._reusable_request
            and not self.closed
            and self._body_done
            and self._body_error is None
            and self._head is not None
            and self._head.keep_alive
            and not self._chunks
        )

    def dropped(self) -> bool:
        """Whether the pod closed (or wrote to) this idle connection in a way the loop has not
        read yet: an idle HTTP/1.1 connection has nothing to read, so anything readable means it
        cannot carry a request (urllib3's is_connection_dropped does the same)."""
        sock = self.transport.get_extra_info("socket") if self.transport is not None else None
        if sock is None:
            return True
        try:
            readable, _, _ = select.select([sock.fileno()], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def abort(self) -> None:
        self.closed = True
        # Whoever sent the request has given up on its answer: cancel the wait rather than let
        # connection_lost fail a future nobody will read ("exception was never retrieved").
        if self._head_waiter is not None and not self._head_waiter.done():
            self._head_waiter.cancel()
        if self.transport is not None:
            self.transport.abort()


class UpstreamResponse:
    def __init__(
        self,
        pool: UpstreamPool,
        connection: _Connection,
        head: http1.ResponseHead,
        sender: asyncio.Future[None] | None = None,
    ) -> None:
        self._pool = pool
        self._connection: _Connection | None = connection
        # The request body still being sent when the pod answered early, if it was.
        self._sender = sender
        self._head = head
        self.status = head.status
        self.reason = head.reason
        # The head as the pod sent it, when the client can have it unchanged (http1).
        self.verbatim = head.verbatim
        self.content_length = head.content_length if not head.chunked else None

    @property
    def headers(self) -> CIMultiDict[str]:
        return self._head.headers

    async def read(self) -> bytes:
        connection = self._connection
        assert connection is not None, "body already released"
        whole = connection.take_whole_body()
        if whole is not None:
            return whole
        parts = []
        while chunk := await connection.next_chunk():
            parts.append(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def next_chunk(self) -> bytes:
        """The next piece of the body, b"" at its end (a method, not an async generator: those
        are not compiled, see activator/native.py)."""
        connection = self._connection
        assert connection is not None, "body already released"
        return await connection.next_chunk()

    def release(self) -> None:
        """Give the connection back if the body was read whole; otherwise close it."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        sender, self._sender = self._sender, None
        if sender is not None and not (sender.done() and not sender.cancelled() and not sender.exception()):
            # The request body was not sent whole: the connection's framing is lost.
            _stop_sender(sender)
            connection.forbid_reuse()
        if connection.reusable:
            self._pool.put_back(connection)
        else:
            connection.abort()


class UpstreamPool:
    def __init__(
        self,
        connect_timeout_s: float = 5.0,
        idle_timeout_s: float = 30.0,
        max_connections_per_pod: int = 1000,
    ) -> None:
        self._connect_timeout = connect_timeout_s
        self._idle_timeout = idle_timeout_s
        # Bounds file descriptors and spares a pod a SYN flood when thousands of queued requests
        # are released at once; further requests wait for a connection, oldest first.
        self._max_per_pod = max_connections_per_pod
        self._idle: dict[PodAddress, list[_Connection]] = {}
        self._open: dict[PodAddress, int] = {}
        self._waiters: dict[PodAddress, collections.deque[asyncio.Future[_Connection | None]]] = {}
        self._closed = False

    async def request(
        self,
        pod: PodAddress,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]],
        body: bytes | AsyncIterator[bytes] | None = None,
        content_length: int | None = None,
        *,
        encoded_head: bytes | None = None,
    ) -> UpstreamResponse:
        """Sends the request and waits for the response head.

        `encoded_head`, when given, is the whole head to send instead of one built from
        `method`, `target` and `headers`, its framing included (a body is then bytes).
        Raises ConnectionRefusedError (nothing was sent) or other OSError from connecting,
        UpstreamError for failures after that. Cancellation closes the connection.
        """
        if encoded_head is not None:
            head = encoded_head
        else:
            if body is None:
                framing = None
            elif content_length is not None:
                framing = f"Content-Length: {content_length}"
            elif isinstance(body, bytes):
                framing = f"Content-Length: {len(body)}"
            else:
                framing = "Transfer-Encoding: chunked"
            head = http1.encode_request_head(method, target, headers, framing)
        for attempt in (1, 2):
            # A bodiless request that meets a connection closed while idle is simply sent again;
            # one with a body cannot be, so its connection is checked before use.
            # An idle connection without awaiting: the common case costs no extra coroutine.
            connection = self._take_idle(pod, check_alive=body is not None)
            reused = connection is not None
            if connection is None:
                connection, reused = await self._acquire(pod, check_alive=body is not None)
            try:
                connection.begin(method)
                if body is None:
                    connection.write(head)
                elif isinstance(body, bytes):
                    connection.write(head + body)
                else:
                    connection.write(head)
                    response_head, sender = await _stream_and_read_head(
                        connection, body, chunked=content_length is None
                    )
                    return UpstreamResponse(self, connection, response_head, sender)
                response_head = await connection.head_waiter
            except ClosedBeforeResponseError:
                connection.abort()
                if reused and body is None and attempt == 1:
                    continue
                raise
            except BaseException:
                connection.abort()
                raise
            return UpstreamResponse(self, connection, response_head)
        raise AssertionError("unreachable")

    def _take_idle(self, pod: PodAddress, *, check_alive: bool) -> _Connection | None:
        """The most recently used idle connection to `pod` that is still good, if any."""
        idle = self._idle.get(pod)
        if not idle:
            return None
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if (
                not connection.closed
                and now - connection.idle_since < self._idle_timeout
                and (not check_alive or not connection.dropped())
            ):
                return connection
            connection.abort()
        return None

    async def _acquire(self, pod: PodAddress, *, check_alive: bool = False) -> tuple[_Connection, bool]:
        while True:
            idle = self._take_idle(pod, check_alive=check_alive)
            if idle is not None:
                return idle, True
            if self._open.get(pod, 0) < self._max_per_pod:
                return await self._connect(pod), False
            handed = await self._wait_for_connection(pod)
            if handed is not None:
                return handed, True
            # A connection closed and freed a slot: go round and open one.

    async def _connect(self, pod: PodAddress) -> _Connection:
        self._open[pod] = self._open.get(pod, 0) + 1
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, protocol = await loop.create_connection(
                    lambda: _Connection(pod, self._lost), pod.ip, pod.port
                )
        except BaseException:
            self._free_slot(pod)
            raise
        return protocol

    async def _wait_for_connection(self, pod: PodAddress) -> _Connection | None:
        waiter: asyncio.Future[_Connection | None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(pod, collections.deque()).append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                handed = waiter.result()
                if handed is not None:
                    self.put_back(handed)
                else:
                    self._wake_one(pod, None)
            else:
                with contextlib.suppress(ValueError):
                    self._waiters[pod].remove(waiter)
            raise

    def _wake_one(self, pod: PodAddress, connection: _Connection | None) -> bool:
        waiters = self._waiters.get(pod)
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return True
        return False

    def _lost(self, connection: _Connection) -> None:
        self._free_slot(connection.pod)

    def _free_slot(self, pod: PodAddress) -> None:
        left = self._open.get(pod, 1) - 1
        if left > 0:
            self._open[pod] = left
        else:
            self._open.pop(pod, None)
        self._wake_one(pod, None)

    def put_back(self, connection: _Connection) -> None:
        if self._closed:
            connection.abort()
            return
        if self._wake_one(connection.pod, connection):
            return
        connection.idle_since = time.monotonic()
        self._idle.setdefault(connection.pod, []).append(connection)

    def sweep(self) -> int:
        """Close connections idle past the timeout and forget pods with none; returns how many."""
        now = time.monotonic()
        closed = 0
        for pod in list(self._idle):
            keep = []
            for connection in self._idle[pod]:
                if connection.closed or now - connection.idle_since >= self._idle_timeout:
                    connection.abort()
                    closed += 1
                else:
                    keep.append(connection)
            if keep:
                self._idle[pod] = keep
            else:
                del self._idle[pod]
        return closed

    def idle_connections(self) -> int:
        return sum(len(c) for c in self._idle.values())

    def close(self) -> None:
        self._closed = True
        for connections in self._idle.values():
            for connection in connections:
                connection.abort()
        self._idle.clear()


async def _stream_and_read_head(
    connection: _Connection, body: AsyncIterator[bytes], *, chunked: bool
) -> tuple[http1.ResponseHead, asyncio.Future[None] | None]:
    """Streams the body while watching for the answer. A pod may answer before it has read the
    whole body: with an error (413, 401) it means to pass on, or to stream full duplex. The body
    then goes on being sent behind the response, by the returned task, until the response is
    released."""
    sender = asyncio.ensure_future(_send_stream(connection, body, chunked=chunked))
    head = connection.head_waiter
    try:
        await asyncio.wait((sender, head), return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        _stop_sender(sender)
        raise
    if not head.done():
        try:
            sender.result()  # the body failed first (too large, client gone): raise that
            return await head, None
        except BaseException:
            _stop_sender(sender)
            raise
    if head.exception() is not None:
        _stop_sender(sender)
        head.result()
    return head.result(), (None if sender.done() and not sender.exception() else sender)


def _stop_sender(sender: asyncio.Future[None]) -> None:
    sender.cancel()
    # Retrieve its outcome so that a failure is never reported as unhandled.
    sender.add_done_callback(lambda task: task.cancelled() or task.exception())


async def _send_stream(connection: _Connection, body: AsyncIterator[bytes], *, chunked: bool) -> None:
    async for chunk in body:
        if not chunk:
            continue
        connection.write(http1.encode_chunk(chunk) if chunked else chunk)
        await connection.drain()
    if chunked:
        connection.write(http1.LAST_CHUNK)
