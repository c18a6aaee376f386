"""aiohttp's side of the edge: the requests the fast lane hands over, served by the same chain.

The fast lane (`activator.fastlane`) passes a connection to aiohttp's server when a request on
it is not one it serves itself: a chunked or large body, `Expect: 100-continue`, an Upgrade,
an absolute-form target, or anything its strict parser does not accept (aiohttp's parser then
answers malformed input as it always has). Here each aiohttp request becomes an `Exchange`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from multidict import CIMultiDict

from activator.handlers.context import Handler, RequestContext
from activator.handlers.exchange import Headers, Reply
from activator.handlers.limits import LimitedBody
from activator.headers import header_bytes
from activator.request_target import RefusedRequest

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class AiohttpExchange:
    """An aiohttp request as the chain's `Exchange`; the response it streams, if any, is kept
    for aiohttp to finish."""

    __slots__ = ("ctx", "request", "response")
    takes_verbatim_heads = False
    verbatim_head = None  # aiohttp parsed the head: the gateway writes its own

    def __init__(self, request: web.BaseRequest) -> None:
        self.request = request
        self.response: web.StreamResponse | None = None
        self.ctx: RequestContext

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def raw_path(self) -> str:
        return self.request.raw_path

    @property
    def path(self) -> str:
        return self.request.path

    @property
    def host(self) -> str:
        return self.request.host

    @property
    def headers(self) -> Headers:
        return self.request.headers

    @property
    def remote(self) -> str | None:
        return self.request.remote

    @property
    def scheme(self) -> str:
        return self.request.scheme

    @property
    def content_length(self) -> int | None:
        return self.request.content_length

    @property
    def body_exists(self) -> bool:
        return self.request.body_exists

    @property
    def header_bytes(self) -> int:
        return header_bytes(self.request.headers)

    def upstream_body(self, limit: int) -> bytes | LimitedBody | None:
        request = self.request
        if not request.body_exists:
            return None
        if request.headers.get("Expect", "").lower() == "100-continue" and request.transport is not None:
            # The client waits for this before sending its body; the pod never sees Expect.
            request.transport.write(_CONTINUE)
        return LimitedBody(request.content, limit)

    async def start_stream(
        self, status: int, reason: str, headers: CIMultiDict[str], content_length: int | None
    ) -> None:
        response = web.StreamResponse(status=status, reason=reason, headers=headers)
        if content_length is not None:
            response.content_length = content_length
        self.response = response
        await response.prepare(self.request)

    async def write(self, data: bytes) -> None:
        assert self.response is not None, "start_stream first"
        await self.response.write(data)

    async def end_stream(self) -> None:
        assert self.response is not None, "start_stream first"
        await self.response.write_eof()

    def abort(self) -> None:
        if self.request.transport is not None:
            self.request.transport.abort()

    async def websocket(self, proxy: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]) -> Reply:
        response = await proxy(self.request)
        if isinstance(response, web.Response) and not response.prepared:
            # Refused before the upgrade: an ordinary answer.
            body = response.body if isinstance(response.body, bytes) else b""
            return Reply(response.status, body, CIMultiDict(response.headers), response.reason)
        self.response = response
        return Reply(response.status, sent=True)


def to_response(reply: Reply) -> web.Response:
    headers = reply.headers
    if reply.content_type is not None:
        headers = CIMultiDict(headers or ())
        headers.setdefault("Content-Type", reply.content_type)
    return web.Response(status=reply.status, reason=reply.reason, headers=headers, body=reply.body)


async def _refuse(status: int, text: str) -> web.StreamResponse:
    response = web.Response(status=status, text=f"kwake gateway: {text}\n")
    # What follows on the connection is not HTTP/1.1 this gateway reads (tunnel bytes, frames).
    response.force_close()
    return response


def aiohttp_handler(handler: Handler) -> Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]:
    """The chain as a `web.Server` handler; requests `request_factory` refused are answered here."""

    async def serve(request: web.BaseRequest) -> web.StreamResponse:
        # An exact type test: BaseRequest is an ABC (a MutableMapping), so isinstance takes
        # abc's slow path.
        if type(request) is RefusedRequest:
            return await _refuse(*request.refusal)
        exchange = AiohttpExchange(request)
        reply = await handler(exchange)
        if reply.sent:
            assert exchange.response is not None, "a sent reply was streamed"
            return exchange.response
        return to_response(reply)

    return serve
