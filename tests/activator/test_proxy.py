"""Requests through the gateway to real loopback pods: routing, headers, bodies, errors."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from activator.config import GatewayConfig
from tests.activator import objects as o
from tests.activator.conftest import ListLines, StartBackend, StartGateway, hello_app

HOST = "hello.default.example.com"


def _routes(port: int, **kwargs: Any) -> list[dict[str, Any]]:
    return [
        o.ingress("hello", [HOST], [o.path([o.split("hello-00001", 100)], **kwargs)]),
        o.endpoints("hello-00001", [port]),
    ]


def _echo_headers_app(seen: list[CIMultiDict[str]]) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        seen.append(CIMultiDict(request.headers))
        return web.Response(text="ok", headers={"X-Pod": "1", "Set-Cookie": "a=b"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def test_request_reaches_the_pod_with_forwarding_headers(
    start_backend: StartBackend, start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    seen: list[CIMultiDict[str]] = []
    backend = await start_backend(_echo_headers_app(seen))
    gw = await start_gateway(*_routes(backend.port, append={"Knative-Serving-Default-Route": "true"}))
    headers = {
        "Host": HOST + ":8080",
        "X-Request-Id": "req-1",
        "Knative-Serving-Revision": "spoofed",
        "Connection": "keep-alive, X-Secret",
        "X-Secret": "hop",
        "X-Forwarded-For": "10.1.1.1",
    }
    async with client.get(gw.url + "/a/b?c=d%20e", headers=headers) as resp:
        assert resp.status == 200
        assert await resp.text() == "ok"
        assert resp.headers["X-Pod"] == "1"
    upstream = seen[0]
    assert upstream["Host"] == HOST + ":8080"
    assert upstream["X-Request-Id"] == "req-1"
    assert upstream["X-Forwarded-For"] == "10.1.1.1, 127.0.0.1"
    assert upstream["X-Forwarded-Proto"] == "http"
    assert upstream["X-Forwarded-Host"] == HOST + ":8080"
    assert upstream["Forwarded"] == f'for=127.0.0.1;host="{HOST}:8080";proto=http'
    assert upstream["Knative-Serving-Default-Route"] == "true"
    assert "Knative-Serving-Revision" not in upstream
    assert "Knative-Serving-Namespace" not in upstream
    assert "X-Secret" not in upstream


async def test_request_id_is_added_when_missing(
    start_backend: StartBackend, start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    seen: list[CIMultiDict[str]] = []
    backend = await start_backend(_echo_headers_app(seen))
    gw = await start_gateway(*_routes(backend.port))
    for _ in range(2):
        async with client.get(gw.url, headers={"Host": HOST}) as resp:
            assert resp.status == 200
    ids = [h["X-Request-Id"] for h in seen]
    assert len(ids[0]) == 32 and ids[0] != ids[1]


async def test_unknown_host_is_404_with_a_clear_body(
    start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    gw = await start_gateway(*_routes(1))
    async with client.get(gw.url, headers={"Host": "nope.example.com"}) as resp:
        assert resp.status == 404
        assert "no route for host 'nope.example.com'" in await resp.text()


async def test_host_match_ignores_case_port_and_trailing_dot(
    start_backend: StartBackend, start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    backend = await start_backend(hello_app())
    gw = await start_gateway(*_routes(backend.port))
    for host in ("HELLO.default.example.com", HOST + ".", HOST + ":80"):
        async with client.get(gw.url, headers={"Host": host}) as resp:
            assert resp.status == 200, host


async def test_network_probe_is_answered_not_proxied(
    start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    gw = await start_gateway()
    async with client.get(gw.url, headers={"K-Network-Probe": "activator"}) as resp:
        assert (resp.status, await resp.text()) == (200, "activator")
    probe = {"K-Network-Probe": "probe", "K-Network-Hash": "abc"}
    async with client.get(gw.url, headers=probe) as resp:
        assert resp.status == 200 and resp.headers["K-Network-Hash"] == "abc"
    async with client.get(gw.url, headers={"K-Network-Probe": "bogus"}) as resp:
        assert resp.status == 400


async def test_tag_header_selects_its_path(
    start_backend: StartBackend, start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    def named(name: str) -> web.Application:
        async def handle(request: web.Request) -> web.Response:
            return web.Response(text=name)

        app = web.Application()
        app.router.add_get("/", handle)
        return app

    blue, green = await start_backend(named("blue")), await start_backend(named("green"))
    gw = await start_gateway(
        o.ingress(
            "hello",
            [HOST],
            [
                o.path([o.split("hello-green", 100)], headers={"Knative-Serving-Tag": "green"}),
                o.path([o.split("hello-blue", 100)]),
            ],
        ),
        o.endpoints("hello-blue", [blue.port]),
        o.endpoints("hello-green", [green.port]),
    )
    async with client.get(gw.url, headers={"Host": HOST, "Knative-Serving-Tag": "green"}) as resp:
        assert await resp.text() == "green"
    async with client.get(gw.url, headers={"Host": HOST}) as resp:
        assert await resp.text() == "blue"


async def test_splits_follow_percentages(
    start_backend: StartBackend, start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    def named(name: str) -> web.Application:
        async def handle(request: web.Request) -> web.Response:
            return web.Response(text=name)

        app = web.Application()
        app.router.add_get("/", handle)
        return app

    a, b, c = [await start_backend(named(n)) for n in "abc"]
    gw = await start_gateway(
        o.ingress("s", [HOST], [o.path([o.split("r-a", 70), o.split("r-b", 20), o.split("r-c", 10)])]),
        o.endpoints("r-a", [a.port]),
        o.endpoints("r-b", [b.port]),
        o.endpoints("r-c", [c.port]),
    )
    total = 3000
    counts = {"a": 0, "b": 0, "c": 0}
    sem = asyncio.Semaphore(50)

    async def one() -> None:
        async with sem, client.get(gw.url, headers={"Host": HOST}) as resp:
            counts[await resp.text()] += 1

    await asyncio.gather(*(one() for _ in range(total)))
    # 5 standard deviations of a binomial: fails by chance about once in 1.7 million runs.
    for name, share in (("a", 0.7), ("b", 0.2), ("c", 0.1)):
        sigma = (total * share * (1 - share)) ** 0.5
        assert abs(counts[name] - total * share) < 5 * sigma, counts


async def test_bodies_stream_both_ways(
    start_backend: StartBackend, start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    async def echo(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        async for chunk in request.content.iter_chunked(65536):
            await response.write(chunk)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/", echo)
    backend = await start_backend(app)
    gw = await start_gateway(*_routes(backend.port))
    payload = bytes(range(256)) * 8192  # 2 MiB, over the buffering threshold

    async def chunks() -> Any:
        for i in range(0, len(payload), 100_000):
            yield payload[i : i + 100_000]

    async with client.post(gw.url, headers={"Host": HOST}, data=chunks()) as resp:
        assert resp.status == 200
        assert await resp.read() == payload


async def test_declared_oversized_body_is_413(
    start_backend: StartBackend, start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    backend = await start_backend(hello_app())
    config = GatewayConfig(max_body_bytes=1000, drain_timeout_s=2.0)
    gw = await start_gateway(*_routes(backend.port), config=config)
    async with client.post(gw.url, headers={"Host": HOST}, data=b"x" * 1001) as resp:
        assert resp.status == 413

    async def chunks() -> Any:
        for _ in range(5):
            yield b"y" * 500

    async with client.post(gw.url, headers={"Host": HOST}, data=chunks()) as resp:
        assert resp.status == 413, await resp.text()
    async with client.post(gw.url, headers={"Host": HOST}, data=b"x" * 1000) as resp:
        assert resp.status == 200


async def test_oversized_headers_are_431(
    start_backend: StartBackend, start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    backend = await start_backend(hello_app())
    gw = await start_gateway(*_routes(backend.port))
    big = {f"X-Big-{i}": "v" * 4000 for i in range(10)}
    async with client.get(gw.url, headers={"Host": HOST, **big}) as resp:
        assert resp.status == 431


async def test_upstream_failures_are_502_and_do_not_hurt_others(
    start_backend: StartBackend, start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    async def handle(request: web.Request) -> web.StreamResponse:
        if request.query.get("die") == "before":
            assert request.transport is not None
            request.transport.abort()
            return web.Response(text="never seen")
        if request.query.get("die") == "during":
            response = web.StreamResponse()
            response.content_length = 1_000_000
            await response.prepare(request)
            await response.write(b"x" * 1000)
            assert request.transport is not None
            request.transport.abort()
            return response
        return web.Response(text="fine")

    app = web.Application()
    app.router.add_get("/", handle)
    backend = await start_backend(app)
    gw = await start_gateway(*_routes(backend.port))
    async with client.get(gw.url + "/?die=before", headers={"Host": HOST}) as resp:
        assert resp.status == 502
    async with client.get(gw.url + "/?die=during", headers={"Host": HOST}) as resp:
        assert resp.status == 200
        try:
            body = await resp.read()
        except aiohttp.ClientPayloadError:
            body = b""
        assert len(body) < 1_000_000
    async with client.get(gw.url, headers={"Host": HOST}) as resp:
        assert (resp.status, await resp.text()) == (200, "fine")


async def test_one_json_access_log_line_per_request(
    start_backend: StartBackend, start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    lines = ListLines()
    backend = await start_backend(hello_app())
    gw = await start_gateway(*_routes(backend.port), access_log=lines)
    async with client.get(gw.url + "/x?y=1", headers={"Host": HOST, "X-Request-Id": "abc"}) as resp:
        assert resp.status == 200
    async with client.get(gw.url, headers={"Host": "nope"}) as resp:
        assert resp.status == 404
    first, second = (json.loads(line) for line in lines.lines)
    assert first["status"] == 200 and first["bytes"] == 5 and first["method"] == "GET"
    assert first["host"] == HOST and first["path"] == "/x?y=1" and first["request_id"] == "abc"
    assert first["namespace"] == "default" and first["revision"] == "hello-00001"
    assert first["pod"] == f"127.0.0.1:{backend.port}" and first["queue_wait"] >= 0
    assert first["duration"] > 0 and first["time"] > 1.7e9
    assert second["status"] == 404 and second["revision"] is None


async def test_head_keeps_the_pods_length_and_expect_continue_is_answered(
    start_backend: StartBackend, start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    seen: list[CIMultiDict[str]] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(CIMultiDict(request.headers))
        return web.Response(body=b"x" * 1234 if request.method != "POST" else await request.read())

    app = web.Application()
    app.router.add_route("*", "/", handle)
    backend = await start_backend(app)
    gw = await start_gateway(*_routes(backend.port))
    async with client.head(gw.url, headers={"Host": HOST}) as resp:
        assert resp.status == 200 and resp.headers["Content-Length"] == "1234"
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.server.port)
    try:
        writer.write(
            f"POST / HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n".encode()
        )
        await writer.drain()
        assert await asyncio.wait_for(reader.readline(), 10.0) == b"HTTP/1.1 100 Continue\r\n"
        await reader.readline()
        writer.write(b"hello")
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10.0)
        assert head.startswith(b"HTTP/1.1 200")
        assert await reader.readexactly(5) == b"hello"
    finally:
        writer.close()
    assert "Expect" not in seen[-1]
