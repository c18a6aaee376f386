"""Hypothesis over raw request bytes against one gateway started once for the module.

Every input (a request line, headers and a body built from tricky and random parts, or plain
random bytes) must get well-formed HTTP responses or a closed connection within a bound, never
a 500 (an unhandled error in the gateway); the gateway must answer a normal request after each.

The gateway and its pod run on a loop in a thread of their own so that the hypothesis tests are
plain functions over blocking sockets. (The client does not half-close after sending: the
gateway, as nginx and Envoy do, takes EOF from a client for a client gone away.)
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from aiohttp import web
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from activator.app import build_app
from activator.config import GatewayConfig
from activator.server import GatewayServer
from activator.source import ClusterSnapshot, StaticRoutingSource
from tests.activator import objects as o
from tests.activator.rawhttp import get, split_responses

HOST = "a.default.example.com"
HOST_B = "b.other.example.com"
HOST_RAW = "c.raw.example.com"
# Upper bound on one exchange: the header timeout and the revision timeout (1 s each) plus
# room for a loaded machine.
READ_BOUND_S = 4.0
# How long the line must stay quiet after an answer for the exchange to be over.
QUIET_S = 0.2
CONFIG = GatewayConfig(header_timeout_s=1.0, drain_timeout_s=1.0, connect_timeout_s=2.0)


def _echo_app(tenant: str) -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.Response(text=f"tenant {tenant} got {len(body)} bytes\n")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


class GatewayThread:
    """A gateway and two tenants' pods on their own event loop, for blocking clients."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fuzz-gateway", daemon=True)
        self._server: GatewayServer | None = None
        self._runners: list[web.AppRunner] = []
        self._raw_pod: asyncio.Server | None = None
        # What the raw pod (host HOST_RAW) answers to every request; set by a test before it asks.
        self.raw_answer = b""
        self.port = 0

    def start(self) -> GatewayThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    async def _start(self) -> None:
        ports = []
        for tenant in ("A", "B"):
            runner = web.AppRunner(_echo_app(tenant), access_log=None, shutdown_timeout=1.0)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self._runners.append(runner)
            ports.append(site.port)
        self._raw_pod = await asyncio.start_server(self._answer_raw, "127.0.0.1", 0)
        ports.append(self._raw_pod.sockets[0].getsockname()[1])
        objects = [
            o.ingress("c", [HOST_RAW], [o.path([o.split("c-00001", 100)])]),
            o.endpoints("c-00001", [ports[2]]),
            o.revision("c-00001", timeout_s=1),
            o.ingress("a", [HOST], [o.path([o.split("a-00001", 100)])]),
            o.endpoints("a-00001", [ports[0]]),
            o.revision("a-00001", timeout_s=1),
            o.ingress("b", [HOST_B], [o.path([o.split("b-00001", 100, "other")])], namespace="other"),
            o.endpoints("b-00001", [ports[1]], namespace="other"),
            o.revision("b-00001", timeout_s=1, namespace="other"),
        ]
        source = StaticRoutingSource(ClusterSnapshot.from_objects(objects))
        self._server = GatewayServer(build_app(CONFIG, source), port=0)
        await self._server.start()
        self.port = self._server.port

    async def _answer_raw(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Reads one request head, writes `raw_answer` as it is, and closes."""
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(self.raw_answer)
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _stop(self) -> None:
        if self._server is not None:
            await self._server.drain()
        for runner in self._runners:
            await runner.cleanup()
        if self._raw_pod is not None:
            self._raw_pod.close()
            await self._raw_pod.wait_closed()

    def stop(self) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayThread]:
    running = GatewayThread().start()
    try:
        yield running
    finally:
        running.stop()


def send(port: int, data: bytes, expected: int, methods: tuple[str, ...] = ()) -> tuple[bytes, bool, float]:
    """The bytes the gateway sent back, whether it closed the connection, and how long it took.

    Reads until the gateway closes, `expected` whole responses are in, or (once one is in) the
    line stays quiet a moment: a request whose body never comes is answered 504 at the
    revision's timeout and is then only drained, not closed, so quiet is the end of that one.
    """
    started = time.monotonic()
    received = bytearray()
    closed = False
    with socket.create_connection(("127.0.0.1", port), timeout=READ_BOUND_S) as sock:
        try:
            sock.sendall(data)
        except OSError:
            closed = True  # refused mid-send: the gateway closed on us
        while not closed:
            elapsed = time.monotonic() - started
            if elapsed >= READ_BOUND_S:
                break
            answered = len(split_responses(bytes(received), methods)[0])
            if answered >= expected:
                break
            sock.settimeout(min(READ_BOUND_S - elapsed, QUIET_S) if answered else READ_BOUND_S - elapsed)
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                if answered:
                    break
                continue
            except OSError:
                closed = True
                break
            if not chunk:
                closed = True
            received += chunk
    return bytes(received), closed, time.monotonic() - started


def assert_answered_sanely(port: int, data: bytes, expected: int, methods: tuple[str, ...]) -> None:
    received, closed, elapsed = send(port, data, expected, methods)
    responses, rest = split_responses(received, methods)
    if rest and responses and responses[0].status == 400 and methods[:1] == ("HEAD",):
        # aiohttp's 400 for a malformed HEAD request carries a body; it closes the connection
        # after it, so no client can misread what follows.
        responses, rest = split_responses(received)
    assert responses or closed, f"no answer and no close within {READ_BOUND_S} s"
    assert elapsed < READ_BOUND_S + 1
    assert rest == b"", f"not well-formed HTTP after {len(responses)} responses: {rest[:200]!r}"
    for response in responses:
        assert 100 <= response.status < 600
        assert response.status != 500, response.body


def assert_alive(port: int) -> None:
    received, _, _ = send(port, get(HOST, "/alive"), 1)
    responses, _ = split_responses(received)
    assert [r.status for r in responses] == [200], received[:300]


METHODS = st.sampled_from(
    ["GET", "POST", "PUT", "HEAD", "OPTIONS", "DELETE", "PATCH", "CONNECT", "TRACE", "PRI", "FOO", "get", ""]
)
TARGETS = st.one_of(
    st.sampled_from(["/", "*", "/a?b=c", "//x", "/%00", "/../..", "http://a.default.example.com/x", "a:80"]),
    st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=40).map(lambda t: "/" + t),
)
VERSIONS = st.sampled_from(
    ["HTTP/1.1", "HTTP/1.0", "HTTP/0.9", "HTTP/2.0", "HTTP/1.1 ", "http/1.1", "HTTP/1", ""]
)
NAMES = st.one_of(
    st.sampled_from(
        [
            "Host",
            "Content-Length",
            "Transfer-Encoding",
            "Connection",
            "Expect",
            "Upgrade",
            "Keep-Alive",
            "Knative-Serving-Revision",
            "K-Network-Probe",
            "X-Request-Id",
            " Transfer-Encoding",
            "Transfer-Encoding ",
            "Content-Length ",
        ]
    ),
    st.text(alphabet=st.characters(max_codepoint=0x7F, exclude_characters="\r\n:"), min_size=1, max_size=12),
)
VALUES = st.one_of(
    st.sampled_from(
        [
            HOST,
            HOST + ":80",
            "chunked",
            " chunked",
            "xchunked",
            "chunked, identity",
            "gzip, chunked",
            "0",
            "5",
            "-1",
            "18446744073709551616",
            "close",
            "keep-alive, X-A",
            "Upgrade",
            "websocket",
            "100-continue",
            "probe",
            "activator",
            "",
        ]
    ),
    st.binary(max_size=30).map(lambda b: b.decode("latin-1")),
)
HEADERS = st.lists(st.tuples(NAMES, VALUES), max_size=8)
BODIES = st.one_of(
    st.just(b""),
    st.sampled_from(
        [b"0\r\n\r\n", b"5\r\nhello\r\n0\r\n\r\n", b"zz\r\n", b"hello", b"GET / HTTP/1.1\r\n\r\n"]
    ),
    st.binary(max_size=300),
)


@dataclasses.dataclass(frozen=True)
class Attempt:
    data: bytes
    # Requests a well-behaved server would answer, and their methods (HEAD answers have no body).
    expected: int
    methods: tuple[str, ...]


@st.composite
def requests(draw: st.DrawFn) -> Attempt:
    method, target, version = draw(METHODS), draw(TARGETS), draw(VERSIONS)
    lines = [f"{method} {target} {version}".encode("latin-1")]
    if draw(st.booleans()):
        lines.append(f"Host: {HOST}".encode())
    lines += [f"{name}: {value}".encode("latin-1") for name, value in draw(HEADERS)]
    eol = draw(st.sampled_from([b"\r\n", b"\r\n", b"\r\n", b"\n"]))
    head = eol.join(lines) + eol + eol
    data = head + draw(BODIES)
    if draw(st.booleans()):  # a well-formed request pipelined behind it
        return Attempt(data + get(HOST, "/pipelined"), 2, (method, "GET"))
    return Attempt(data, 1, (method,))


FUZZ = settings(
    max_examples=200,
    deadline=timedelta(seconds=READ_BOUND_S * 2 + 1),
    suppress_health_check=[HealthCheck.too_slow],
)


@FUZZ
@given(attempt=requests())
def test_fuzzed_requests_get_well_formed_answers_or_a_close(gateway: GatewayThread, attempt: Attempt) -> None:
    assert_answered_sanely(gateway.port, attempt.data, attempt.expected, attempt.methods)
    assert_alive(gateway.port)


@FUZZ
@given(data=st.binary(min_size=1, max_size=600))
def test_random_bytes_get_well_formed_answers_or_a_close(gateway: GatewayThread, data: bytes) -> None:
    assert_answered_sanely(gateway.port, data, 1, ())
    assert_alive(gateway.port)


def _host_variants() -> st.SearchStrategy[str]:
    base = st.sampled_from([HOST, HOST_B, "example.com", "other.example.com", "", "a", "b.other"])
    flips = st.lists(st.booleans(), min_size=24, max_size=24)
    junk = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=6)

    @st.composite
    def variant(draw: st.DrawFn) -> str:
        host = "".join(c.upper() if flip else c for c, flip in zip(draw(base), draw(flips) * 3, strict=False))
        host = draw(junk) + host if draw(st.booleans()) else host
        host += "." * draw(st.integers(0, 2))
        if draw(st.booleans()):
            host += ":" + draw(st.one_of(st.integers(0, 99999).map(str), junk))
        return host + (draw(junk) if draw(st.booleans()) else "")

    return variant()


@FUZZ
@given(host=_host_variants())
def test_fuzzed_hosts_reach_a_tenant_only_by_its_own_name(gateway: GatewayThread, host: str) -> None:
    received, _, _ = send(
        gateway.port, get(HOST, "/").replace(f"Host: {HOST}".encode(), b"Host: " + host.encode()), 1
    )
    responses, _ = split_responses(received)
    assert len(responses) <= 1
    answered_by = responses[0].body[:8] if responses and responses[0].status == 200 else b""
    # The documented rule: case-insensitive, what follows the last colon (the port) and
    # trailing dots ignored, nothing else.
    name = host.strip().lower()
    name = name[: name.rfind(":")] if ":" in name else name
    name = name.rstrip(".")
    event(f"answered by {answered_by.decode() or 'no tenant'}")
    if answered_by == b"tenant A":
        assert name == HOST, host
    elif answered_by == b"tenant B":
        assert name == HOST_B, host
    else:
        assert name not in (HOST, HOST_B) or not responses or responses[0].status == 400, (host, responses)
    assert_alive(gateway.port)


STATUS_LINES = st.one_of(
    st.sampled_from([b"HTTP/1.1 200 OK", b"HTTP/1.0 200 OK", b"HTTP/1.1 204 No Content", b"HTTP/1.1 304 x"]),
    st.sampled_from(
        [b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK", b"HTTP/1.1 101 Switching", b"HTTP/1.1 -1 x"]
    ),
    st.binary(max_size=20).map(lambda b: b"HTTP/1.1 " + b),
    st.binary(max_size=20),
)
POD_HEADERS = st.lists(
    st.one_of(
        st.sampled_from(
            [
                b"Content-Length: 2",
                b"Content-Length: 0",
                b"Content-Length: 99",
                b"Content-Length: -1",
                b"Transfer-Encoding: chunked",
                b"Transfer-Encoding: xchunked",
                b"Connection: close",
                b"Connection: keep-alive, X-A",
                b"X-A: a\nB: b",
                b"Set-Cookie: a=b",
            ]
        ),
        st.binary(max_size=30),
    ),
    max_size=5,
)
POD_BODIES = st.one_of(
    st.sampled_from([b"", b"ok", b"2\r\nok\r\n0\r\n\r\n", b"zz\r\n", b"okHTTP/1.1 200 OK\r\n\r\n"]),
    st.binary(max_size=200),
)


@st.composite
def pod_answers(draw: st.DrawFn) -> bytes:
    lines = [draw(STATUS_LINES), *draw(POD_HEADERS)]
    eol = draw(st.sampled_from([b"\r\n", b"\r\n", b"\n"]))
    return eol.join(lines) + eol + eol + draw(POD_BODIES)


@FUZZ
@given(answer=pod_answers())
def test_whatever_a_pod_answers_the_client_gets_well_formed_http(
    gateway: GatewayThread, answer: bytes
) -> None:
    gateway.raw_answer = answer
    received, closed, _ = send(gateway.port, get(HOST_RAW, "/"), 1)
    responses, rest = split_responses(received)
    event(f"client got {responses[0].status if responses else 'a close'}")
    assert responses or closed, f"no answer and no close within {READ_BOUND_S} s"
    if responses:
        assert 100 <= responses[0].status < 600 and responses[0].status != 500, responses[0]
        # A whole answer, or one cut short by the gateway when the pod failed mid-body.
        assert rest == b"" or closed, rest[:200]
        assert "B" not in responses[0].headers, "a bare LF in a pod header reached the client"
    assert_alive(gateway.port)


def test_the_gateway_still_serves_after_the_fuzzing(gateway: GatewayThread) -> None:
    for _ in range(5):
        assert_alive(gateway.port)
