"""Knative's network probes: `K-Network-Probe` is answered here and never proxied.

`activator` (and `queue`, which a one-hop gateway answers on the pod's behalf) get 200 with the
value as body; `probe`, sent by ingress probers, gets 200 with its `K-Network-Hash` echoed. Any
other value is a 400. While draining, probes get 503 so probers take this gateway out first.
"""

from __future__ import annotations

from multidict import CIMultiDict

from activator.handlers.chain import Check
from activator.handlers.exchange import Exchange, Reply, text_reply
from activator.state import GatewayState

PROBE_HEADER = "K-Network-Probe"
HASH_HEADER = "K-Network-Hash"


def probe_check(state: GatewayState) -> Check:
    def probe(request: Exchange) -> Reply | None:
        value = request.headers.get(PROBE_HEADER)
        if value is None:
            return None
        if state.draining:
            return text_reply(503, "shutting down")
        if value in ("activator", "queue"):
            return text_reply(200, value)
        if value == "probe":
            echo = request.headers.get(HASH_HEADER)
            return text_reply(200, "probe", CIMultiDict({HASH_HEADER: echo}) if echo else None)
        return text_reply(400, f"unexpected {PROBE_HEADER} value {value!r}")

    return probe
