"""Host (and tag header) to revision: the ingress half of the gateway.

An unknown host gets 404 with a body that says so; a weighted split is drawn per request and
recorded in the request's context for the handlers after it.
"""

from __future__ import annotations

import random

from aiohttp import web

from activator.handlers.chain import Check
from activator.handlers.context import CONTEXT
from activator.state import GatewayState


def routing_check(state: GatewayState, rng: random.Random) -> Check:
    def route(request: web.BaseRequest) -> web.StreamResponse | None:
        host = request.headers.get("Host", "")
        path = state.table.lookup(host, request.path, request.headers)
        if path is None and not state.synced:
            # The routes are not loaded yet: not knowing a host is not knowing it has none.
            return web.Response(
                status=503, headers={"Retry-After": "1"}, text="kwake gateway: routes not loaded yet\n"
            )
        if path is None:
            return web.Response(status=404, text=f"kwake gateway: no route for host {host!r}\n")
        split = path.pick(rng.random())
        revision = state.revisions.get(split.revision) if split is not None else None
        if split is None or revision is None:
            return web.Response(status=503, text=f"kwake gateway: host {host!r} has no revision to serve\n")
        ctx = request[CONTEXT]
        ctx.path, ctx.split, ctx.revision = path, split, revision
        return None

    return route
