"""What the handlers learn about a request as it goes down the chain, kept on its exchange."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from activator.backends import PodAddress
from activator.handlers.exchange import Exchange, Reply
from activator.routing import Path, Split
from activator.state import RevisionState


class RequestContext:
    # A plain class, not a dataclass: one per request, and mypyc compiles a written __init__
    # (a dataclass's generated one stays interpreted).
    __slots__ = (
        "idle_timeout",
        "path",
        "pod",
        "queue_wait",
        "request_id",
        "response_deadline",
        "revision",
        "split",
        "started",
        "total_deadline",
    )

    def __init__(self, request_id: str, started: float) -> None:
        self.request_id = request_id
        # Loop time the request arrived.
        self.started = started
        self.path: Path | None = None
        self.split: Split | None = None
        self.revision: RevisionState | None = None
        self.pod: PodAddress | None = None
        self.queue_wait = 0.0
        # Loop times by which the response must start, and end.
        self.response_deadline = float("inf")
        self.total_deadline = float("inf")
        # Seconds the pod may stay silent while answering (0 = no limit).
        self.idle_timeout = 0.0


# One link of the chain: Knative's activator composes http.Handlers the same way.
Handler = Callable[[Exchange], Awaitable[Reply]]


class PodRefusedError(Exception):
    """The pod refused the connection before any byte was sent: safe to retry on another pod."""


class PodClosedError(PodRefusedError):
    """The pod took an idempotent request and closed without a byte of answer (it is shutting
    down, most likely): tried once more elsewhere, then a 502, so an app that always drops
    connections still gets a quick answer rather than a wait until the deadline."""
