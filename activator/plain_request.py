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

from aiohttp.http_parser import SINGLETON_HEADERS
from multidict import CIMultiDict

from activator.headers import ACTED_ON_UP

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
# RFC 9110 5.6.2 tchar.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 3986 path and query characters (unreserved, sub-delims, ":@/?", percent escapes).
_TARGET = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*")
# Control characters: all but HTAB. CR and LF may appear only as the CRLF pairs ending lines.
_CONTROL_BYTES = bytes(range(0x20)).replace(b"\t", b"") + b"\x7f"
_MAX_LENGTH_DIGITS = 12


_BYTES_BESIDE_LINE_ENDS = _CONTROL_BYTES.replace(b"\r", b"").replace(b"\n", b"")
_METHOD_PREFIXES = frozenset(m[:i].encode() for m in METHODS for i in range(1, len(m) + 1))
# aiohttp's request parser refuses more header lines than this (its max_headers counts the
# request line too), and a repeat of any of its singleton headers. Two Connection lines are
# one list to aiohttp: rare enough to leave to it.
_MAX_HEADER_LINES = 127
_SINGLE_LINE_HEADERS = SINGLETON_HEADERS | {"connection"}
# A hixie-76 handshake (Sec-WebSocket-Key1) is refused by aiohttp.
_NEVER_PLAIN = frozenset({"transfer-encoding", "upgrade", "expect", "sec-websocket-key1"})


def _repeats_one_of(pairs: list[tuple[str, str]], names: frozenset[str]) -> bool:
    seen: set[str] = set()
    for name, _ in pairs:
        lowered = name.lower()
        if lowered in names and lowered in seen:
            return True
        seen.add(lowered)
    return False


def _may_become_plain(partial: bytes | bytearray, max_head_bytes: int) -> bool:
    """Whether an incomplete head could still turn out plain. What cannot is handed over at
    once, so that aiohttp answers garbage, bare CRs or LFs, or a head past the limit, without
    waiting for a blank line that may never come."""
    if len(partial) > max_head_bytes:
        return False
    if not partial.isascii() or len(partial.translate(None, _BYTES_BESIDE_LINE_ENDS)) != len(partial):
        return False
    pairs = partial.count(b"\r\n")
    if partial.count(b"\n") != pairs or partial.count(b"\r") - pairs != partial.endswith(b"\r"):
        return False  # an LF without its CR, or a CR followed by anything but LF
    space = partial.find(b" ")
    if space < 0:
        return not partial or bytes(partial) in _METHOD_PREFIXES
    return partial[:space].decode("ascii") in METHODS


class NotPlain(Exception):
    """Not a request the fast lane serves: aiohttp's server takes the connection over."""


class PlainRequest:
    __slots__ = ("content_length", "headers", "host", "keep_alive", "method", "target", "verbatim")

    def __init__(
        self,
        method: str,
        target: str,
        headers: CIMultiDict[str],
        host: str,
        content_length: int | None,
        keep_alive: bool,
        verbatim: bytes | None = None,
    ) -> None:
        self.method = method
        self.target = target
        self.headers = headers
        self.host = host
        # The declared body length; None without a Content-Length header.
        self.content_length = content_length
        self.keep_alive = keep_alive
        # The head as received (request line and field lines, no blank line) when it has none
        # of the fields the gateway acts on (headers.ACTED_ON_UP): it can go to the pod as it is.
        self.verbatim = verbatim


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
            # Letters, digits and dashes (nearly every name) without the regular expression.
            if not colon or not (name.replace("-", "").isalnum() or _TOKEN.fullmatch(name) is not None):
                raise NotPlain  # obs-fold, a space before the colon, a bad name
            pairs.append((name, value.strip(" \t")))
    if len(pairs) > _MAX_HEADER_LINES:
        raise NotPlain
    names = {name.lower() for name, _ in pairs}
    if len(names) != len(pairs) and _repeats_one_of(pairs, _SINGLE_LINE_HEADERS):
        raise NotPlain
    if "host" not in names or not names.isdisjoint(_NEVER_PLAIN):
        raise NotPlain
    headers: CIMultiDict[str] = CIMultiDict(pairs)
    content_length = None
    # The lowered names say what is absent without a multidict look-up.
    length = headers.get("Content-Length") if "content-length" in names else None
    if length is not None:
        if not length.isdigit() or len(length) > _MAX_LENGTH_DIGITS:
            raise NotPlain
        content_length = int(length)
        if content_length > max_body_bytes:
            raise NotPlain  # aiohttp streams it (or refuses it, past the gateway's limit)
    connection = headers.get("Connection") if "connection" in names else None
    keep_alive = connection is None or "close" not in [t.strip() for t in connection.lower().split(",")]
    verbatim = raw if names.isdisjoint(ACTED_ON_UP) else None
    return PlainRequest(
        method, target, headers, headers["Host"], content_length, keep_alive, verbatim
    ), end + 4
