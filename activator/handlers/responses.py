"""Small helpers the proxy paths share: the gateway's own error answers and error inspection."""

from __future__ import annotations

from aiohttp import web

from activator.handlers.limits import LimitedBody


def bad_gateway(reason: str) -> web.Response:
    return web.Response(status=502, text=f"kwake gateway: upstream error: {reason}\n")


def body_started(body: LimitedBody | None) -> bool:
    # A refused connect happens before any body is read; checked anyway so that a retry can
    # never replay a partly consumed body. (Not the stream's total_bytes: that counts what
    # arrived, and a small body arrives with the headers.)
    return body is not None and body.started


def caused_by(exc: BaseException, kind: type[Exception]) -> BaseException | None:
    """`exc` or the first exception of `kind` in its cause/context chain (aiohttp wraps errors)."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None or isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
