"""What the handlers learn about a request as it goes down the chain, kept on its exchange."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

from activator.backends import PodAddress
from activator.handlers.exchange import Exchange, Reply
from activator.routing import Path, Split
from activator.state import RevisionState


@dataclasses.dataclass(slots=True, eq=False)
class RequestContext:
    request_id: str
    # Loop time the request arrived.
    started: float
    path: Path | None = None
    split: Split | None = None
    revision: RevisionState | None = None
    pod: PodAddress | None = None
    queue_wait: float = 0.0
    # Loop times by which the response must start, and end.
    response_deadline: float = float("inf")
    total_deadline: float = float("inf")
    # Seconds the pod may stay silent while answering (0 = no limit).
    idle_timeout: float = 0.0


# One link of the chain: Knative's activator composes http.Handlers the same way.
Handler = Callable[[Exchange], Awaitable[Reply]]


class PodRefusedError(Exception):
    """The pod refused the connection before any byte was sent: safe to retry on another pod."""


class PodClosedError(PodRefusedError):
    """The pod took an idempotent request and closed without a byte of answer (it is shutting
    down, most likely): tried once more elsewhere, then a 502, so an app that always drops
    connections still gets a quick answer rather than a wait until the deadline."""
