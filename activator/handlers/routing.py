"""Host (and tag header) to revision: the ingress half of the gateway.

An unknown host gets 404 with a body that says so; a weighted split is drawn per request and
recorded in the request's context for the handlers after it.
"""

from __future__ import annotations

import random

from multidict import CIMultiDict

from activator.handlers.chain import Check
from activator.handlers.exchange import Exchange, Reply, text_reply
from activator.state import GatewayState


def routing_check(state: GatewayState, rng: random.Random) -> Check:
    def route(request: Exchange) -> Reply | None:
        host = request.headers.get("Host", "")
        path = state.table.lookup(host, request.path, request.headers)
        if path is None and not state.synced:
            # The routes are not loaded yet: not knowing a host is not knowing it has none.
            return text_reply(
                503, "kwake gateway: routes not loaded yet\n", CIMultiDict({"Retry-After": "1"})
            )
        if path is None:
            return text_reply(404, f"kwake gateway: no route for host {host!r}\n")
        split = path.pick(rng.random())
        revision = state.revisions.get(split.revision) if split is not None else None
        if split is None or revision is None:
            return text_reply(503, f"kwake gateway: host {host!r} has no revision to serve\n")
        ctx = request.ctx
        ctx.path, ctx.split, ctx.revision = path, split, revision
        return None

    return route
