"""HTTP/1.1 heads and chunked bodies, parsed and encoded without sockets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activator import http1
from activator.headers import downstream_headers


def test_request_head_encoding() -> None:
    head = http1.encode_request_head("POST", "/a?b=c", [("Host", "h"), ("X-A", "é")], "Content-Length: 3")
    assert bytes(head) == b"POST /a?b=c HTTP/1.1\r\nHost: h\r\nX-A: \xc3\xa9\r\nContent-Length: 3\r\n\r\n"


def test_response_head_is_parsed_once_complete() -> None:
    raw = b"HTTP/1.1 201 Created\r\nContent-Length: 5\r\nX-A: 1\r\nX-A: 2\r\n\r\nhello"
    assert http1.parse_response_head(raw[:20], "GET") is None
    parsed = http1.parse_response_head(raw, "GET")
    assert parsed is not None
    head, size = parsed
    assert (head.status, head.reason, head.content_length, head.chunked, head.keep_alive) == (
        201,
        "Created",
        5,
        False,
        True,
    )
    assert head.headers.getall("x-a") == ["1", "2"]
    assert raw[size:] == b"hello"


@pytest.mark.parametrize(
    ("raw", "method", "length", "chunked", "keep_alive"),
    [
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", None, True, True),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n", "GET", 1, False, False),
        (b"HTTP/1.1 200 OK\r\n\r\n", "GET", None, False, False),  # body until close
        (b"HTTP/1.1 204 No Content\r\n\r\n", "GET", 0, False, True),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", "HEAD", 0, False, True),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", "GET", 1, False, False),
        (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", "GET", 1, False, True),
    ],
)
def test_body_framing(raw: bytes, method: str, length: int | None, chunked: bool, keep_alive: bool) -> None:
    parsed = http1.parse_response_head(raw, method)
    assert parsed is not None
    head = parsed[0]
    assert (head.content_length, head.chunked, head.keep_alive) == (length, chunked, keep_alive)


@pytest.mark.parametrize(
    "raw",
    [
        b"HTP/1.1 200 OK\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad : space\r\n\r\n",
    ],
)
def test_malformed_heads_are_protocol_errors(raw: bytes) -> None:
    with pytest.raises(http1.ProtocolError):
        http1.parse_response_head(raw, "GET")


def test_oversized_head_is_a_protocol_error() -> None:
    with pytest.raises(http1.ProtocolError):
        http1.parse_response_head(b"HTTP/1.1 200 OK\r\nX: " + b"a" * http1.MAX_HEAD_BYTES, "GET")


def test_chunked_body_in_arbitrary_pieces() -> None:
    body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT"
    for step in (1, 2, 7, len(body)):
        decoder = http1.ChunkedDecoder()
        out: list[bytes] = []
        rest = b""
        for i in range(0, len(body), step):
            pieces, rest = decoder.feed(body[i : i + step])
            out += pieces
            if decoder.done:
                rest += body[i + step :]
                break
        assert b"".join(out) == b"hello world", step
        assert decoder.done and rest == b"NEXT"


def test_chunk_encoding_round_trips() -> None:
    decoder = http1.ChunkedDecoder()
    pieces, rest = decoder.feed(
        http1.encode_chunk(b"abc") + http1.encode_chunk(b"d" * 300) + http1.LAST_CHUNK
    )
    assert b"".join(pieces) == b"abc" + b"d" * 300 and decoder.done and rest == b""


@pytest.mark.parametrize("raw", [b"zz\r\n", b"3\r\nabcXY", b"1" * 2000])
def test_bad_chunks_are_protocol_errors(raw: bytes) -> None:
    with pytest.raises(http1.ProtocolError):
        http1.ChunkedDecoder().feed(raw)


# -- heads that go to the client as they came ------------------------------------------------

AIOHTTP_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 6\r\n"
    b"Date: Sun, 29 Nov 2026 09:00:00 GMT\r\nServer: Python/3.11 aiohttp/3.14.5"
)


def _facts(head: http1.ResponseHead) -> tuple[object, ...]:
    return (
        head.status,
        head.reason,
        head.content_length,
        head.chunked,
        head.keep_alive,
        list(head.headers.items()),
    )


def test_a_plain_head_is_kept_as_it_came_and_reads_as_the_full_parse() -> None:
    parsed = http1.parse_response_head(AIOHTTP_HEAD + b"\r\n\r\nhello\n", "GET")
    assert parsed is not None
    head, size = parsed
    assert head.verbatim == AIOHTTP_HEAD and size == len(AIOHTTP_HEAD) + 4
    assert _facts(head) == _facts(http1.parsed_head(AIOHTTP_HEAD, "GET"))
    head_request = http1.parse_response_head(AIOHTTP_HEAD + b"\r\n\r\n", "HEAD")
    assert head_request is not None
    assert head_request[0].verbatim == AIOHTTP_HEAD and head_request[0].content_length == 0


@pytest.mark.parametrize(
    "change",
    [
        (b"HTTP/1.1 200 OK", b"HTTP/1.0 200 OK"),
        (b"HTTP/1.1 200 OK", b"HTTP/1.1 204 No Content"),
        (b"HTTP/1.1 200 OK", b"HTTP/1.1 304 Not Modified"),
        (b"HTTP/1.1 200 OK", b"HTTP/1.1 101 Switching Protocols"),
        (b"Content-Length: 6", b"Transfer-Encoding: chunked"),
        (b"Content-Length: 6", b"Content-Length: 6\r\nContent-Length: 6"),
        (b"Content-Length: 6", b"Content-Length: 6, 6"),
        (b"Content-Length: 6", b"X-Length: 6"),
        (b"Date: ", b"X-Date: "),
        (b"Server:", b"Connection: keep-alive\r\nServer:"),
        (b"Server:", b"CONNECTION: close\r\nServer:"),
        (b"Server:", b"Keep-Alive: timeout=5\r\nServer:"),
        (b"Server:", b"TE: trailers\r\nServer:"),
        (b"Server:", b"Trailer: X\r\nServer:"),
        (b"Server:", b"Upgrade: h2c\r\nServer:"),
        (b"Server:", b"Proxy-Connection: close\r\nServer:"),
    ],
)
def test_heads_a_proxy_must_act_on_are_parsed_field_by_field(change: tuple[bytes, bytes]) -> None:
    raw = AIOHTTP_HEAD.replace(*change)
    parsed = http1.parse_response_head(raw + b"\r\n\r\n", "GET")
    assert parsed is not None
    assert parsed[0].verbatim is None
    assert _facts(parsed[0]) == _facts(http1.parsed_head(raw, "GET"))


@pytest.mark.parametrize("bad", [b"Bad : space", b" Lead: x", b"NoColon", b"Content-Length: 6x"])
def test_a_bad_field_line_is_refused_whatever_else_the_head_has(bad: bytes) -> None:
    with pytest.raises(http1.ProtocolError):
        http1.parse_response_head(AIOHTTP_HEAD + b"\r\n" + bad + b"\r\n\r\n", "GET")


_NAMES = st.sampled_from(
    [
        "Content-Length",
        "content-length",
        "Date",
        "DATE",
        "Server",
        "X-A",
        "Connection",
        "Keep-Alive",
        "Transfer-Encoding",
        "TE",
        "Te-Thing",
        "Proxy-Connection",
        "Set-Cookie",
        "Bad ",
        " Lead",
        "Dat e",
    ]
)
_VALUES = st.sampled_from(
    ["6", "0", " 6 ", "6, 6", "x", "close", "keep-alive", "chunked", "gzip", "", "a:b", "é"]
)
_STATUS_LINES = st.sampled_from(
    [
        "HTTP/1.1 200 OK",
        "HTTP/1.1 200",
        "HTTP/1.1 404 Not Found",
        "HTTP/1.1 204 No Content",
        "HTTP/1.1 304 X",
        "HTTP/1.1 101 Switching",
        "HTTP/1.0 200 OK",
        "HTTP/1.1 599 Odd",
        "HTTP/1.1 600 Bad",
    ]
)


@settings(max_examples=600, deadline=None)
@given(
    status_line=_STATUS_LINES,
    fields=st.lists(st.tuples(_NAMES, st.sampled_from([":", ": ", ":  ", "\t:"]), _VALUES), max_size=6),
    method=st.sampled_from(["GET", "HEAD"]),
)
def test_the_verbatim_check_agrees_with_the_full_parse(
    status_line: str, fields: list[tuple[str, str, str]], method: str
) -> None:
    """Whatever the shortcut takes, the full parse reads alike; whatever the full parse refuses,
    the shortcut refuses too; and a verbatim head has nothing the gateway would drop or set."""
    raw = "\r\n".join([status_line, *(name + sep + value for name, sep, value in fields)]).encode()
    try:
        expected = http1.parsed_head(raw, method)
    except http1.ProtocolError:
        with pytest.raises(http1.ProtocolError):
            http1.parse_response_head(raw + b"\r\n\r\n", method)
        return
    parsed = http1.parse_response_head(raw + b"\r\n\r\n", method)
    assert parsed is not None
    head = parsed[0]
    assert _facts(head) == _facts(expected)
    if head.verbatim is not None:
        assert head.verbatim == raw and head.keep_alive and not head.chunked
        kept = downstream_headers(expected.headers)
        assert list(kept.items()) == [
            (k, v) for k, v in expected.headers.items() if k.lower() != "content-length"
        ]
        (length,) = expected.headers.getall("Content-Length")
        assert length.isdigit()
        assert "Date" in expected.headers


def test_a_status_line_without_a_reason_goes_verbatim_with_an_empty_one() -> None:
    raw = AIOHTTP_HEAD.replace(b"HTTP/1.1 200 OK", b"HTTP/1.1 200")
    parsed = http1.parse_response_head(raw + b"\r\n\r\n", "GET")
    assert parsed is not None
    assert parsed[0].verbatim == raw and parsed[0].reason == "" and parsed[0].status == 200
