"""Abuse thrown at the gateway's data port as raw bytes, with two tenants behind it.

Tenant A (`a.default.example.com`) and tenant B (`b.other.example.com`) each have one pod that
records every request it parses. Every test checks what the client got, what each pod saw (a
smuggled request would show up as a pod request the client never got an answer for, or a path
it never asked for), and that the gateway still answers a normal request afterwards.
See docs/reliability.md, "## Abuse", for the table of what the gateway does with each.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from activator import http1
from activator.config import GatewayConfig
from activator.headers import upstream_headers
from tests.activator import objects as o
from tests.activator.conftest import RunningGateway, StartBackend, StartGateway
from tests.activator.rawhttp import Exchange, exchange, get

HOST_A = "a.default.example.com"
HOST_B = "b.other.example.com"
SMUGGLED = "/smuggled"
CONFIG = GatewayConfig(header_timeout_s=0.5, drain_timeout_s=1.0, connect_timeout_s=2.0)


@dataclasses.dataclass(frozen=True)
class Seen:
    tenant: str
    method: str
    target: str
    headers: CIMultiDict[str]
    body: bytes


def _recording_app(tenant: str, seen: list[Seen]) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append(Seen(tenant, request.method, request.raw_path, CIMultiDict(request.headers), body))
        return web.Response(
            text=f"tenant {tenant}\n", headers={"Connection": "X-Internal", "X-Internal": "pod secret"}
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


@dataclasses.dataclass
class Tenants:
    gw: RunningGateway
    seen: list[Seen]

    @property
    def port(self) -> int:
        return self.gw.server.port

    def by(self, tenant: str) -> list[Seen]:
        return [s for s in self.seen if s.tenant == tenant]

    async def send(self, data: bytes, read_for: float = 5.0) -> Exchange:
        return await exchange(self.port, data, read_for=read_for)

    async def assert_still_serving(self) -> None:
        """A normal request for each tenant, on a new connection, reaches that tenant only."""
        before = len(self.seen)
        for tenant, host in (("A", HOST_A), ("B", HOST_B)):
            got = await self.send(get(host, "/after"))
            assert [r.status for r in got.responses] == [200], got
            assert got.responses[0].body == f"tenant {tenant}\n".encode()
        assert [(s.tenant, s.target) for s in self.seen[before:]] == [("A", "/after"), ("B", "/after")]


@pytest.fixture
async def tenants(start_backend: StartBackend, start_gateway: StartGateway) -> AsyncIterator[Tenants]:
    seen: list[Seen] = []
    pod_a = await start_backend(_recording_app("A", seen))
    pod_b = await start_backend(_recording_app("B", seen))
    gw = await start_gateway(
        o.ingress("a", [HOST_A], [o.path([o.split("a-00001", 100)])]),
        o.endpoints("a-00001", [pod_a.port]),
        o.revision("a-00001", timeout_s=1),
        o.ingress("b", [HOST_B], [o.path([o.split("b-00001", 100, "other")])], namespace="other"),
        o.endpoints("b-00001", [pod_b.port], namespace="other"),
        o.revision("b-00001", namespace="other"),
        config=CONFIG,
        admin=True,
    )
    yield Tenants(gw, seen)


# --- malformed requests and absurd sizes -------------------------------------------------------

MALFORMED = {
    "not http": b"THIS IS NOT HTTP\r\n\r\n",
    "binary": bytes(range(256)) * 4,
    "tls client hello": bytes.fromhex("16030100a5010000a10303") + b"\x00" * 64,
    "http2 preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "unknown method": b"FOO / HTTP/1.1\r\nHost: a.default.example.com\r\n\r\n",
    "method 5000 bytes": b"A" * 5000 + b" / HTTP/1.1\r\nHost: a.default.example.com\r\n\r\n",
    "version 9.9": b"GET / HTTP/9.9\r\nHost: a.default.example.com\r\n\r\n",
    "space in target": b"GET /a b HTTP/1.1\r\nHost: a.default.example.com\r\n\r\n",
    "NUL in target": b"GET /\x00 HTTP/1.1\r\nHost: a.default.example.com\r\n\r\n",
    "bare LF": b"GET / HTTP/1.1\nHost: a.default.example.com\n\n",
    "bare CR": b"GET / HTTP/1.1\rHost: a.default.example.com\r\n\r\n",
    "control char in value": b"GET / HTTP/1.1\r\nHost: a.default.example.com\r\nX-A: a\x01b\r\n\r\n",
    "NUL in value": b"GET / HTTP/1.1\r\nHost: a.default.example.com\r\nX-A: a\x00b\r\n\r\n",
    "empty header name": b"GET / HTTP/1.1\r\nHost: a.default.example.com\r\n: x\r\n\r\n",
    "no Host in HTTP/1.1": b"GET / HTTP/1.1\r\n\r\n",
    "request line 40 KiB": b"GET /" + b"a" * 40_000 + b" HTTP/1.1\r\nHost: a.default.example.com\r\n\r\n",
    "one header 40 KiB": b"GET / HTTP/1.1\r\nHost: a.default.example.com\r\nX-Big: "
    + b"a" * 40_000
    + b"\r\n\r\n",
    "header name 40 KiB": b"GET / HTTP/1.1\r\nHost: a.default.example.com\r\n"
    + b"X" * 40_000
    + b": 1\r\n\r\n",
    "3000 headers": b"GET / HTTP/1.1\r\nHost: a.default.example.com\r\n" + b"a: 1\r\n" * 3000 + b"\r\n",
}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
async def test_malformed_requests_get_400_and_reach_no_pod(tenants: Tenants, raw: bytes) -> None:
    got = await tenants.send(raw)
    assert [r.status for r in got.responses] == [400], got
    assert got.closed, "a connection whose framing is unknown must be closed"
    assert tenants.seen == []
    await tenants.assert_still_serving()


@pytest.mark.parametrize(
    "raw",
    [
        b"GET / HTTP/2.0\r\nHost: a.default.example.com\r\n\r\n",
        b"GET / HTTP/0.9\r\nHost: a.default.example.com\r\n\r\n",
        b"GET /\r\n\r\n",
    ],
    ids=["2.0 in text", "0.9 with headers", "0.9 bare"],
)
async def test_versions_other_than_1x_get_505_in_a_status_line_clients_read(
    tenants: Tenants, raw: bytes
) -> None:
    # aiohttp's parser lets these through and would answer `HTTP/2.0 200 OK` as text.
    got = await tenants.send(raw)
    assert [r.status for r in got.responses] == [505], got
    assert got.closed and tenants.seen == []
    await tenants.assert_still_serving()


async def test_headers_over_the_limit_get_431(tenants: Tenants) -> None:
    headers = "".join(f"X-{i}: {'v' * 400}\r\n" for i in range(90)).encode()  # 36 KiB in 90 lines
    got = await tenants.send(b"GET / HTTP/1.1\r\nHost: a.default.example.com\r\n" + headers + b"\r\n")
    assert [r.status for r in got.responses] == [431]
    assert tenants.seen == []
    await tenants.assert_still_serving()


async def test_a_body_declared_over_the_limit_gets_413_without_waiting_for_it(tenants: Tenants) -> None:
    raw = b"POST / HTTP/1.1\r\nHost: a.default.example.com\r\nContent-Length: 999999999\r\n\r\nabc"
    loop = asyncio.get_running_loop()
    started = loop.time()
    got = await exchange(tenants.port, raw, read_for=5.0, until_responses=1)
    assert [r.status for r in got.responses] == [413]
    assert loop.time() - started < 3.0
    assert tenants.seen == []
    await tenants.assert_still_serving()


async def test_leading_blank_lines_then_silence_are_closed(tenants: Tenants) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    got = await tenants.send(b"\r\n" * 100, read_for=8.0)
    assert got.closed and got.responses == []
    assert loop.time() - started < 6.0
    await tenants.assert_still_serving()


# --- slow clients --------------------------------------------------------------------------------


async def test_an_idle_connection_is_closed_after_the_header_timeout(tenants: Tenants) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    got = await tenants.send(b"", read_for=8.0)
    assert got.closed and got.responses == []
    assert loop.time() - started < 6.0  # 0.5 s configured, room for a loaded machine
    await tenants.assert_still_serving()


async def test_headers_trickled_a_byte_at_a_time_are_cut_off(tenants: Tenants) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", tenants.port)
    loop = asyncio.get_running_loop()
    started = loop.time()
    head = b"GET / HTTP/1.1\r\nHost: a.default.example.com\r\nX-Slow: " + b"z" * 200
    try:
        closed = False
        for byte in head:  # 0.02 s a byte: the head would take 5 s, ten times the header timeout
            try:
                writer.write(bytes([byte]))
                await writer.drain()
            except ConnectionError:
                closed = True
                break
            if reader.at_eof():
                closed = True
                break
            await asyncio.sleep(0.02)
            if loop.time() - started > 8.0:
                break
        if not closed:
            assert await asyncio.wait_for(reader.read(), 8.0) == b""
        assert loop.time() - started < 8.0
    finally:
        writer.close()
    assert tenants.seen == []
    await tenants.assert_still_serving()


async def test_many_slow_loris_connections_do_not_starve_a_normal_client(tenants: Tenants) -> None:
    writers: list[asyncio.StreamWriter] = []
    try:
        for _ in range(100):
            _, writer = await asyncio.open_connection("127.0.0.1", tenants.port)
            writer.write(b"GET / HTTP/1.1\r\nHost: a.default.example.com\r\n")
            writers.append(writer)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await tenants.assert_still_serving()
        assert loop.time() - started < 3.0
    finally:
        for writer in writers:
            writer.close()


@pytest.mark.parametrize(
    "head",
    [
        b"POST /slow HTTP/1.1\r\nHost: a.default.example.com\r\nContent-Length: 1000\r\n\r\n",
        b"POST /slow HTTP/1.1\r\nHost: a.default.example.com\r\nTransfer-Encoding: chunked\r\n\r\n",
    ],
    ids=["content-length", "chunked"],
)
async def test_a_stalled_body_ends_at_the_revision_timeout(tenants: Tenants, head: bytes) -> None:
    # Tenant A's revision has timeoutSeconds 1: the body never comes, so the client gets 504
    # then, and the pod's half-sent request is cut (the pod reading it sees the connection go).
    # aiohttp then lingers up to 10 s discarding the rest of the body before it closes.
    first = b"a" * 10 if b"Content-Length" in head else b"a\r\na\r\n"
    loop = asyncio.get_running_loop()
    started = loop.time()
    got = await exchange(tenants.port, head + first, read_for=10.0, until_responses=1)
    assert loop.time() - started < 6.0, "the stalled body held the request past the revision's timeout"
    assert [r.status for r in got.responses] == [504], got
    assert tenants.seen == [], "the pod must never get a request whose body was cut as complete"
    await tenants.assert_still_serving()


async def test_a_cut_streamed_request_leaves_no_unretrieved_failure(tenants: Tenants) -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, object]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        head = b"POST /slow HTTP/1.1\r\nHost: a.default.example.com\r\nContent-Length: 1000\r\n\r\n"
        got = await exchange(tenants.port, head + b"a" * 10, read_for=10.0, until_responses=1)
        assert [r.status for r in got.responses] == [504]
        await asyncio.sleep(0.1)  # the pod's side of the cut connection closes
        gc.collect()
    finally:
        loop.set_exception_handler(previous)
    assert [c.get("message") for c in reported] == []


# --- request smuggling --------------------------------------------------------------------------

_POST = b"POST / HTTP/1.1\r\nHost: a.default.example.com\r\n"
_NEXT = b"GET /smuggled HTTP/1.1\r\nHost: a.default.example.com\r\n\r\n"

REFUSED_FRAMING = {
    "CL.TE": _POST + b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + _NEXT,
    "TE.CL": _POST + b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
    b"2d\r\nGET /smuggled HTTP/1.1\r\nHost: a.default.example.com\r\n\r\n\r\n0\r\n\r\n",
    "two Content-Lengths": _POST + b"Content-Length: 5\r\nContent-Length: 60\r\n\r\nhello" + _NEXT,
    "two equal Content-Lengths": _POST + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello" + _NEXT,
    "Content-Length list": _POST + b"Content-Length: 5, 5\r\n\r\nhello" + _NEXT,
    "negative Content-Length": _POST + b"Content-Length: -1\r\n\r\n" + _NEXT,
    "signed Content-Length": _POST + b"Content-Length: +5\r\n\r\nhello" + _NEXT,
    "Content-Length overflow": _POST + b"Content-Length: 99999999999999999999999\r\n\r\n" + _NEXT,
    "TE xchunked with CL": _POST + b"Transfer-Encoding: xchunked\r\nContent-Length: 4\r\n\r\n"
    b"5c\r\nGPOST / HTTP/1.1\r\n\r\n0\r\n\r\n",
    "TE xchunked alone": _POST + b"Transfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + _NEXT,
    "TE header with leading space": _POST + b" Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
    b"0\r\n\r\n" + _NEXT,
    "TE folded onto the next line": _POST + b"Transfer-Encoding:\r\n chunked\r\nContent-Length: 3\r\n\r\n"
    b"0\r\n\r\n" + _NEXT,
    "space before the colon": _POST
    + b"Transfer-Encoding : chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n"
    + _NEXT,
    "chunked not last": _POST + b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + _NEXT,
    "two TE headers": _POST + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n"
    b"0\r\n\r\n" + _NEXT,
    "bad chunk size": _POST + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n" + _NEXT,
    "chunk size with LF only": _POST + b"Transfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n" + _NEXT,
    "chunk longer than its size": _POST
    + b"Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n"
    + _NEXT,
}


@pytest.mark.parametrize("raw", REFUSED_FRAMING.values(), ids=REFUSED_FRAMING.keys())
async def test_ambiguous_framing_is_refused_and_nothing_is_smuggled(tenants: Tenants, raw: bytes) -> None:
    got = await tenants.send(raw)
    assert [r.status for r in got.responses] == [400], got
    assert got.closed, "after a framing error the rest of the stream must not be read as requests"
    assert tenants.seen == []
    await tenants.assert_still_serving()
    assert all(s.target != SMUGGLED for s in tenants.seen)


# Framings the gateway accepts: it decodes the body itself and frames it afresh for the pod, so
# whatever follows the body on the client connection is a request the gateway parses (and
# answers) itself, never bytes the pod reads as a request of its own.
ACCEPTED_FRAMING = {
    "chunked upper case": (_POST + b"Transfer-Encoding: CHUNKED\r\n\r\n5\r\nhello\r\n0\r\n\r\n", b"hello"),
    "chunked after a tab": (_POST + b"Transfer-Encoding:\tchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", b"hello"),
    "chunked with trailing space": (
        _POST + b"Transfer-Encoding: chunked \r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"hello",
    ),
    "gzip, chunked": (_POST + b"Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", b"hello"),
    "chunk extension and trailer": (
        _POST + b"Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n",
        b"hello",
    ),
    "Content-Length with a body that looks like a request": (
        _POST + b"Content-Length: %d\r\n\r\n" % len(_NEXT) + _NEXT,
        _NEXT,
    ),
}


@pytest.mark.parametrize(("raw", "body"), ACCEPTED_FRAMING.values(), ids=ACCEPTED_FRAMING.keys())
async def test_accepted_framing_delivers_exactly_the_body_then_a_separate_request(
    tenants: Tenants, raw: bytes, body: bytes
) -> None:
    pipelined = raw + b"GET /second HTTP/1.1\r\nHost: a.default.example.com\r\nConnection: close\r\n\r\n"
    got = await tenants.send(pipelined)
    assert [r.status for r in got.responses] == [200, 200], got
    assert [(s.method, s.target, s.body) for s in tenants.seen] == [
        ("POST", "/", body),
        ("GET", "/second", b""),
    ]
    assert all(
        "Transfer-Encoding" not in s.headers or s.headers["Transfer-Encoding"] == "chunked"
        for s in tenants.seen
    )
    await tenants.assert_still_serving()


async def test_pipelined_requests_on_kept_alive_upstream_connections_stay_apart(tenants: Tenants) -> None:
    # Bodies that end in the middle of what looks like a request line must not leave those bytes
    # on a pooled connection to the pod, where the next client's request would follow them.
    tricky = b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nX: "
    raw = b"".join(_POST + b"Content-Length: %d\r\n\r\n" % len(tricky) + tricky for _ in range(3)) + get(
        HOST_A, "/last"
    )
    got = await tenants.send(raw)
    assert [r.status for r in got.responses] == [200, 200, 200, 200]
    assert [s.target for s in tenants.seen] == ["/", "/", "/", "/last"]
    assert all(s.body == tricky for s in tenants.seen[:3])
    await tenants.assert_still_serving()
    assert all(s.target != SMUGGLED for s in tenants.seen)


# --- Host header tricks --------------------------------------------------------------------------

# (request bytes, the tenant that must get it or None, the status the client must see)
HOST_TRICKS: dict[str, tuple[bytes, str | None, int]] = {
    "port": (get(HOST_A + ":8080"), "A", 200),
    "trailing dot": (get(HOST_A + "."), "A", 200),
    "upper case": (get(HOST_A.upper()), "A", 200),
    "mixed case and port": (get("A.Default.Example.COM:80"), "A", 200),
    # RFC 9112 3.2.2 and Envoy: an absolute-form target's authority wins over the Host header.
    "absolute-form naming B, Host A": (
        b"GET http://b.other.example.com/x HTTP/1.1\r\nHost: a.default.example.com\r\n"
        b"Connection: close\r\n\r\n",
        "B",
        200,
    ),
    "absolute-form naming an unknown host, Host A": (
        b"GET http://evil.example.net/x HTTP/1.1\r\nHost: a.default.example.com\r\nConnection: close\r\n\r\n",
        None,
        404,
    ),
    "absolute-form with userinfo naming A": (
        b"GET http://b.other.example.com@a.default.example.com/x HTTP/1.1\r\nHost: b.other.example.com\r\n"
        b"Connection: close\r\n\r\n",
        "A",
        200,
    ),
    "two Host headers": (
        b"GET / HTTP/1.1\r\nHost: a.default.example.com\r\nHost: b.other.example.com\r\n"
        b"Connection: close\r\n\r\n",
        None,
        400,
    ),
    "empty Host": (get(""), None, 404),
    "no Host in HTTP/1.0": (b"GET / HTTP/1.0\r\n\r\n", None, 404),
    "unknown host": (get("c.third.example.com"), None, 404),
    "userinfo in Host": (get(f"{HOST_B}@{HOST_A}"), None, 404),
    "two hosts in one value": (get(f"{HOST_A}, {HOST_B}"), None, 404),
    "host then space then more": (get(f"{HOST_A} {HOST_B}"), None, 404),
    "suffix of a known host": (get("example.com"), None, 404),
    "known host as a suffix": (get("x." + HOST_A), None, 404),
    "non-ASCII host": (
        b"GET / HTTP/1.1\r\nHost: \xc3\xa4.default.example.com\r\nConnection: close\r\n\r\n",
        None,
        404,
    ),
    # normalize_host drops whatever follows the last colon: the rest is A's own name, never B's.
    "non-numeric port naming B": (get(f"{HOST_A}:{HOST_B}"), "A", 200),
    "X-Forwarded-Host naming B": (get(HOST_A, "/", f"X-Forwarded-Host: {HOST_B}"), "A", 200),
    "Forwarded host naming B": (get(HOST_A, "/", f"Forwarded: host={HOST_B}"), "A", 200),
    "routing headers naming B's revision": (
        get(HOST_A, "/", "Knative-Serving-Revision: b-00001", "Knative-Serving-Namespace: other"),
        "A",
        200,
    ),
}


@pytest.mark.parametrize(("raw", "tenant", "status"), HOST_TRICKS.values(), ids=HOST_TRICKS.keys())
async def test_host_tricks_never_reach_another_tenant(
    tenants: Tenants, raw: bytes, tenant: str | None, status: int
) -> None:
    got = await tenants.send(raw)
    assert [r.status for r in got.responses] == [status], got
    assert [s.tenant for s in tenants.seen] == ([tenant] if tenant else [])
    if tenant is not None:
        assert got.responses[0].body == f"tenant {tenant}\n".encode()
        seen = tenants.seen[0]
        assert seen.target.startswith("/"), "the pod gets an origin-form target"
        assert "Knative-Serving-Revision" not in seen.headers
        assert "Knative-Serving-Namespace" not in seen.headers
    await tenants.assert_still_serving()


async def test_absolute_form_gives_the_pod_the_targets_host_and_path(tenants: Tenants) -> None:
    raw = (
        b"GET http://B.Other.Example.com:8080/x?y=%20z HTTP/1.1\r\nHost: a.default.example.com\r\n"
        b"Connection: close\r\n\r\n"
    )
    got = await tenants.send(raw)
    assert [r.status for r in got.responses] == [200]
    [seen] = tenants.seen
    assert (seen.tenant, seen.target) == ("B", "/x?y=%20z")
    assert [h.lower() for h in seen.headers.getall("Host")] == ["b.other.example.com:8080"]
    assert seen.headers["X-Forwarded-Host"].lower() == "b.other.example.com:8080"


async def test_an_absolute_form_target_of_another_scheme_is_refused(tenants: Tenants) -> None:
    raw = b"GET ftp://a.default.example.com/x HTTP/1.1\r\nHost: a.default.example.com\r\n\r\n"
    got = await tenants.send(raw + get(HOST_A, SMUGGLED))
    assert [r.status for r in got.responses] == [400]
    assert got.closed and tenants.seen == []
    await tenants.assert_still_serving()


async def test_connect_is_refused_and_the_connection_closed(tenants: Tenants) -> None:
    raw = b"CONNECT b.other.example.com:80 HTTP/1.1\r\nHost: a.default.example.com\r\n\r\n" + get(
        HOST_A, SMUGGLED
    )
    got = await tenants.send(raw)
    assert [r.status for r in got.responses] == [405]
    assert got.closed
    assert tenants.seen == []
    await tenants.assert_still_serving()


# --- hop-by-hop headers -------------------------------------------------------------------------


async def test_headers_named_in_connection_are_stripped_both_ways(tenants: Tenants) -> None:
    got = await tenants.send(
        get(
            HOST_A,
            "/",
            "X-Secret: s",
            "Keep-Alive: timeout=5",
            "Proxy-Authorization: Basic eA==",
            close=False,
        )[:-2]
        + b"Connection: close, X-Secret\r\n\r\n"
    )
    assert [r.status for r in got.responses] == [200]
    [seen] = tenants.seen
    for name in ("X-Secret", "Connection", "Keep-Alive", "Proxy-Authorization"):
        assert name not in seen.headers, name
    # The pod named X-Internal in its own Connection header: the client never sees it.
    assert "X-Internal" not in got.responses[0].headers


async def test_connection_close_upgrade_is_not_an_upgrade(tenants: Tenants) -> None:
    got = await tenants.send(
        get(HOST_A, "/", "Upgrade: h2c", "HTTP2-Settings: AAMAAABkAAQAAP__", close=False)[:-2]
        + b"Connection: close, Upgrade, HTTP2-Settings\r\n\r\n"
    )
    assert [r.status for r in got.responses] == [200]
    [seen] = tenants.seen
    for name in ("Upgrade", "HTTP2-Settings", "Connection"):
        assert name not in seen.headers, name
    assert got.closed


async def test_connection_cannot_strip_host_or_the_gateways_forwarding_headers(tenants: Tenants) -> None:
    raw = get(HOST_A, "/", "X-Forwarded-For: 6.6.6.6", "X-Request-Id: mine", close=False)[:-2]
    raw += b"Connection: close, Host, X-Forwarded-For, X-Forwarded-Host, Forwarded, X-Request-Id\r\n\r\n"
    got = await tenants.send(raw)
    assert [r.status for r in got.responses] == [200]
    [seen] = tenants.seen
    assert seen.headers.getall("Host") == [HOST_A]
    assert seen.headers["X-Forwarded-For"].endswith("127.0.0.1")
    assert seen.headers["X-Forwarded-Host"] == HOST_A
    assert "proto=http" in seen.headers["Forwarded"]
    assert seen.headers["X-Request-Id"]


# --- admin endpoints ----------------------------------------------------------------------------

ADMIN_PATHS = ("/metrics", "/ready", "/healthz", "/served")


@pytest.mark.parametrize("path", ADMIN_PATHS)
async def test_admin_endpoints_are_not_served_on_the_data_port(tenants: Tenants, path: str) -> None:
    admin = tenants.gw.server.admin_port
    assert admin is not None
    data = tenants.port
    hosts = [
        "127.0.0.1",
        f"127.0.0.1:{data}",
        f"127.0.0.1:{admin}",
        "localhost",
        f"localhost:{admin}",
        "[::1]",
    ]
    for host in hosts:
        got = await tenants.send(get(host, path))
        assert [r.status for r in got.responses] == [404], (host, got)
        assert b"no route for host" in got.responses[0].body
    absolute = (
        f"GET http://127.0.0.1:{admin}{path} HTTP/1.1\r\nHost: 127.0.0.1:{admin}\r\nConnection: close\r\n\r\n"
    )
    got = await tenants.send(absolute.encode())
    assert [r.status for r in got.responses] == [404]
    # A tenant's own host gets that tenant's pod for the same path, nothing of the gateway's.
    got = await tenants.send(get(HOST_A, path))
    assert got.responses[0].body == b"tenant A\n"
    assert [s.target for s in tenants.seen] == [path]
    # ...while the admin port itself answers.
    got = await exchange(admin, get("127.0.0.1", path))
    assert got.responses[0].status in (200, 503)


def test_connection_naming_host_keeps_host_for_every_upstream_client() -> None:
    # The pool re-adds a missing Host, but the websocket client would put the pod's own address
    # there: the header rewriting itself must keep it.
    incoming = CIMultiDictProxy(CIMultiDict([("Host", HOST_A), ("Connection", "close, Host"), ("X-A", "1")]))
    pairs = upstream_headers(incoming, peer="127.0.0.1", scheme="http", host=HOST_A, request_id="r")
    out = CIMultiDict(pairs)
    assert out.getall("Host") == [HOST_A]
    assert out["X-A"] == "1"


# --- a pod that answers more than it was asked ------------------------------------------------


@pytest.mark.parametrize("pause", [0.0, 0.05], ids=["same packet", "while idle in the pool"])
async def test_an_unsolicited_pod_response_never_reaches_the_next_client(
    start_gateway: StartGateway, pause: float
) -> None:
    # Response desync: a pod that writes a second response behind the one asked for must not
    # have it handed to whichever client the pooled connection serves next.
    async def pod(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                if pause:
                    await writer.drain()
                    await asyncio.sleep(pause)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nevil!!")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(pod, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        gw = await start_gateway(
            o.ingress("a", [HOST_A], [o.path([o.split("a-00001", 100)])]), o.endpoints("a-00001", [port])
        )
        for i in range(4):
            got = await exchange(gw.server.port, get(HOST_A, f"/{i}"))
            assert len(got.responses) == 1
            assert got.responses[0].body != b"evil!!"
            assert got.responses[0].status in (200, 502)
            await asyncio.sleep(pause * 2)
    finally:
        server.close()
        await server.wait_closed()


# --- websocket handshakes ---------------------------------------------------------------------

_WS = b"GET /ws HTTP/1.1\r\nHost: a.default.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
BAD_HANDSHAKES = {
    "no key": _WS + b"Sec-WebSocket-Version: 13\r\n\r\n",
    "unsupported version": _WS
    + b"Sec-WebSocket-Version: 99\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    "key not base64 of 16 bytes": _WS + b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: x\r\n\r\n",
}


@pytest.mark.parametrize("raw", BAD_HANDSHAKES.values(), ids=BAD_HANDSHAKES.keys())
async def test_a_bad_websocket_handshake_gets_400_not_a_socket(
    start_backend: StartBackend, start_gateway: StartGateway, raw: bytes
) -> None:
    async def echo(request: web.Request) -> web.StreamResponse:
        if "Upgrade" not in request.headers:
            return web.Response(text="plain")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            await ws.send_str(message.data)
        return ws

    app = web.Application()
    app.router.add_get("/{tail:.*}", echo)
    pod = await start_backend(app)
    gw = await start_gateway(
        o.ingress("a", [HOST_A], [o.path([o.split("a-00001", 100)])]), o.endpoints("a-00001", [pod.port])
    )
    got = await exchange(gw.server.port, raw, read_for=5.0, until_responses=1)
    assert [r.status for r in got.responses] == [400], got
    after = await exchange(gw.server.port, get(HOST_A, "/plain"), until_responses=1)
    assert [(r.status, r.body) for r in after.responses] == [(200, b"plain")]


# --- floods -----------------------------------------------------------------------------------


async def test_a_pipeline_flood_is_answered_in_order_without_loss(tenants: Tenants) -> None:
    count = 300
    raw = b"".join(get(HOST_A, f"/{i}", close=False) for i in range(count)) + get(HOST_A, "/last")
    got = await exchange(tenants.port, raw, read_for=30.0, until_responses=count + 1)
    assert [r.status for r in got.responses] == [200] * (count + 1)
    assert [s.target for s in tenants.seen] == [f"/{i}" for i in range(count)] + ["/last"]
    await tenants.assert_still_serving()


async def test_expect_continue_over_the_limit_gets_413_and_no_100(tenants: Tenants) -> None:
    raw = (
        b"POST / HTTP/1.1\r\nHost: a.default.example.com\r\nExpect: 100-continue\r\n"
        b"Content-Length: 999999999\r\n\r\n"
    )
    got = await exchange(tenants.port, raw, read_for=5.0, until_responses=1)
    assert [r.status for r in got.responses] == [413]
    assert got.data.startswith(b"HTTP/1.1 413"), "no 100 Continue may precede the refusal"
    assert tenants.seen == []
    await tenants.assert_still_serving()


async def test_a_client_that_never_reads_is_cut_at_the_revision_timeout(
    start_backend: StartBackend, start_gateway: StartGateway
) -> None:
    # A large streamed answer to a client whose receive window stays shut: the gateway's writes
    # block, and the revision's timeoutSeconds (1 s) must end them and free the pod.
    pod_done: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    async def big(request: web.Request) -> web.StreamResponse:
        if request.path == "/small":
            return web.Response(text="small")
        response = web.StreamResponse()
        response.content_length = 64 * 1024 * 1024
        await response.prepare(request)
        started = asyncio.get_running_loop().time()
        try:
            for _ in range(1024):
                await response.write(b"x" * 65536)
        except ConnectionError:
            pod_done.set_result(asyncio.get_running_loop().time() - started)
            raise
        pod_done.set_result(-1.0)
        return response

    app = web.Application()
    app.router.add_get("/{tail:.*}", big)
    pod = await start_backend(app)
    gw = await start_gateway(
        o.ingress("a", [HOST_A], [o.path([o.split("a-00001", 100)])]),
        o.endpoints("a-00001", [pod.port]),
        o.revision("a-00001", timeout_s=1),
    )
    _, writer = await asyncio.open_connection("127.0.0.1", gw.server.port, limit=1024)
    try:
        writer.write(get(HOST_A, "/big"))
        await writer.drain()
        # Never read: the stream reader stops the socket once its small buffer is full.
        cut_after = await asyncio.wait_for(pod_done, 10.0)
        assert 0 <= cut_after < 6.0, "the pod was held past the revision's timeout"
    finally:
        writer.close()
    after = await exchange(gw.server.port, get(HOST_A, "/small"), until_responses=1)
    assert [(r.status, r.body) for r in after.responses] == [(200, b"small")]


# --- pods whose answers are malformed -----------------------------------------------------------

BAD_POD_HEADS = {
    "negative status": b"HTTP/1.1 -12 OK\r\nContent-Length: 2\r\n\r\nok",
    "signed status": b"HTTP/1.1 +20 OK\r\nContent-Length: 2\r\n\r\nok",
    "status below 100": b"HTTP/1.1 099 OK\r\nContent-Length: 2\r\n\r\nok",
    "status above 599": b"HTTP/1.1 999 OK\r\nContent-Length: 2\r\n\r\nok",
    "four-digit status": b"HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok",
    "bare LF in a header value": b"HTTP/1.1 200 OK\r\nX-A: a\nInjected: b\r\nContent-Length: 2\r\n\r\nok",
    "bare CR in a header value": b"HTTP/1.1 200 OK\r\nX-A: a\rInjected: b\r\nContent-Length: 2\r\n\r\nok",
    "bare LF in the reason": b"HTTP/1.1 200 O\nK\r\nContent-Length: 2\r\n\r\nok",
    "NUL in a header name": b"HTTP/1.1 200 OK\r\nX-\x00: a\r\nContent-Length: 2\r\n\r\nok",
    "DEL in a header value": b"HTTP/1.1 200 OK\r\nX-A: \x7f\r\nContent-Length: 2\r\n\r\nok",
    "conflicting Content-Lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
    "Content-Length with an underscore": b"HTTP/1.1 200 OK\r\nContent-Length: 0_2\r\n\r\nok",
    "head over 64 KiB": b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70_000 + b"\r\nContent-Length: 2\r\n\r\nok",
}


async def _one_answer_pod(answer: bytes) -> asyncio.Server:
    async def pod(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(answer)
            await writer.drain()
            await asyncio.sleep(0.1)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(pod, "127.0.0.1", 0)


@pytest.mark.parametrize("answer", BAD_POD_HEADS.values(), ids=BAD_POD_HEADS.keys())
async def test_a_malformed_pod_head_is_a_502_never_passed_on(
    start_gateway: StartGateway, answer: bytes
) -> None:
    server = await _one_answer_pod(answer)
    try:
        port = server.sockets[0].getsockname()[1]
        gw = await start_gateway(
            o.ingress("a", [HOST_A], [o.path([o.split("a-00001", 100)])]), o.endpoints("a-00001", [port])
        )
        got = await exchange(gw.server.port, get(HOST_A), until_responses=1)
        assert [r.status for r in got.responses] == [502], got
        assert "Injected" not in got.responses[0].headers
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
    ],
    ids=["Content-Length and chunked", "xchunked runs to the close", "repeated equal Content-Length"],
)
async def test_tolerated_pod_framings_deliver_the_body(start_gateway: StartGateway, answer: bytes) -> None:
    server = await _one_answer_pod(answer)
    try:
        port = server.sockets[0].getsockname()[1]
        gw = await start_gateway(
            o.ingress("a", [HOST_A], [o.path([o.split("a-00001", 100)])]), o.endpoints("a-00001", [port])
        )
        got = await exchange(gw.server.port, get(HOST_A), until_responses=1)
        assert [(r.status, r.body) for r in got.responses] == [(200, b"ok")], got
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    ("head", "chunked", "length", "keep_alive"),
    [
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", True, None, True),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", False, None, False),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", True, None, False),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", False, 5, True),
        (b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", False, 0, True),
    ],
)
def test_response_framing_rules(head: bytes, chunked: bool, length: int | None, keep_alive: bool) -> None:
    parsed = http1.parse_response_head(head, "GET")
    assert parsed is not None
    assert (parsed[0].chunked, parsed[0].content_length, parsed[0].keep_alive) == (
        chunked,
        length,
        keep_alive,
    )


async def test_clients_that_leave_while_queued_never_reach_the_pod(
    start_backend: StartBackend, start_gateway: StartGateway
) -> None:
    # 100 clients queue for a revision with no ready pod (containerConcurrency 1) and hang up.
    # When a pod appears, none of them may be sent to it, and no slot may be left taken: the
    # next client is served at once.
    seen: list[Seen] = []
    pod = await start_backend(_recording_app("A", seen))
    routes = [
        o.ingress("a", [HOST_A], [o.path([o.split("a-00001", 100)])]),
        o.revision("a-00001", container_concurrency=1, timeout_s=30),
    ]
    gw = await start_gateway(*routes, o.endpoints("a-00001", [], not_ready=[pod.port]))
    writers = []
    for i in range(100):
        _, writer = await asyncio.open_connection("127.0.0.1", gw.server.port)
        writer.write(get(HOST_A, f"/gone-{i}", close=False))
        writers.append(writer)
    for writer in writers:
        await writer.drain()
    await asyncio.sleep(0.3)  # all of them parsed and queued
    for writer in writers:
        writer.close()
    await asyncio.sleep(0.3)  # and all of them gone
    gw.set_objects(*routes, o.endpoints("a-00001", [pod.port]))
    loop = asyncio.get_running_loop()
    started = loop.time()
    got = await exchange(gw.server.port, get(HOST_A, "/after"), read_for=10.0, until_responses=1)
    assert [r.status for r in got.responses] == [200]
    assert loop.time() - started < 3.0
    assert [s.target for s in seen] == ["/after"]
