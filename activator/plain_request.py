"""Recognises the plain HTTP/1.1 requests the fast lane serves; everything else goes to aiohttp.

A *plain* request is what nearly all traffic is: HTTP/1.1, a method from the usual set, an
origin-form target of URI characters only, token header names, printable ASCII throughout,
exactly one Host, no Transfer-Encoding, Upgrade or Expect, and at most one Content-Length of
digits no larger than the fast lane buffers. Parsing is strict the other way round from a
server's usual leniency: anything this module is not sure about raises `NotPlain`, and the
connection is handed to aiohttp's server, which answers it exactly as it did before the fast
lane existed (its parser refuses malformed and smuggling-shaped input; it streams chunked
bodies, answers 100-continue and upgrades websockets). So the fast lane never has to get an
edge case right: it only has to recognise the common case, and be sure of it.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from multidict import CIMultiDict

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
# RFC 9110 5.6.2 tchar.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 3986 path and query characters (unreserved, sub-delims, ":@/?", percent escapes).
_TARGET = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*")
# Control characters: all but HTAB. CR and LF may appear only as the CRLF pairs ending lines.
_CONTROL_BYTES = bytes(range(0x20)).replace(b"\t", b"") + b"\x7f"
_MAX_LENGTH_DIGITS = 12


_BYTES_BESIDE_LINE_ENDS = _CONTROL_BYTES.replace(b"\r", b"").replace(b"\n", b"")
_LONGEST_METHOD = max(len(m) for m in METHODS)


def _may_become_plain(partial: bytes | bytearray, max_head_bytes: int) -> bool:
    """Whether an incomplete head could still turn out plain. What cannot is handed over at
    once, so that aiohttp answers garbage, a head ended by bare LFs, or one past the limit,
    without waiting for a blank line that may never come."""
    if len(partial) > max_head_bytes or b"\n\n" in partial or b"\n\r\n" in partial:
        return False
    if not partial.isascii() or len(partial.translate(None, _BYTES_BESIDE_LINE_ENDS)) != len(partial):
        return False
    space = partial.find(b" ")
    if space < 0:
        return len(partial) <= _LONGEST_METHOD
    return partial[:space].decode("ascii") in METHODS


class NotPlain(Exception):
    """Not a request the fast lane serves: aiohttp's server takes the connection over."""


class PlainRequest(NamedTuple):  # a tuple: one per request
    method: str
    target: str
    headers: CIMultiDict[str]
    host: str
    # The declared body length; None without a Content-Length header.
    content_length: int | None
    keep_alive: bool


def parse_plain_request(
    buffer: bytes | bytearray, max_head_bytes: int, max_body_bytes: int
) -> tuple[PlainRequest, int] | None:
    """The plain request whose head starts `buffer`, and the head's length with its blank line;
    None while the head is incomplete. Raises NotPlain for anything else."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if not _may_become_plain(buffer, max_head_bytes):
            raise NotPlain
        return None
    if end > max_head_bytes:
        raise NotPlain
    raw = bytes(buffer[:end])
    if not raw.isascii() or len(raw) - len(raw.translate(None, _CONTROL_BYTES)) != 2 * raw.count(b"\r\n"):
        raise NotPlain
    head = raw.decode("ascii")
    request_line, _, rest = head.partition("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3:
        raise NotPlain
    method, target, version = parts
    if method not in METHODS or version != "HTTP/1.1" or _TARGET.fullmatch(target) is None:
        raise NotPlain
    pairs = []
    if rest:
        for line in rest.split("\r\n"):
            name, colon, value = line.partition(":")
            if not colon or _TOKEN.fullmatch(name) is None:
                raise NotPlain  # obs-fold, a space before the colon, a bad name
            pairs.append((name, value.strip(" \t")))
    headers: CIMultiDict[str] = CIMultiDict(pairs)
    hosts = headers.getall("Host", ())
    if len(hosts) != 1 or "Transfer-Encoding" in headers or "Upgrade" in headers or "Expect" in headers:
        raise NotPlain
    content_length = None
    lengths = headers.getall("Content-Length", ())
    if lengths:
        value = lengths[0]
        if len(lengths) > 1 or not value.isdigit() or len(value) > _MAX_LENGTH_DIGITS:
            raise NotPlain
        content_length = int(value)
        if content_length > max_body_bytes:
            raise NotPlain  # aiohttp streams it (or refuses it, past the gateway's limit)
    connection = headers.get("Connection")
    keep_alive = connection is None or "close" not in [t.strip() for t in connection.lower().split(",")]
    return PlainRequest(method, target, headers, hosts[0], content_length, keep_alive), end + 4
