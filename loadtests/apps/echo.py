"""An app that takes any method: `POST /` with a body answers 200 with the body's length;
`?sleep=MS` holds the answer that long (after reading the body). GET answers 200 too.

For requests the gateway must not send twice (a POST with a body), so that a fault test sees
what happens to them when their pod dies. Listens on 127.0.0.1:$PORT (HOST overrides), quiet.
Run: `PORT=8080 python -m loadtests.apps.echo`.
"""

from __future__ import annotations

import asyncio
import os
import signal

from aiohttp import web


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    sleep_ms = request.query.get("sleep")
    if sleep_ms:
        await asyncio.sleep(float(sleep_ms) / 1000.0)
    return web.Response(text=str(len(body)))


def build_app() -> web.Application:
    app = web.Application()
    app.router.add_route("*", "/", echo)
    return app


async def serve(host: str, port: int) -> None:
    runner = web.AppRunner(build_app(), access_log=None)
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


def main() -> None:
    asyncio.run(serve(os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8080"))))


if __name__ == "__main__":
    main()
