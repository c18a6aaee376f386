"""Clients that misbehave at the HTTP level: malformed requests and slow-loris headers."""

from __future__ import annotations

import asyncio

from activator.config import GatewayConfig
from tests.activator.conftest import StartGateway


async def test_malformed_request_is_400(start_gateway: StartGateway) -> None:
    gw = await start_gateway()
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.server.port)
    try:
        writer.write(b"THIS IS NOT HTTP\r\n\r\n")
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10.0)
        assert status_line.split(b" ")[1] == b"400"
    finally:
        writer.close()
        await writer.wait_closed()


async def test_a_client_trickling_headers_is_cut_off(start_gateway: StartGateway) -> None:
    gw = await start_gateway(config=GatewayConfig(header_timeout_s=0.3, drain_timeout_s=1.0))
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.server.port)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: slow.example.com\r\n")
        await writer.drain()
        for _ in range(3):
            await asyncio.sleep(0.05)
            writer.write(b"X-Slow: 1\r\n")
        assert await asyncio.wait_for(reader.read(), 10.0) == b""
        assert loop.time() - started < 8.0  # 0.3 s, with room for a loaded machine
    finally:
        writer.close()
