"""Just enough HTTP/1.1 for the upstream hop: request heads out, response heads and bodies in.

Pure functions and small state machines over bytes, so they are tested without sockets. The
gateway speaks to pods it knows, over loopback or the cluster network; what it cannot parse it
treats as an upstream error (502), never guesses.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from multidict import CIMultiDict

MAX_HEAD_BYTES = 64 * 1024

# Fields that concern one hop only (RFC 9110 7.6.1), with Connection itself.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


class ProtocolError(Exception):
    """The pod's response is not HTTP/1.x this gateway understands."""


class ResponseHead:
    """A pod's response head, and how its body is framed: a length, chunked, or until the
    connection closes (length None, not chunked).

    `verbatim` is the head as received (status line and field lines, without the blank line)
    when it can go to the client unchanged (see `_verbatim_head`); `headers` is then parsed
    only if something asks for them.
    """

    def __init__(
        self,
        status: int,
        reason: str,
        headers: CIMultiDict[str] | None,
        content_length: int | None,
        chunked: bool,
        keep_alive: bool,
        verbatim: bytes | None = None,
    ) -> None:
        self.status = status
        self.reason = reason
        self._headers = headers
        self.content_length = content_length
        self.chunked = chunked
        self.keep_alive = keep_alive
        self.verbatim = verbatim

    @property
    def headers(self) -> CIMultiDict[str]:
        headers = self._headers
        if headers is None:
            assert self.verbatim is not None, "a head is parsed or verbatim"
            fields = self.verbatim.decode("utf-8", "surrogateescape").partition("\r\n")[2]
            headers = self._headers = CIMultiDict(_field_pairs(fields))
        return headers


def encode_request_head(
    method: str, target: str, headers: Iterable[tuple[str, str]], framing: str | None
) -> bytes:
    """`framing` is a `Content-Length: n` or `Transfer-Encoding: chunked` line, or None."""
    # map with str.join runs in C: half the cost of formatting each line in a generator.
    lines = [f"{method} {target} HTTP/1.1", *map(": ".join, headers)]
    if framing is not None:
        lines.append(framing)
    lines.append("\r\n")
    # Header values came from aiohttp decoded as UTF-8 with surrogateescape: the same way back.
    return "\r\n".join(lines).encode("utf-8", "surrogateescape")


def encode_chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"


# Control characters a head may not carry: all but HTAB, and CR and LF outside CRLF pairs. A
# pod's bare LF would otherwise end up inside a header value the gateway writes to the client
# (aiohttp then refuses to write it: the client gets nothing, or a 500). Deleting them all and
# counting is one C pass, several times cheaper than a regular expression.
_CONTROL_BYTES = bytes(range(0x20)).replace(b"\t", b"") + b"\x7f"


def _has_bad_bytes(raw: bytes) -> bool:
    return len(raw) - len(raw.translate(None, _CONTROL_BYTES)) != 2 * raw.count(b"\r\n")


def _field_pairs(fields: str) -> list[tuple[str, str]]:
    """(name, value) of each field line in `fields` (lines joined by CRLF)."""
    pairs = []
    if fields:
        for line in fields.split("\r\n"):
            name, sep, value = line.partition(":")
            if not sep or not name or name[-1] in " \t" or name[0] in " \t":
                raise ProtocolError(f"bad header line {line[:40]!r}")
            pairs.append((name, value.strip()))
    return pairs


def _verbatim_head(raw: bytes, request_method: str) -> ResponseHead | None:
    """The head in `raw` (no control characters) if it is the common case that can be written
    to the client unchanged: HTTP/1.1, a status with a body (not 1xx, 204 or 304), field lines
    of a name without blanks around it, a Date, one Content-Length of digits (then the length
    of the body forwarded whole) and none of the fields a proxy acts on (Connection and the
    other hop-by-hop fields, Transfer-Encoding). None otherwise, for `parsed_head` to judge.
    One pass over the names, cheaper than the full parse (measured: regular expressions over
    the bytes cost more than both)."""
    line_end = raw.find(b"\r\n")
    digits = raw[9:12]
    if (
        line_end < 12
        or not raw.startswith(b"HTTP/1.1 ")
        or not digits.isdigit()
        or not b"200" <= digits <= b"599"
        or digits in (b"204", b"304")
        or raw[12:13] not in (b" ", b"\r")
    ):
        return None
    length = -1
    dated = False
    for line in raw[line_end + 2 :].decode("latin-1").split("\r\n"):
        name, colon, value = line.partition(":")
        if not colon or not name or name[0] in " \t" or name[-1] in " \t":
            return None
        name = name.lower()
        if name in HOP_BY_HOP:
            return None
        if name == "content-length":
            value = value.strip(" \t")
            if length >= 0 or not (value.isdigit() and value.isascii()):
                return None
            length = int(value)
        elif name == "date":
            dated = True
    if length < 0 or not dated:
        return None
    # Not raw[13:line_end] when the line ends at 12: compiled, a bytes slice that ends before
    # it starts raises SystemError instead of giving b"" (found by test_http1's hypothesis test).
    reason = raw[13:line_end].decode("utf-8", "surrogateescape") if line_end > 13 else ""
    if request_method == "HEAD":
        length = 0  # the pod's Content-Length stays in the head; no body follows
    return ResponseHead(int(digits), reason, None, length, False, True, raw)


