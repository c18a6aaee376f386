"""The gateway's fast lane through a real gateway: raw bytes in, what the client and the pod see.

The fast lane serves plain requests itself and hands a connection to aiohttp's server at the
first request it does not serve. Whether a connection is still the fast lane's is read from
`gw.server._lane.connections` (private: there is no public view of it), which is also how a
test knows the gateway has taken a head before it sends the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email.utils
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

import pytest
from aiohttp import web
from multidict import CIMultiDict

from activator.config import GatewayConfig
from activator.fastlane import FastLane
from activator.routing import RevisionKey
from tests.activator import objects as o
from tests.activator.conftest import ListLines, RunningGateway, StartBackend, StartGateway
from tests.activator.polling import eventually
from tests.activator.rawhttp import RawResponse, split_responses

HOST = "fast.default.example.com"
REV = "fast-00001"
KEY = RevisionKey("default", REV)
# Bound on any one read: a loaded machine is slow, a broken gateway hangs.
READ_BOUND_S = 5.0
BIG = 200_000


@dataclasses.dataclass(frozen=True)
class Seen:
    method: str
    target: str
    headers: CIMultiDict[str]
    body: bytes


@dataclasses.dataclass
class Pod:
    """A recording pod: /echo answers with what it got, /head with a length, /big with a body
    too large to buffer, /chunked with a chunked one, /nothing with 204, /hold waits until
    released (or its client has gone)."""

    seen: list[Seen] = dataclasses.field(default_factory=list)
    held: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    release: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    # Set when the gateway has closed the upstream connection of a held request.
    upstream_gone: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)

    def app(self) -> web.Application:
        async def handle(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            self.seen.append(Seen(request.method, request.raw_path, CIMultiDict(request.headers), body))
            if request.path == "/echo-length":
                return web.Response(text=str(len(body)))
            if request.path == "/head":
                return web.Response(body=b"h" * 1234)
            if request.path == "/big":  # past the gateway's buffered-body size: streamed
                return web.Response(body=b"b" * BIG)
            if request.path == "/chunked":
                response = web.StreamResponse()
                response.enable_chunked_encoding()
                await response.prepare(request)
                for piece in (b"one ", b"two ", b"three"):
                    await response.write(piece)
                await response.write_eof()
                return response
            if request.path == "/nothing":
                return web.Response(status=204)
            if request.path == "/hold":
                self.held.set()
                async with asyncio.timeout(READ_BOUND_S):
                    while not self.release.is_set():
                        transport = request.transport
                        if transport is None or transport.is_closing():
                            self.upstream_gone.set()
                            return web.Response(status=499)
                        await asyncio.sleep(0.01)
                return web.Response(text="released")
            text = body.decode(errors="replace")
            return web.Response(text=f"{request.method} {request.raw_path} {text}")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        return app


def routes(*pod_ports: int) -> list[dict[str, object]]:
    return [
        o.ingress("fast", [HOST], [o.path([o.split(REV, 100)])]),
        o.endpoints(REV, list(pod_ports)),
        o.revision(REV),
    ]


def request(method: str, target: str, *lines: str, body: bytes = b"", host: str = HOST) -> bytes:
    head = [f"{method} {target} HTTP/1.1", f"Host: {host}", *lines]
    if body:
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


class Conn:
    """One client connection to the gateway, kept across requests."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer
        self._data = bytearray()
        self._methods: list[str] = []
        self._taken = 0

    def send(self, data: bytes, *methods: str) -> None:
        """Writes `data`; `methods` are those of the requests in it, in order (for HEAD answers)."""
        self._writer.write(data)
        self._methods += methods

    async def _read(self, remaining: float) -> bool:
        """Reads once; False at EOF."""
        try:
            chunk = await asyncio.wait_for(self._reader.read(1 << 20), remaining)
        except ConnectionError:
            return False
        self._data += chunk
        return bool(chunk)

    def _split(self) -> tuple[list[RawResponse], bytes]:
        return split_responses(bytes(self._data), tuple(self._methods))

    async def responses(self, count: int) -> list[RawResponse]:
        """The next `count` whole responses."""
        async with asyncio.timeout(READ_BOUND_S):
            while len(self._split()[0]) < self._taken + count:
                if not await self._read(READ_BOUND_S):
                    raise AssertionError(f"closed after {bytes(self._data)!r}")
        got = self._split()[0][self._taken : self._taken + count]
        self._taken += count
        return got

    @property
    def rest(self) -> bytes:
        """Bytes after the last whole response."""
        return self._split()[1]

    async def closed_within(self, bound: float) -> bool:
        """Whether the gateway closes the connection within `bound` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + bound
        with contextlib.suppress(TimeoutError):
            while (remaining := deadline - loop.time()) > 0:
                if not await self._read(remaining):
                    return True
        return False

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()


Connect = Callable[[RunningGateway], Awaitable[Conn]]


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    opened: list[Conn] = []

    async def open_one(gw: RunningGateway) -> Conn:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.server.port)
        conn = Conn(reader, writer)
        opened.append(conn)
        return conn

    yield open_one
    for conn in opened:
        await conn.close()


def lane(gw: RunningGateway) -> FastLane:
    return gw.server._lane  # no public view of the fast lane's connections


@pytest.fixture
async def pod_and_gateway(
    start_backend: StartBackend, start_gateway: StartGateway
) -> tuple[Pod, RunningGateway]:
    pod = Pod()
    backend = await start_backend(pod.app())
    return pod, await start_gateway(*routes(backend.port))


# --- one connection, many requests --------------------------------------------------------------


async def test_keep_alive_requests_then_a_chunked_post_handed_to_aiohttp_then_more(
    pod_and_gateway: tuple[Pod, RunningGateway], connect: Connect
) -> None:
    pod, gw = pod_and_gateway
    conn = await connect(gw)
    for i in range(3):
        conn.send(request("GET", f"/echo?i={i}"), "GET")
        [got] = await conn.responses(1)
        assert (got.status, got.body) == (200, f"GET /echo?i={i} ".encode())
        assert "close" not in got.headers.get("Connection", "").lower()
        assert len(lane(gw).connections) == 1, "served by the fast lane"
    conn.send(request("POST", "/echo", "Content-Length: 4", body=b"") + b"body", "POST")
    [got] = await conn.responses(1)
    assert (got.status, got.body) == (200, b"POST /echo body")
    assert len(lane(gw).connections) == 1, "a body that came with its head keeps the fast lane"

    chunked = (
        request("POST", "/echo", "Transfer-Encoding: chunked") + b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    conn.send(chunked, "POST")
    [got] = await conn.responses(1)
    assert (got.status, got.body) == (200, b"POST /echo hello world")
    assert lane(gw).connections == set(), "a chunked body hands the connection to aiohttp"

    conn.send(request("GET", "/echo?after"), "GET")
    [got] = await conn.responses(1)
    assert (got.status, got.body) == (200, b"GET /echo?after ")
    assert lane(gw).connections == set()
    assert [(s.method, s.target, s.body) for s in pod.seen] == [
        ("GET", "/echo?i=0", b""),
        ("GET", "/echo?i=1", b""),
        ("GET", "/echo?i=2", b""),
        ("POST", "/echo", b"body"),
        ("POST", "/echo", b"hello world"),
        ("GET", "/echo?after", b""),
    ]
    assert "Transfer-Encoding" not in pod.seen[3].headers
    assert conn.rest == b""


async def test_pipelined_plain_requests_are_answered_in_order(
    pod_and_gateway: tuple[Pod, RunningGateway], connect: Connect
) -> None:
    pod, gw = pod_and_gateway
    conn = await connect(gw)
    targets = [f"/echo?n={n}" for n in range(6)]
    conn.send(
        b"".join(
            request("POST", t, body=t.encode()) if n % 2 else request("GET", t) for n, t in enumerate(targets)
        ),
        *["GET"] * len(targets),
    )
    got = await conn.responses(len(targets))
    expected = [f"POST {t} {t}".encode() if n % 2 else f"GET {t} ".encode() for n, t in enumerate(targets)]
    assert [(r.status, r.body) for r in got] == [(200, e) for e in expected]
    assert [s.target for s in pod.seen] == targets
    assert len(lane(gw).connections) == 1, "all served by the fast lane"
    assert conn.rest == b""


async def test_a_post_whose_body_comes_with_its_head_reaches_the_pod_whole(
    pod_and_gateway: tuple[Pod, RunningGateway], connect: Connect
) -> None:
    pod, gw = pod_and_gateway
    conn = await connect(gw)
    body = bytes(range(256)) * 40  # 10 KiB of every byte value, under the buffered-body limit
    conn.send(request("POST", "/upload", "Content-Type: application/octet-stream", body=body), "POST")
    [got] = await conn.responses(1)
    assert got.status == 200
    assert [(s.method, s.body) for s in pod.seen] == [("POST", body)]
    assert pod.seen[0].headers["Content-Length"] == str(len(body))
    assert len(lane(gw).connections) == 1


async def test_a_post_whose_body_comes_later_is_handed_over_and_reaches_the_pod_whole(
    pod_and_gateway: tuple[Pod, RunningGateway], connect: Connect
) -> None:
    pod, gw = pod_and_gateway
    conn = await connect(gw)
    await eventually(lambda: len(lane(gw).connections) == 1, within=READ_BOUND_S)
    body = b"0123456789" * 100
    whole = request("POST", "/echo", body=body)
    conn.send(whole[: len(whole) - len(body) + 10])  # the head and the first 10 body bytes
    # The gateway has read the head without its whole body: aiohttp takes the connection.
    await eventually(lambda: not lane(gw).connections, within=READ_BOUND_S)
    assert pod.seen == []
    conn.send(body[10:], "POST")
    [got] = await conn.responses(1)
    assert (got.status, got.body) == (200, b"POST /echo " + body)
    assert [s.body for s in pod.seen] == [body]
    # The connection goes on, served by aiohttp now.
    conn.send(request("GET", "/echo?next"), "GET")
    [got] = await conn.responses(1)
    assert (got.status, got.body) == (200, b"GET /echo?next ")


async def test_a_body_too_large_to_buffer_is_handed_over_and_reaches_the_pod_whole(
    pod_and_gateway: tuple[Pod, RunningGateway], connect: Connect
) -> None:
    pod, gw = pod_and_gateway
    conn = await connect(gw)
    body = b"x" * (GatewayConfig().buffer_small_bodies_bytes + 1)
    conn.send(request("PUT", "/echo", body=body), "PUT")
    [got] = await conn.responses(1)
    assert (got.status, got.body) == (200, b"PUT /echo " + body)
    assert [s.body for s in pod.seen] == [body]
    assert not lane(gw).connections, "streamed by aiohttp"


async def from_either_lane(
    gw: RunningGateway, connect: Connect, same: bytes, method: str
) -> tuple[RawResponse, RawResponse]:
    """The answers to `same` on a fast-lane connection, then on one handed to aiohttp (by a
    chunked request first)."""
    fast = await connect(gw)
    fast.send(same, method)
    [fast_answer] = await fast.responses(1)
    slow = await connect(gw)
    slow.send(request("POST", "/echo", "Transfer-Encoding: chunked") + b"0\r\n\r\n", "POST")
    await slow.responses(1)
    assert len(lane(gw).connections) == 1, "only the first connection is the fast lane's"
    slow.send(same, method)
    [slow_answer] = await slow.responses(1)
    return fast_answer, slow_answer


def by_name(fields: Iterable[tuple[str, str]], leave_out: str) -> list[tuple[str, str]]:
    """Fields by lower-cased name, those of one name in their order (a stable sort)."""
    return sorted(((k.lower(), v) for k, v in fields if k.lower() != leave_out), key=lambda f: f[0])


async def test_the_pod_the_client_and_the_access_log_see_the_same_exchange_from_either_lane(
    start_backend: StartBackend, start_gateway: StartGateway, connect: Connect
) -> None:
    pod, log = Pod(), ListLines()
    backend = await start_backend(pod.app())
    gw = await start_gateway(*routes(backend.port), access_log=log)
    same = request(
        "GET",
        "/echo?x=1&y=%2F",
        "X-Request-Id: fixed",
        "Accept: */*",
        "Connection: keep-alive, X-Hop",
        "X-Hop: dropped",
        "Keep-Alive: timeout=5",
        "TE: trailers",
        "X-Forwarded-For: 10.0.0.1",
        "Forwarded: for=10.0.0.1",
        "Cookie: a=b",
        "Cookie: c=d",
    )
    fast_answer, slow_answer = await from_either_lane(gw, connect, same, "GET")
    by_fast, _, by_aiohttp = pod.seen
    assert by_fast == by_aiohttp
    assert "X-Hop" not in by_fast.headers and "Keep-Alive" not in by_fast.headers
    assert by_fast.headers["X-Forwarded-For"] == "10.0.0.1, 127.0.0.1"
    # The fast lane writes the pod's head as it came; aiohttp writes its own order. Fields of
    # one name keep their order in both (a stable sort by name).
    assert by_name(fast_answer.headers.items(), "date") == by_name(slow_answer.headers.items(), "date")
    assert (fast_answer.status, fast_answer.body) == (slow_answer.status, slow_answer.body)
    await eventually(lambda: len(log.lines) == 3, READ_BOUND_S)
    timing = {"time", "duration", "queue_wait"}
    fast_line, _, slow_line = (
        {k: v for k, v in json.loads(line).items() if k not in timing} for line in log.lines
    )
    assert fast_line == slow_line
    assert fast_line["path"] == "/echo?x=1&y=%2F" and fast_line["request_id"] == "fixed"
    assert fast_line["pod"] == f"127.0.0.1:{backend.port}" and fast_line["remote"] == "127.0.0.1"
    assert fast_line["bytes"] == len(fast_answer.body) and fast_line["status"] == 200


async def test_a_head_with_nothing_to_rewrite_reaches_the_pod_alike_from_either_lane(
    start_backend: StartBackend, start_gateway: StartGateway, connect: Connect
) -> None:
    # No field the gateway drops or replaces: the fast lane sends the head as it came, with the
    # forwarding fields after it; aiohttp's lane rebuilds it. The pod sees the same.
    pod = Pod()
    backend = await start_backend(pod.app())
    gw = await start_gateway(*routes(backend.port))
    same = request("POST", "/echo?q=1", "Accept: */*", "Cookie: a=b", "Cookie: c=d", body=b"hello")
    fast_answer, slow_answer = await from_either_lane(gw, connect, same, "POST")
    by_fast, _, by_aiohttp = pod.seen
    assert by_fast.body == by_aiohttp.body == b"hello"
    # Content-Length stays where the client put it, or comes last as the rebuilt head's framing.
    fields = [by_name(seen.headers.items(), leave_out="x-request-id") for seen in (by_fast, by_aiohttp)]
    assert fields[0] == fields[1]
    assert by_fast.headers.getall("Cookie") == ["a=b", "c=d"] and by_fast.headers["Content-Length"] == "5"
    assert by_fast.headers["X-Forwarded-For"] == "127.0.0.1" and by_fast.headers["X-Request-Id"]
    assert (fast_answer.status, fast_answer.body) == (slow_answer.status, slow_answer.body)


async def test_paths_route_alike_from_either_lane(
    start_backend: StartBackend, start_gateway: StartGateway, connect: Connect
) -> None:
    api, rest = Pod(), Pod()
    api_port, rest_port = (await start_backend(api.app())).port, (await start_backend(rest.app())).port
    api_path = o.path([o.split("api-00001", 100)])
    api_path["path"] = "^/api/"
    gw = await start_gateway(
        o.ingress("fast", [HOST], [api_path, o.path([o.split(REV, 100)])]),
        o.endpoints("api-00001", [api_port]),
        o.endpoints(REV, [rest_port]),
    )
    # Percent escapes are decoded before routing: `%2F` is a slash, `%61` an `a`.
    targets = ["/api/x", "/api%2Fx", "/%61pi/x?q", "/apix", "/other?/api/", "/"]
    fast, slow = await connect(gw), await connect(gw)
    slow.send(request("POST", "/hand-over", "Transfer-Encoding: chunked") + b"0\r\n\r\n", "POST")
    await slow.responses(1)
    for conn in (fast, slow):
        conn.send(b"".join(request("GET", t) for t in targets), *["GET"] * len(targets))
        assert [r.status for r in await conn.responses(len(targets))] == [200] * len(targets)
    assert len(lane(gw).connections) == 1
    to_api = ["/api/x", "/api%2Fx", "/%61pi/x?q"]
    assert [s.target for s in api.seen] == to_api * 2
    assert [s.target for s in rest.seen] == ["/hand-over"] + [t for t in targets if t not in to_api] * 2


async def test_a_large_body_pipelined_behind_a_busy_request_is_served_after_it(
    pod_and_gateway: tuple[Pod, RunningGateway], connect: Connect
) -> None:
    # More than the lane buffers behind a request in progress: reading pauses, resumes after the
    # answer, and the big request (too large to buffer) goes to aiohttp with what was read.
    pod, gw = pod_and_gateway
    conn = await connect(gw)
    body = bytes(range(256)) * 2048  # 512 KiB
    conn.send(request("GET", "/hold") + request("POST", "/echo-length", body=body), "GET", "POST")
    await asyncio.wait_for(pod.held.wait(), READ_BOUND_S)
    pod.release.set()
    held, echoed = await conn.responses(2)
    assert (held.status, held.body) == (200, b"released")
    assert echoed.status == 200
    assert [(s.target, s.body) for s in pod.seen] == [("/hold", b""), ("/echo-length", body)]
    assert not lane(gw).connections


async def test_more_pipelined_requests_than_the_lane_buffers_are_all_served_in_order(
    pod_and_gateway: tuple[Pod, RunningGateway], connect: Connect
) -> None:
    # 80 plain requests of 8 KiB heads behind a busy one: reading pauses past 256 KiB and must
    # resume after each answer, the lane serving them all itself.
    pod, gw = pod_and_gateway
    conn = await connect(gw)
    pad = "X-Pad: " + "p" * 8000
    conn.send(request("GET", "/hold") + b"".join(request("GET", f"/echo?n={n}", pad) for n in range(80)))
    conn.send(b"", *["GET"] * 81)
    await asyncio.wait_for(pod.held.wait(), READ_BOUND_S)
    pod.release.set()
    got = await conn.responses(81)
    assert [r.body for r in got] == [b"released"] + [f"GET /echo?n={n} ".encode() for n in range(80)]
    assert len(lane(gw).connections) == 1
    assert conn.rest == b""


async def test_a_client_that_reads_slowly_gets_a_large_answer_whole(
    start_backend: StartBackend, start_gateway: StartGateway, connect: Connect
) -> None:
    size = 8 * 1024 * 1024

    async def large(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = size
        await response.prepare(request)
        piece = bytes(range(256)) * 256
        for _ in range(size // len(piece)):
            await response.write(piece)
        return response

    app = web.Application()
    app.router.add_get("/large", large)
    backend = await start_backend(app)
    gw = await start_gateway(*routes(backend.port))
    conn = await connect(gw)
    conn.send(request("GET", "/large") + request("GET", "/large"), "GET", "GET")
    # Nothing is read until the gateway has had to stop writing to this client.
    await eventually(lambda: any(c._writing_paused for c in lane(gw).connections), READ_BOUND_S)
    first, second = await conn.responses(2)
    assert first.status == second.status == 200
    assert first.body == second.body == (bytes(range(256)) * 256) * (size // 65536)
    assert conn.rest == b""


# --- framing of the answers ---------------------------------------------------------------------


async def test_head_keeps_the_pods_length_and_sends_no_body(
    pod_and_gateway: tuple[Pod, RunningGateway], connect: Connect
) -> None:
    pod, gw = pod_and_gateway
    conn = await connect(gw)
    # A GET right behind the HEAD: any body byte after the HEAD answer would garble its answer.
    conn.send(request("HEAD", "/head") + request("GET", "/echo?after-head"), "HEAD", "GET")
    head, after = await conn.responses(2)
    assert head.status == 200 and head.headers["Content-Length"] == "1234" and head.body == b""
    assert (after.status, after.body) == (200, b"GET /echo?after-head ")
    # The same for a length too large to buffer (the answer is streamed) and for the gateway's
    # own answers.
    conn.send(
        request("HEAD", "/big") + request("HEAD", "/", host="unknown.example.com") + request("GET", "/echo"),
        "HEAD",
        "HEAD",
        "GET",
    )
    big, unknown, after = await conn.responses(3)
    assert big.status == 200 and big.headers["Content-Length"] == str(BIG) and big.body == b""
    assert unknown.status == 404 and int(unknown.headers["Content-Length"]) > 0 and unknown.body == b""
    assert (after.status, after.body) == (200, b"GET /echo ")
    assert conn.rest == b""
    assert [s.method for s in pod.seen] == ["HEAD", "GET", "HEAD", "GET"]
    assert len(lane(gw).connections) == 1


async def test_streamed_answers_keep_their_framing_and_the_connection(
    pod_and_gateway: tuple[Pod, RunningGateway], connect: Connect
) -> None:
    _, gw = pod_and_gateway
    conn = await connect(gw)
    conn.send(
        request("GET", "/chunked") + request("GET", "/big") + request("GET", "/echo"), "GET", "GET", "GET"
    )
    chunked, big, after = await conn.responses(3)
    assert (chunked.status, chunked.body) == (200, b"one two three")
    assert chunked.headers["Transfer-Encoding"] == "chunked"
    assert (big.status, big.headers["Content-Length"], big.body) == (200, str(BIG), b"b" * BIG)
    assert (after.status, after.body) == (200, b"GET /echo ")
    assert conn.rest == b""
    assert len(lane(gw).connections) == 1


async def test_a_pods_204_has_no_length_and_no_body(
    pod_and_gateway: tuple[Pod, RunningGateway], connect: Connect
) -> None:
    _, gw = pod_and_gateway
    conn = await connect(gw)
    conn.send(request("DELETE", "/nothing") + request("GET", "/echo?after-204"), "DELETE", "GET")
    nothing, after = await conn.responses(2)
    assert nothing.status == 204 and nothing.body == b""
    assert "Content-Length" not in nothing.headers and "Transfer-Encoding" not in nothing.headers
    assert (after.status, after.body) == (200, b"GET /echo?after-204 ")
    assert conn.rest == b""


async def test_the_gateways_own_404_has_type_length_and_date(
    pod_and_gateway: tuple[Pod, RunningGateway], connect: Connect
) -> None:
    pod, gw = pod_and_gateway
    conn = await connect(gw)
    conn.send(request("GET", "/", host="unknown.example.com"), "GET")
    [got] = await conn.responses(1)
    assert got.status == 404 and got.body
    assert got.headers["Content-Type"].startswith("text/plain")
    assert got.headers["Content-Length"] == str(len(got.body))
    date = email.utils.parsedate_to_datetime(got.headers["Date"])
    assert abs(date.timestamp() - time.time()) < 5
    assert pod.seen == [] and len(lane(gw).connections) == 1
    # The connection is kept and still serves.
    conn.send(request("GET", "/echo?after-404"), "GET")
    [got] = await conn.responses(1)
    assert got.status == 200


async def test_connection_close_is_answered_with_close_and_the_connection_closed(
    pod_and_gateway: tuple[Pod, RunningGateway], connect: Connect
) -> None:
    _, gw = pod_and_gateway
    conn = await connect(gw)
    conn.send(request("GET", "/echo?last", "Connection: keep-alive, close"), "GET")
    [got] = await conn.responses(1)
    assert (got.status, got.body) == (200, b"GET /echo?last ")
    assert got.headers["Connection"].lower() == "close"
    assert await conn.closed_within(READ_BOUND_S)
    assert conn.rest == b""
    await eventually(lambda: not lane(gw).connections, within=READ_BOUND_S)


async def test_nothing_pipelined_after_connection_close_is_served(
    pod_and_gateway: tuple[Pod, RunningGateway], connect: Connect
) -> None:
    pod, gw = pod_and_gateway
    conn = await connect(gw)
    conn.send(
        request("GET", "/echo?last", "Connection: close")
        + request("GET", "/echo?after-close")
        + request("POST", "/echo?chunked-after-close", "Transfer-Encoding: chunked")
        + b"0\r\n\r\n",
        "GET",
    )
    [got] = await conn.responses(1)
    assert got.headers["Connection"].lower() == "close"
    assert await conn.closed_within(READ_BOUND_S)
    assert conn.rest == b""
    assert [s.target for s in pod.seen] == ["/echo?last"]


# --- a client that goes away --------------------------------------------------------------------


def _statuses(lines: ListLines) -> list[tuple[str, int]]:
    return [(entry["path"], entry["status"]) for entry in map(json.loads, lines.lines)]


async def test_a_client_leaving_while_queued_cancels_its_request(
    start_backend: StartBackend, start_gateway: StartGateway, connect: Connect
) -> None:
    log = ListLines()
    gw = await start_gateway(*routes(), access_log=log)  # no ready pod: requests queue
    conn = await connect(gw)
    conn.send(request("GET", "/queued"), "GET")
    throttler = lambda: gw.gateway.state.revisions[KEY].throttler  # noqa: E731
    await eventually(lambda: KEY in gw.gateway.state.revisions and throttler().waiting == 1, READ_BOUND_S)
    await conn.close()
    await eventually(lambda: throttler().waiting == 0, READ_BOUND_S)
    await eventually(lambda: _statuses(log) == [("/queued", 499)], READ_BOUND_S)

    # A pod appears: the request that left is not sent to it; a new one is, first.
    pod = Pod()
    backend = await start_backend(pod.app())
    gw.set_objects(*routes(backend.port))
    fresh = await connect(gw)
    fresh.send(request("GET", "/echo?fresh"), "GET")
    [got] = await fresh.responses(1)
    assert got.status == 200
    assert [s.target for s in pod.seen] == ["/echo?fresh"]
    assert _statuses(log) == [("/queued", 499), ("/echo?fresh", 200)]


async def test_a_client_leaving_while_the_pod_works_cancels_the_upstream_request(
    start_backend: StartBackend, start_gateway: StartGateway, connect: Connect
) -> None:
    log = ListLines()
    pod = Pod()
    backend = await start_backend(pod.app())
    gw = await start_gateway(*routes(backend.port), access_log=log)
    conn = await connect(gw)
    conn.send(request("GET", "/hold"), "GET")
    await asyncio.wait_for(pod.held.wait(), READ_BOUND_S)
    await conn.close()
    await asyncio.wait_for(pod.upstream_gone.wait(), READ_BOUND_S)
    await eventually(lambda: _statuses(log) == [("/hold", 499)], READ_BOUND_S)
    await eventually(lambda: gw.gateway.state.revisions[KEY].recorder.in_flight == 0, READ_BOUND_S)


# --- header timeout -----------------------------------------------------------------------------

QUICK_HEADERS = GatewayConfig(header_timeout_s=0.3, drain_timeout_s=2.0, connect_timeout_s=2.0)


async def test_an_idle_keep_alive_connection_is_closed_after_the_header_timeout(
    start_backend: StartBackend, start_gateway: StartGateway, connect: Connect
) -> None:
    pod = Pod()
    backend = await start_backend(pod.app())
    gw = await start_gateway(*routes(backend.port), config=QUICK_HEADERS)
    conn = await connect(gw)
    conn.send(request("GET", "/echo"), "GET")
    [got] = await conn.responses(1)
    assert got.status == 200 and "Connection" not in got.headers
    loop = asyncio.get_running_loop()
    idle_since = loop.time()
    assert await conn.closed_within(1.5)
    # Closed by the timeout, not at once (the answer kept the connection alive).
    assert loop.time() - idle_since >= 0.2
    assert conn.rest == b"" and not lane(gw).connections


async def test_a_half_sent_head_is_closed_after_the_header_timeout(
    start_backend: StartBackend, start_gateway: StartGateway, connect: Connect
) -> None:
    pod = Pod()
    backend = await start_backend(pod.app())
    gw = await start_gateway(*routes(backend.port), config=QUICK_HEADERS)
    conn = await connect(gw)
    loop = asyncio.get_running_loop()
    started = loop.time()
    conn.send(f"GET /slow HTTP/1.1\r\nHost: {HOST}\r\nX-A: tric".encode())
    await eventually(lambda: len(lane(gw).connections) == 1, READ_BOUND_S)
    assert await conn.closed_within(1.5)
    assert loop.time() - started >= 0.2
    assert pod.seen == [] and not lane(gw).connections


async def test_the_header_timeout_does_not_cut_a_request_being_served(
    start_backend: StartBackend, start_gateway: StartGateway, connect: Connect
) -> None:
    pod = Pod()
    backend = await start_backend(pod.app())
    gw = await start_gateway(*routes(backend.port), config=QUICK_HEADERS)
    conn = await connect(gw)
    conn.send(request("GET", "/hold"), "GET")
    await asyncio.wait_for(pod.held.wait(), READ_BOUND_S)
    assert not await conn.closed_within(0.6)  # twice the header timeout
    pod.release.set()
    [got] = await conn.responses(1)
    assert (got.status, got.body) == (200, b"released")
    assert not pod.upstream_gone.is_set()


# --- drain --------------------------------------------------------------------------------------


async def test_drain_closes_idle_connections_at_once_and_lets_busy_ones_finish(
    pod_and_gateway: tuple[Pod, RunningGateway], connect: Connect
) -> None:
    pod, gw = pod_and_gateway
    busy, idle = await connect(gw), await connect(gw)
    idle.send(request("GET", "/echo?idle"), "GET")
    [got] = await idle.responses(1)
    assert got.status == 200
    busy.send(request("GET", "/hold"), "GET")
    await asyncio.wait_for(pod.held.wait(), READ_BOUND_S)
    assert len(lane(gw).connections) == 2

    drain = asyncio.create_task(gw.server.drain())
    try:
        # The idle connection is closed while the busy request is still held at the pod.
        assert await idle.closed_within(READ_BOUND_S)
        assert not pod.release.is_set() and not drain.done()
        assert idle.rest == b""
        pod.release.set()
        [got] = await busy.responses(1)
        assert (got.status, got.body) == (200, b"released")
        assert got.headers["Connection"].lower() == "close"
        assert await busy.closed_within(READ_BOUND_S)
        await asyncio.wait_for(drain, READ_BOUND_S)
    finally:
        pod.release.set()
        if not drain.done():
            drain.cancel()
    assert lane(gw).connections == set()
    assert not pod.upstream_gone.is_set()


async def test_drain_cuts_what_is_still_busy_at_its_bound(
    start_backend: StartBackend, start_gateway: StartGateway, connect: Connect
) -> None:
    pod = Pod()
    backend = await start_backend(pod.app())
    config = GatewayConfig(drain_timeout_s=0.5, connect_timeout_s=2.0)
    gw = await start_gateway(*routes(backend.port), config=config)
    conn = await connect(gw)
    conn.send(request("GET", "/hold"), "GET")
    await asyncio.wait_for(pod.held.wait(), READ_BOUND_S)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        await asyncio.wait_for(gw.server.drain(), READ_BOUND_S)
        assert 0.4 <= loop.time() - started < 3.0
        assert await conn.closed_within(READ_BOUND_S)
        assert conn.rest == b"", "cut without an answer: the pod never answered"
        assert lane(gw).connections == set()
        await asyncio.wait_for(pod.upstream_gone.wait(), READ_BOUND_S)
    finally:
        pod.release.set()


# --- requests the fast lane leaves to aiohttp get aiohttp's answers ---------------------------


async def test_two_connection_lines_close_the_connection(
    start_backend: StartBackend, start_gateway: StartGateway, connect: Connect
) -> None:
    backend = await start_backend(Pod().app())
    gw = await start_gateway(*routes(backend.port))
    conn = await connect(gw)
    conn.send(request("GET", "/echo", "Connection: keep-alive", "Connection: close"), "GET")
    [got] = await conn.responses(1)
    assert got.status == 200
    assert got.headers.get("Connection", "").lower() == "close"
    assert await conn.closed_within(1.0)


async def test_what_aiohttp_refuses_never_reaches_a_pod(
    start_gateway: StartGateway, connect: Connect
) -> None:
    # A pod that would take 1000 header lines and repeated singletons: the gateway refuses
    # 200 lines and a second Content-Type with 400 itself, as it did before the fast lane.
    seen: list[int] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(len(request.headers))
        return web.Response(text="pod")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None, max_headers=1000)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        gw = await start_gateway(*routes(site.port))
        many = await connect(gw)
        many.send(request("GET", "/many", *[f"X-{i}: v" for i in range(200)]), "GET")
        twice = await connect(gw)
        twice.send(request("GET", "/two-types", "Content-Type: a/b", "Content-Type: c/d"), "GET")
        [got_many] = await many.responses(1)
        [got_twice] = await twice.responses(1)
        assert (got_many.status, got_twice.status) == (400, 400)
        assert seen == []
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("data", [b"hello", b"GET / HTTP/1.1\nHost: fast.default.example.com\n"])
async def test_a_prefix_that_can_never_be_plain_gets_400_without_waiting(
    start_backend: StartBackend, start_gateway: StartGateway, connect: Connect, data: bytes
) -> None:
    backend = await start_backend(Pod().app())
    gw = await start_gateway(*routes(backend.port), config=GatewayConfig(header_timeout_s=5.0))
    conn = await connect(gw)
    conn.send(data, "GET")
    [got] = await conn.responses(1)
    assert got.status == 400
