"""Raw HTTP/1.1 over a socket for the abuse tests: send exact bytes, read what comes back.

aiohttp's client would refuse to send most of what these tests send (two Host headers, CL and
TE together), so requests are bytes; responses are split with the gateway's own head parser.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

from multidict import CIMultiDict

from activator import http1


@dataclasses.dataclass(frozen=True)
class RawResponse:
    status: int
    headers: CIMultiDict[str]
    body: bytes


@dataclasses.dataclass(frozen=True)
class Exchange:
    responses: list[RawResponse]
    # The gateway closed the connection (EOF or reset) before the read bound.
    closed: bool
    # Bytes after the last whole response (a response cut short, or garbage).
    rest: bytes
    # Everything received, interim (1xx) answers included.
    data: bytes = b""


async def exchange(
    port: int,
    data: bytes,
    *,
    read_for: float = 5.0,
    methods: tuple[str, ...] = (),
    until_responses: int | None = None,
) -> Exchange:
    """Send `data` on a fresh connection, then read until the gateway closes, `read_for` seconds pass,
    or (if given) `until_responses` whole responses have arrived.

    `methods` are the request methods in order (HEAD answers carry no body); GET by default.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received = bytearray()
    closed = False
    try:
        try:
            writer.write(data)
            await writer.drain()
        except ConnectionError:
            closed = True  # the gateway gave up on us before we finished sending
        loop = asyncio.get_running_loop()
        deadline = loop.time() + read_for
        while not closed:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                chunk = await asyncio.wait_for(reader.read(65536), remaining)
            except TimeoutError:
                break
            except ConnectionError:
                closed = True
                break
            if not chunk:
                closed = True
            received += chunk
            if (
                until_responses is not None
                and len(split_responses(bytes(received), methods)[0]) >= until_responses
            ):
                break
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    responses, rest = split_responses(bytes(received), methods)
    return Exchange(responses, closed, rest, bytes(received))


def split_responses(data: bytes, methods: tuple[str, ...] = ()) -> tuple[list[RawResponse], bytes]:
    """Whole responses at the start of `data` (1xx interim answers skipped) and what is left."""
    out: list[RawResponse] = []
    pos = 0
    while pos < len(data):
        method = methods[len(out)] if len(out) < len(methods) else "GET"
        try:
            parsed = http1.parse_response_head(data[pos:], method)
        except http1.ProtocolError:
            break
        if parsed is None:
            break
        head, size = parsed
        start = pos + size
        if 100 <= head.status < 200:
            pos = start
            continue
        if head.chunked:
            decoder = http1.ChunkedDecoder()
            try:
                pieces, rest = decoder.feed(data[start:])
            except http1.ProtocolError:
                break
            if not decoder.done:
                break
            body = b"".join(pieces)
            end = len(data) - len(rest)
        elif head.content_length is not None:
            end = start + head.content_length
            if end > len(data):
                break
            body = data[start:end]
        else:
            end = len(data)  # until close
            body = data[start:end]
        out.append(RawResponse(head.status, head.headers, body))
        pos = end
    return out, data[pos:]


def get(host: str, path: str = "/", *extra: str, close: bool = True) -> bytes:
    """A well-formed GET; `extra` are whole header lines."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", *extra]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
