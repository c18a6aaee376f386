"""Small helpers the proxy paths share: the gateway's own error answers and error inspection."""

from __future__ import annotations

from activator.handlers.exchange import Reply, text_reply
from activator.handlers.limits import LimitedBody


def bad_gateway(reason: str) -> Reply:
    return text_reply(502, f"kwake gateway: upstream error: {reason}\n")


def body_started(body: bytes | LimitedBody | None) -> bool:
    # A refused connect happens before any body is read; checked anyway so that a retry can
    # never replay a partly consumed body. (Not the stream's total_bytes: that counts what
    # arrived, and a small body arrives with the headers.)
    return isinstance(body, LimitedBody) and body.started
