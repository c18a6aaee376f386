"""What every container runner shares: the clock, one HTTP session, the state dir."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import aiohttp

from localkube.kubelet import clock as clocks
from localkube.kubelet import env as envs
from localkube.kubelet import process

T = TypeVar("T")


@dataclass(frozen=True)
class Runtime:
    clock: clocks.Clock
    http: aiohttp.ClientSession
    objects: envs.ObjectSource
    state_dir: Path
    groups: process.GroupRecords
    base_env: Mapping[str, str]


async def within(awaitable: Awaitable[T], seconds: float, clock: clocks.Clock) -> T | None:
    """The awaitable's result, or None if `seconds` of clock time pass first (it is cancelled)."""
    work = asyncio.ensure_future(awaitable)
    timer = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait({work, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (work, timer):
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    if work.done() and not work.cancelled() and work.exception() is None:
        return work.result()
    return None


async def cancel_all(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
