"""The request line, checked and normalised at the edge, before the handler chain sees it.

Absolute-form targets (`GET http://host/path HTTP/1.1`) are made origin-form. RFC 9112 section
3.2.2: a server that receives one must ignore the Host header and use the target's authority
instead; Envoy does the same (the URL's host becomes `:authority`). aiohttp already takes
`request.host` from such a target but leaves the Host header alone, so without this step the
gateway would route by one host (the header), report another in X-Forwarded-Host, and send the
pod a target naming a third party. Rewriting the message before the request object exists keeps
every later step on one host, and the pod gets the origin-form target a reverse proxy sends.

Some request lines are refused here: CONNECT (a reverse proxy tunnels nothing; it would go to
the pod of whatever the Host header names), and versions other than HTTP/1.0 and 1.1 that
aiohttp's parser lets through (`GET / HTTP/2.0`, `HTTP/0.9`): aiohttp answers in the request's
own version, and `HTTP/2.0 200 OK` in text is not a status line any client reads; and
absolute-form targets of other schemes (`GET ftp://host/x`). All are answered and the
connection closed. Asterisk-form (`OPTIONS *`) is left as it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import HttpVersion10, StreamReader, web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http_parser import RawRequestMessage
from aiohttp.web_protocol import RequestHandler
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

_WEB_SCHEMES = ("http", "https")

RequestFactory = Callable[
    [RawRequestMessage, StreamReader, RequestHandler, AbstractStreamWriter, "asyncio.Task[None]"],
    web.BaseRequest,
]


def origin_form(message: RawRequestMessage) -> RawRequestMessage:
    """The same request with an origin-form target and the target's authority as its Host."""
    url = message.url
    if message.path[:1] == "/" or url.scheme not in _WEB_SCHEMES:
        return message
    host = url.host_port_subcomponent or ""
    headers = CIMultiDict(message.headers)
    headers["Host"] = host
    raw_headers = tuple((k, v) for k, v in message.raw_headers if k.lower() != b"host")
    path = url.raw_path_qs or "/"
    return message._replace(
        path=path,
        url=URL(path, encoded=True),
        headers=CIMultiDictProxy(headers),
        raw_headers=((b"Host", host.encode("ascii")), *raw_headers),
    )


class RefusedRequest(web.BaseRequest):
    """A request the edge answers itself, with this status and text, then closes."""

    def __init__(self, status: int, text: str, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.refusal = (status, text)


def request_factory(loop: asyncio.AbstractEventLoop) -> RequestFactory:
    """A `web.Server` request factory; costs three cheap tests per ordinary request."""

    def make(
        message: RawRequestMessage,
        payload: StreamReader,
        protocol: RequestHandler,
        writer: AbstractStreamWriter,
        task: asyncio.Task[None],
    ) -> web.BaseRequest:
        if message.version[0] != 1:
            text = f"HTTP/{message.version[0]}.{message.version[1]} is not supported"
            # Answered in HTTP/1.0, which every client of a text request line reads.
            message = message._replace(version=HttpVersion10, should_close=True)
            return RefusedRequest(505, text, message, payload, protocol, writer, task, loop)
        if message.method == "CONNECT":
            return RefusedRequest(
                405, "CONNECT is not supported", message, payload, protocol, writer, task, loop
            )
        if message.path[:1] != "/" and message.path != "*":
            if message.url.scheme not in _WEB_SCHEMES:
                # `GET ftp://host/x`: not a target this gateway can route or a pod should see.
                text = "the request target must be a path or an http(s) URL"
                return RefusedRequest(400, text, message, payload, protocol, writer, task, loop)
            message = origin_form(message)
        return web.BaseRequest(message, payload, protocol, writer, task, loop)

    return make
