"""The trivial app: `GET /` answers 200 "hello"; `?sleep=MS` delays the answer that long.

Listens on 127.0.0.1:$PORT (HOST overrides the address) and prints nothing per request, so a
benchmark measures HTTP, not logging. Run: `PORT=8080 python -m loadtests.apps.hello`.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from loadtests.apps.serve import run


async def hello(request: web.Request) -> web.Response:
    sleep_ms = request.query.get("sleep")
    if sleep_ms:
        await asyncio.sleep(float(sleep_ms) / 1000.0)
    return web.Response(text="hello")


def build_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/", hello)
    return app


def main() -> None:
    run(build_app)


if __name__ == "__main__":
    main()
