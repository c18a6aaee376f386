"""What the handler chain needs of an HTTP server: the request's facts and the means to answer.

Two servers implement it: the gateway's own HTTP/1.1 fast lane (`activator.fastlane`), which
serves the plain requests that are nearly all of the traffic, and aiohttp's server
(`activator.aiohttp_edge`), which serves the rest (chunked uploads, `Expect`, websockets, and
whatever the fast lane does not parse). The chain is written once against this interface, so
both serve a request alike.

A handler answers with a `Reply`: a whole response the server writes, or the record of one the
handler has streamed itself through `start_stream`/`write`/`end_stream`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

if TYPE_CHECKING:
    from activator.handlers.context import RequestContext
    from activator.handlers.limits import LimitedBody

Headers = CIMultiDict[str] | CIMultiDictProxy[str]

TEXT_PLAIN = "text/plain; charset=utf-8"


class Reply:
    """One per request: a plain class with slots (mypyc builds it natively; a NamedTuple's
    constructor stays interpreted)."""

    __slots__ = ("body", "content_type", "headers", "reason", "sent", "size", "status", "verbatim_head")

    def __init__(
        self,
        status: int,
        body: bytes = b"",
        headers: CIMultiDict[str] | None = None,
        reason: str | None = None,
        content_type: str | None = None,
        sent: bool = False,
        size: int = 0,
        verbatim_head: bytes | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers
        self.reason = reason
        self.content_type = content_type
        # Written already by the handler (a streamed body, a websocket): `size` bytes of body.
        self.sent = sent
        self.size = size
        # The pod's status line and field lines as they came, written unchanged in place of
        # status, reason and headers; only to an exchange that `takes_verbatim_heads`.
        self.verbatim_head = verbatim_head

    def __repr__(self) -> str:
        return f"Reply({self.status}, {self.body[:60]!r}, headers={self.headers}, sent={self.sent})"


def text_reply(status: int, text: str, headers: CIMultiDict[str] | None = None) -> Reply:
    """One of the gateway's own answers: a line of text that says what happened."""
    return Reply(status, text.encode(), headers, content_type=TEXT_PLAIN)


class Exchange(Protocol):
    """One request as the chain sees it. `ctx` is set by the outermost link."""

    ctx: RequestContext

    @property
    def method(self) -> str: ...
    @property
    def raw_path(self) -> str:
        """The origin-form target as sent, query included."""

    @property
    def path(self) -> str:
        """The target's path, percent-decoded, for routing."""

    @property
    def host(self) -> str: ...
    @property
    def headers(self) -> Headers: ...
    @property
    def remote(self) -> str | None: ...
    @property
    def scheme(self) -> str: ...
    @property
    def content_length(self) -> int | None: ...
    @property
    def body_exists(self) -> bool: ...
    @property
    def header_bytes(self) -> int:
        """The size of the header section, for the 431 limit."""

    @property
    def verbatim_head(self) -> bytes | None:
        """The request's head as received (request line and field lines, without the blank
        line) when it has none of the fields the gateway acts on (`headers.ACTED_ON_UP`) and
        any body is whole: it may go to the pod as it is. None otherwise."""

    @property
    def takes_verbatim_heads(self) -> bool:
        """Whether this server writes a `Reply.verbatim_head` (the fast lane, which writes
        bytes); aiohttp's builds its heads from headers."""

    def upstream_body(self, limit: int) -> bytes | LimitedBody | None:
        """The body to send the pod (None without one): bytes when it is all here already,
        else a stream refused past `limit` bytes. A client waiting on `Expect: 100-continue`
        is told to go on."""

    async def start_stream(
        self, status: int, reason: str, headers: CIMultiDict[str], content_length: int | None
    ) -> None: ...
    async def write(self, data: bytes) -> None: ...
    async def end_stream(self) -> None: ...
    def abort(self) -> None:
        """Cuts the client connection: the only honest signal once a status line is sent."""

    async def websocket(self, proxy: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]) -> Reply:
        """Runs a websocket proxy on the underlying aiohttp request (the fast lane hands every
        Upgrade request to aiohttp, so it never gets here from there)."""
