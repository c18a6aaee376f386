"""Waiting for a state the gateway reaches on its own, across sockets where no clock can be passed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def eventually(condition: Callable[[], bool], within: float = 15.0) -> None:
    async with asyncio.timeout(within):
        # The gateway has no event for "n requests queued"; polling its state is the honest probe.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)
