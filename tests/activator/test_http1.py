"""HTTP/1.1 heads and chunked bodies, parsed and encoded without sockets."""

from __future__ import annotations

import pytest

from activator import http1


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
