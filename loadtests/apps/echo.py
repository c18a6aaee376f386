"""An app that takes any method: `POST /` with a body answers 200 with the body's length;
`?sleep=MS` holds the answer that long (after reading the body). GET answers 200 too.

For requests the gateway must not send twice (a POST with a body), so that a fault test sees
what happens to them when their pod dies. Listens on 127.0.0.1:$PORT (HOST overrides), quiet.
Run: `PORT=8080 python -m loadtests.apps.echo`.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from loadtests.apps.serve import run


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


def main() -> None:
    run(build_app)


if __name__ == "__main__":
    main()
