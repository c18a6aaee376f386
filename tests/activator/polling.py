"""Waiting for a state the gateway reaches on its own, across sockets where no clock can be passed."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Collection

import aiohttp


async def eventually(condition: Callable[[], bool], within: float = 15.0) -> None:
    async with asyncio.timeout(within):
        # The gateway has no event for "n requests queued"; polling its state is the honest probe.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port


def free_ports(count: int, avoid: Collection[int] = ()) -> int:
    """The first of `count` consecutive free ports, none in `avoid` (`--workers` admin ports)."""
    for _ in range(50):
        first = free_port()
        block = range(first, first + count)
        if set(block) & set(avoid):
            continue
        try:
            for port in block[1:]:
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first
    raise OSError(f"no {count} consecutive free ports")


async def admin_ready(client: aiohttp.ClientSession, admin_port: int, within: float = 30.0) -> None:
    """Until a gateway's admin `/ready` answers 200 (a cold start on a loaded machine is slow)."""
    async with asyncio.timeout(within):
        while True:
            try:
                async with client.get(f"http://127.0.0.1:{admin_port}/ready") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
