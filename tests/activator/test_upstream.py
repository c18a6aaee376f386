"""The keep-alive pool against raw loopback servers that misbehave on purpose."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from activator.backends import PodAddress
from activator.upstream import UpstreamError, UpstreamPool

Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
async def raw_server() -> AsyncIterator[Callable[[Serve], Awaitable[PodAddress]]]:
    servers: list[asyncio.Server] = []
    writers: list[asyncio.StreamWriter] = []

    async def start(serve: Serve) -> PodAddress:
        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.append(writer)
            try:
                await serve(reader, writer)
            finally:
                writer.close()

        server = await asyncio.start_server(tracked, "127.0.0.1", 0)
        servers.append(server)
        return PodAddress("127.0.0.1", server.sockets[0].getsockname()[1])

    yield start
    for writer in writers:
        writer.close()
    for server in servers:
        server.close()
        await server.wait_closed()


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


async def test_connections_are_reused_and_a_stale_one_is_retried_for_bodiless_requests(
    raw_server: Callable[[Serve], Awaitable[PodAddress]],
) -> None:
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await _read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        # Then close at the next request, as a server whose keep-alive ran out does.
        await _read_head(reader)

    pod = await raw_server(serve)
    pool = UpstreamPool()
    try:
        for _ in range(3):
            response = await pool.request(pod, "GET", "/", [("Host", "h")])
            assert (response.status, await response.read()) == (200, b"ok")
            response.release()
        assert connections == 3  # each reuse found the connection closed and retried once
    finally:
        pool.close()


async def test_chunked_and_until_close_bodies_stream(
    raw_server: Callable[[Serve], Awaitable[PodAddress]],
) -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await _read_head(reader)
        if b"GET /chunked" in head:
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for piece in (b"ab", b"cd"):
                writer.write(b"%x\r\n%b\r\n" % (len(piece), piece))
                await writer.drain()
                await asyncio.sleep(0.01)
            writer.write(b"0\r\n\r\n")
        else:
            writer.write(b"HTTP/1.0 200 OK\r\n\r\nuntil-close")
            await writer.drain()
            writer.close()

    pod = await raw_server(serve)
    pool = UpstreamPool()
    try:
        response = await pool.request(pod, "GET", "/chunked", [("Host", "h")])
        assert response.content_length is None
        assert [await response.next_chunk() for _ in range(3)] == [b"ab", b"cd", b""]
        response.release()
        response = await pool.request(pod, "GET", "/close", [("Host", "h")])
        assert await response.read() == b"until-close"
        response.release()
        # The chunked response left its connection reusable (the second request used it); the
        # read-until-close one ended it.
        assert pool.idle_connections() == 0
    finally:
        pool.close()


async def test_request_bodies_stream_chunked_or_with_length(
    raw_server: Callable[[Serve], Awaitable[PodAddress]],
) -> None:
    received: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await _read_head(reader)
            if b"Content-Length: 6" in head:
                received.append(await reader.readexactly(6))
            else:
                received.append(await reader.readuntil(b"0\r\n\r\n"))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()

    async def body() -> AsyncIterator[bytes]:
        yield b"abc"
        yield b"def"

    pod = await raw_server(serve)
    pool = UpstreamPool()
    try:
        for length in (6, None):
            response = await pool.request(pod, "POST", "/", [("Host", "h")], body(), length)
            assert response.status == 200 and await response.read() == b""
            response.release()
        assert received == [b"abcdef", b"3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n"]
    finally:
        pool.close()


async def test_a_pod_dying_mid_body_is_an_upstream_error(
    raw_server: Callable[[Serve], Awaitable[PodAddress]],
) -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()
        writer.transport.abort()

    pod = await raw_server(serve)
    pool = UpstreamPool()
    try:
        response = await pool.request(pod, "GET", "/", [("Host", "h")])
        with pytest.raises(UpstreamError):
            await response.read()
        response.release()
        assert pool.idle_connections() == 0
    finally:
        pool.close()


async def test_garbage_and_refusals(raw_server: Callable[[Serve], Awaitable[PodAddress]]) -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_head(reader)
        writer.write(b"SMTP ready\r\n\r\n")
        await writer.drain()

    pod = await raw_server(serve)
    pool = UpstreamPool()
    try:
        with pytest.raises(UpstreamError):
            await pool.request(pod, "GET", "/", [("Host", "h")])
        with pytest.raises(ConnectionRefusedError):
            await pool.request(PodAddress("127.0.0.1", 9), "GET", "/", [("Host", "h")])
    finally:
        pool.close()


async def test_idle_connections_are_swept(raw_server: Callable[[Serve], Awaitable[PodAddress]]) -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await _read_head(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()

    pod = await raw_server(serve)
    pool = UpstreamPool(idle_timeout_s=0.0)
    try:
        response = await pool.request(pod, "GET", "/", [("Host", "h")])
        await response.read()
        response.release()
        assert pool.idle_connections() == 1
        assert pool.sweep() == 1 and pool.idle_connections() == 0
    finally:
        pool.close()


async def test_connections_per_pod_are_capped_and_waiters_served_in_turn(
    raw_server: Callable[[Serve], Awaitable[PodAddress]],
) -> None:
    open_now = peak = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal open_now, peak
        open_now += 1
        peak = max(peak, open_now)
        try:
            while True:
                try:
                    await _read_head(reader)
                except asyncio.IncompleteReadError:
                    return
                await asyncio.sleep(0.005)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        finally:
            open_now -= 1

    pod = await raw_server(serve)
    pool = UpstreamPool(max_connections_per_pod=2)

    async def one() -> bytes:
        response = await pool.request(pod, "GET", "/", [("Host", "h")])
        try:
            return await response.read()
        finally:
            response.release()

    try:
        assert await asyncio.gather(*(one() for _ in range(20))) == [b"ok"] * 20
        assert peak == 2
    finally:
        pool.close()


async def test_an_early_answer_is_passed_on_while_the_body_is_still_streaming(
    raw_server: Callable[[Serve], Awaitable[PodAddress]],
) -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_head(reader)  # never reads the body
        writer.write(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 3\r\n\r\nbig")
        await writer.drain()
        while await reader.read(65536):  # until the gateway gives the connection up
            pass

    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(1000):
            sent += 1
            yield b"x" * 65536
            await asyncio.sleep(0.001)

    pod = await raw_server(serve)
    pool = UpstreamPool()
    try:
        response = await asyncio.wait_for(pool.request(pod, "POST", "/", [("Host", "h")], endless()), 10)
        assert (response.status, await response.read()) == (413, b"big")
        response.release()
        assert sent < 1000 and pool.idle_connections() == 0  # the rest of the body was not sent
    finally:
        pool.close()