def parse_response_head(buffer: bytes | bytearray, request_method: str) -> tuple[ResponseHead, int] | None:
    """The head at the start of `buffer` and its length in bytes, or None if not all there yet.

    Strict where leniency would let a pod desynchronise a pooled connection or put an invalid
    status line or header in front of a client (as Envoy is): a three-digit status 100-599,
    no control characters, one Content-Length value of digits only, and chunked only when it
    is the last transfer coding.
    """
    end = buffer.find(b"\r\n\r\n")
    if end < 0 or end > MAX_HEAD_BYTES:
        if len(buffer) > MAX_HEAD_BYTES:
            raise ProtocolError("response head too large")
        return None
    raw = bytes(buffer[:end])
    if _has_bad_bytes(raw):
        raise ProtocolError("control character or bare CR/LF in the response head")
    head = _verbatim_head(raw, request_method)
    return (head if head is not None else parsed_head(raw, request_method)), end + 4


def parsed_head(raw: bytes, request_method: str) -> ResponseHead:
    """The head in `raw` (no control characters, no blank line) parsed field by field: every
    head the verbatim check passes over, and the judge of the ones it takes (test_http1)."""
    head = raw.decode("utf-8", "surrogateescape")
    status_line, _, rest = head.partition("\r\n")
    digits = status_line[9:12]
    if (
        not status_line.startswith("HTTP/1.")
        or len(status_line) < 12
        or status_line[8] != " "
        or not (digits.isdigit() and digits.isascii())
        or status_line[12:13] not in ("", " ")
        or not "100" <= digits <= "599"
    ):
        raise ProtocolError(f"bad status line {status_line[:40]!r}")
    version_minor = status_line[7:8]
    status = int(digits)
    reason = status_line[13:]
    headers: CIMultiDict[str] = CIMultiDict(_field_pairs(rest))
    connection = headers.get("Connection", "").lower()
    keep_alive = "close" not in connection if version_minor == "1" else "keep-alive" in connection
    chunked = False
    content_length: int | None = None
    transfer_encoding = headers.get("Transfer-Encoding")
    if request_method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        content_length = 0
    elif transfer_encoding is not None:
        # RFC 9112 6.3: Transfer-Encoding wins over Content-Length, chunked only as the last
        # coding, anything else runs until the close; a response with both never shares its
        # connection again.
        codings = [c.strip().lower() for v in headers.getall("Transfer-Encoding") for c in v.split(",")]
        chunked = codings[-1] == "chunked"
        if not chunked or "Content-Length" in headers:
            keep_alive = False
    elif "Content-Length" in headers:
        lengths = headers.getall("Content-Length")
        value = lengths[0].strip()
        if len(lengths) > 1 or "," in value:
            # Repeats of one value are tolerated (RFC 9112 6.3); different values are not.
            values = {v.strip() for line in lengths for v in line.split(",")}
            if len(values) != 1:
                raise ProtocolError("conflicting Content-Length values")
            value = values.pop()
        if not (value.isdigit() and value.isascii()):
            raise ProtocolError("bad Content-Length")
        content_length = int(value)
    else:
        keep_alive = False  # the body ends when the connection does
    return ResponseHead(status, reason, headers, content_length, chunked, keep_alive)


# ChunkedDecoder's states.
_SIZE: Final = 0
_DATA: Final = 1
_DATA_END: Final = 2
_TRAILERS: Final = 3
_DONE: Final = 4


class ChunkedDecoder:
    """Incremental decoder for a chunked body; trailers are read and dropped."""

    def __init__(self) -> None:
        self._state = _SIZE
        self._remaining = 0
        self._buffer = bytearray()

    @property
    def done(self) -> bool:
        return self._state == _DONE

    def feed(self, data: bytes | bytearray) -> tuple[list[bytes], bytes]:
        """Body pieces found in `data`, and any bytes after the body's end."""
        self._buffer += data
        out: list[bytes] = []
        buf = self._buffer
        pos = 0
        while True:
            if self._state == _SIZE:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    if len(buf) - pos > 1024:
                        raise ProtocolError("chunk size line too long")
                    break
                size_text = bytes(buf[pos:eol]).split(b";", 1)[0].strip()
                try:
                    self._remaining = int(size_text, 16)
                except ValueError:
                    raise ProtocolError(f"bad chunk size {size_text[:20]!r}") from None
                pos = eol + 2
                self._state = _DATA if self._remaining else _TRAILERS
            elif self._state == _DATA:
                take = min(self._remaining, len(buf) - pos)
                if take == 0:
                    break
                out.append(bytes(buf[pos : pos + take]))
                pos += take
                self._remaining -= take
                if self._remaining == 0:
                    self._state = _DATA_END
            elif self._state == _DATA_END:
                if len(buf) - pos < 2:
                    break
                if buf[pos : pos + 2] != b"\r\n":
                    raise ProtocolError("chunk not followed by CRLF")
                pos += 2
                self._state = _SIZE
            elif self._state == _TRAILERS:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    if len(buf) - pos > MAX_HEAD_BYTES:
                        raise ProtocolError("trailers too large")
                    break
                empty = eol == pos  # an empty line ends the trailers, and the body
                pos = eol + 2
                if empty:
                    self._state = _DONE
            else:
                break
        rest = bytes(buf[pos:]) if self._state == _DONE else b""
        del buf[: len(buf) if self._state == _DONE else pos]
        return out, rest
