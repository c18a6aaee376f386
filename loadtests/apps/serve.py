"""How every sample app runs: on $HOST:$PORT (127.0.0.1:8080 by default), quiet, until SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable

from aiohttp import web


async def serve(app: web.Application, host: str, port: int) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, backlog=1024).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def run(build_app: Callable[[], web.Application]) -> None:
    asyncio.run(serve(build_app(), os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8080"))))
