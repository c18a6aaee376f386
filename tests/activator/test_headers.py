"""Header rewriting between client and pod."""

from __future__ import annotations

from multidict import CIMultiDict, CIMultiDictProxy

from activator.headers import downstream_headers, header_bytes, upstream_headers


def _proxy(*pairs: tuple[str, str]) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict(pairs))


def test_hop_by_hop_and_connection_listed_headers_are_dropped() -> None:
    incoming = _proxy(
        ("Connection", "keep-alive, X-Private"),
        ("Keep-Alive", "timeout=5"),
        ("X-Private", "1"),
        ("TE", "trailers"),
        ("Transfer-Encoding", "chunked"),
        ("Accept", "a"),
        ("Accept", "b"),
    )
    out = CIMultiDict(upstream_headers(incoming, peer="10.0.0.1", scheme="http", host="h", request_id="r"))
    assert out.getall("Accept") == ["a", "b"]
    for name in ("Connection", "Keep-Alive", "X-Private", "TE", "Transfer-Encoding"):
        assert name not in out


def test_forwarding_headers_are_appended_or_set() -> None:
    incoming = _proxy(
        ("X-Forwarded-For", "1.1.1.1"), ("Forwarded", "for=1.1.1.1"), ("X-Forwarded-Proto", "https")
    )
    out = CIMultiDict(
        upstream_headers(incoming, peer="::1", scheme="http", host="h.example.com", request_id="r")
    )
    assert out["X-Forwarded-For"] == "1.1.1.1, ::1"
    assert out["X-Forwarded-Proto"] == "https"
    assert out["X-Forwarded-Host"] == "h.example.com"
    assert out["Forwarded"] == 'for=1.1.1.1, for="[::1]";host=h.example.com;proto=http'
    assert out["X-Request-Id"] == "r"


def test_routing_headers_from_clients_never_reach_pods_but_ingress_ones_do() -> None:
    incoming = _proxy(("Knative-Serving-Revision", "x"), ("knative-serving-namespace", "y"))
    out = CIMultiDict(
        upstream_headers(
            incoming, peer=None, scheme="http", host="h", request_id="r", extra=[("Knative-Serving-Tag", "t")]
        )
    )
    assert "Knative-Serving-Revision" not in out and "Knative-Serving-Namespace" not in out
    assert out["Knative-Serving-Tag"] == "t"
    assert "X-Forwarded-For" not in out


def test_response_headers_keep_end_to_end_ones() -> None:
    upstream = _proxy(
        ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("Connection", "close"), ("Content-Length", "5")
    )
    out = downstream_headers(upstream)
    assert out.getall("Set-Cookie") == ["a=1", "b=2"]
    assert "Connection" not in out and "Content-Length" not in out


def test_header_bytes_counts_names_values_and_separators() -> None:
    assert header_bytes(_proxy(("A", "bc"))) == 1 + 2 + 4
