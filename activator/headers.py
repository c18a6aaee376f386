"""Header rewriting for the hop from client to pod and back (RFC 9110 section 7.6.1, RFC 7239)."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from multidict import CIMultiDict, CIMultiDictProxy

from activator.handlers.exchange import Headers
from activator.http1 import HOP_BY_HOP
from activator.routing import NAMESPACE_HEADER, REVISION_HEADER

# Routing headers are the gateway's business: a client must not pick a revision with them, and
# Knative removes them before proxying.
# Expect is answered by the gateway itself (100 Continue) before it reads the body.
_NOT_FORWARDED_UP = HOP_BY_HOP | {
    REVISION_HEADER.lower(),
    NAMESPACE_HEADER.lower(),
    "content-length",
    "expect",
}
# aiohttp sets Content-Length (or chunking) for the response it writes.
_NOT_FORWARDED_DOWN = HOP_BY_HOP | {"content-length"}


# A client may name any header in Connection to have it dropped at the next hop (RFC 9110
# section 7.6.1), but Host is meant for every recipient: `Connection: close, Host` must not
# make the pod see its own address instead of the host the request was routed by.
_NEVER_NOMINATED = frozenset({"host"})


def _connection_tokens(headers: CIMultiDictProxy[str] | CIMultiDict[str]) -> frozenset[str]:
    values = headers.getall("Connection", ())
    if not values:
        return frozenset()
    return frozenset(t.strip().lower() for v in values for t in v.split(",")) - _NEVER_NOMINATED


# Set by the gateway itself for each request (appended to, where the client sent one).
_REPLACED_UP = frozenset({"forwarded", "x-request-id"})
_DROP_UP = _NOT_FORWARDED_UP | _REPLACED_UP
_DROP_UP_WITH_PEER = _DROP_UP | {"x-forwarded-for"}


def upstream_headers(
    incoming: Headers,
    *,
    peer: str | None,
    scheme: str,
    host: str,
    request_id: str,
    extra: Iterable[tuple[str, str]] = (),
) -> list[tuple[str, str]]:
    """What the pod sees: the client's end-to-end headers plus forwarding facts, as the pairs
    to write (a list: building a multidict only to write it out cost more than the rest)."""
    extra = tuple(extra)
    drop = _DROP_UP_WITH_PEER if peer else _DROP_UP
    tokens = _connection_tokens(incoming)
    if tokens:
        drop = drop | tokens
    if extra:
        drop = drop | {name.lower() for name, _ in extra}
    out = [(name, value) for name, value in incoming.items() if name.lower() not in drop]
    out.extend(extra)
    if "Host" not in incoming:
        out.append(("Host", host))
    _append_forwarding(
        out,
        peer=peer,
        scheme=scheme,
        host=host,
        request_id=request_id,
        previous_for=incoming.get("X-Forwarded-For"),
        previous_forwarded=incoming.get("Forwarded"),
        proto="x-forwarded-proto" in drop or "X-Forwarded-Proto" not in incoming,
        forwarded_host="x-forwarded-host" in drop or "X-Forwarded-Host" not in incoming,
    )
    return out


# A request with none of these fields needs nothing dropped, replaced or appended to: it goes to
# the pod as it came (its Content-Length too, its body going whole), the forwarding fields added.
ACTED_ON_UP = (_DROP_UP_WITH_PEER - {"content-length"}) | {"x-forwarded-proto", "x-forwarded-host"}


def forwarding_fields(*, peer: str | None, scheme: str, host: str, request_id: str) -> bytes:
    """What `upstream_headers` adds to a request without any of ACTED_ON_UP, as the bytes that
    end its head (each field after a CRLF, then the blank line)."""
    return b"%b%b\r\n\r\n" % (
        _forwarding_for(peer, scheme, host),
        request_id.encode("utf-8", "surrogateescape"),
    )


@functools.lru_cache(maxsize=1024)  # few clients and hosts: the same few strings again and again
def _forwarding_for(peer: str | None, scheme: str, host: str) -> bytes:
    """The forwarding fields up to the request id's value (the request id comes last)."""
    added: list[tuple[str, str]] = []
    _append_forwarding(added, peer=peer, scheme=scheme, host=host, request_id="")
    return "".join(f"\r\n{name}: {value}" for name, value in added).encode("utf-8", "surrogateescape")


def _append_forwarding(
    out: list[tuple[str, str]],
    *,
    peer: str | None,
    scheme: str,
    host: str,
    request_id: str,
    previous_for: str | None = None,
    previous_forwarded: str | None = None,
    proto: bool = True,
    forwarded_host: bool = True,
) -> None:
    if peer:
        out.append(("X-Forwarded-For", f"{previous_for}, {peer}" if previous_for else peer))
    if proto:
        out.append(("X-Forwarded-Proto", scheme))
    if forwarded_host:
        out.append(("X-Forwarded-Host", host))
    element = _forwarded_element(peer, host, scheme)
    out.append(("Forwarded", f"{previous_forwarded}, {element}" if previous_forwarded else element))
    out.append(("X-Request-Id", request_id))


def downstream_headers(upstream: CIMultiDictProxy[str] | CIMultiDict[str]) -> CIMultiDict[str]:
    """What the client sees of the pod's response headers."""
    tokens = _connection_tokens(upstream)
    drop = _NOT_FORWARDED_DOWN | tokens if tokens else _NOT_FORWARDED_DOWN
    return CIMultiDict([(name, value) for name, value in upstream.items() if name.lower() not in drop])


@functools.lru_cache(maxsize=1024)  # few clients and hosts: the same few strings again and again
def _forwarded_element(peer: str | None, host: str, scheme: str) -> str:
    parts = []
    if peer:
        parts.append(f'for="[{peer}]"' if ":" in peer else f"for={peer}")
    if host:
        parts.append(f'host="{host}"' if ":" in host else f"host={host}")
    parts.append(f"proto={scheme}")
    return ";".join(parts)


def header_bytes(headers: Headers) -> int:
    """Approximate size of the header block as sent (name, ': ', value, CRLF)."""
    return sum(len(k) + len(v) + 4 for k, v in headers.items())
