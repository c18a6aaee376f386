"""A pod that accepts connections while it shuts down (still listed, leaving Endpoints)."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp

from tests.activator import objects as o
from tests.activator.conftest import StartBackend, StartGateway, hello_app

HOST = "hello.default.example.com"


async def _closing_server() -> tuple[asyncio.Server, int, list[int]]:
    """Accepts, reads the request, closes without a byte of answer: a process mid-shutdown."""
    accepted: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        with contextlib.suppress(OSError):
            await reader.readuntil(b"\r\n\r\n")
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, port, accepted


async def test_an_idempotent_request_closed_unanswered_goes_to_another_pod(
    start_backend: StartBackend, start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    dying, dying_port, accepted = await _closing_server()
    try:
        healthy = await start_backend(hello_app())
        gateway = await start_gateway(
            o.ingress("hello", [HOST], [o.path([o.split("hello-00001", 100)])]),
            o.endpoints("hello-00001", [dying_port, healthy.port]),
            o.revision("hello-00001"),  # CC 0: random pairs, so the dying pod is picked within a few requests
        )
        for _ in range(30):
            async with client.get(gateway.url, headers={"Host": HOST}) as response:
                assert response.status == 200 and await response.text() == "hello"
        assert accepted, "the dying pod was never tried: the test proves nothing"
        async with client.post(gateway.url, headers={"Host": HOST}, data=b"x") as response:
            # A request with a body is not repeated: if the dying pod took it, it is a 502.
            assert response.status in (200, 502)
    finally:
        dying.close()
        await dying.wait_closed()
