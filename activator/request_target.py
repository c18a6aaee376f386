"""Absolute-form request targets (`GET http://host/path HTTP/1.1`) made origin-form at the edge.

RFC 9112 section 3.2.2: a server that receives an absolute-form target must ignore the Host
header and use the target's authority instead; Envoy does the same (the URL's host becomes
`:authority`). aiohttp already takes `request.host` from such a target but leaves the Host
header alone, so without this step the gateway would route by one host (the header), report
another in X-Forwarded-Host, and send the pod a target naming a third party. Rewriting the
message before the request object exists keeps every later step on one host, and the pod gets
the origin-form target a reverse proxy sends.

Authority-form (CONNECT) and asterisk-form (`OPTIONS *`) targets are left as they are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import StreamReader, web
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


def request_factory(loop: asyncio.AbstractEventLoop) -> RequestFactory:
    """A `web.Server` request factory; costs one string test per origin-form request."""

    def make(
        message: RawRequestMessage,
        payload: StreamReader,
        protocol: RequestHandler,
        writer: AbstractStreamWriter,
        task: asyncio.Task[None],
    ) -> web.BaseRequest:
        if message.path[:1] != "/":
            message = origin_form(message)
        return web.BaseRequest(message, payload, protocol, writer, task, loop)

    return make
