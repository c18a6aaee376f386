"""The trivial app: `GET /` answers 200 "hello"; `?sleep=MS` delays the answer that long.

Listens on 127.0.0.1:$PORT (HOST overrides the address) and prints nothing per request, so a
benchmark measures HTTP, not logging. Run: `PORT=8080 python -m loadtests.apps.hello`.
"""

from __future__ import annotations

import asyncio
import os
import signal

from aiohttp import web


async def hello(request: web.Request) -> web.Response:
    sleep_ms = request.query.get("sleep")
    if sleep_ms:
        await asyncio.sleep(float(sleep_ms) / 1000.0)
    return web.Response(text="hello")


def build_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/", hello)
    return app


async def serve(host: str, port: int) -> None:
    runner = web.AppRunner(build_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    asyncio.run(serve(os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8080"))))


if __name__ == "__main__":
    main()
