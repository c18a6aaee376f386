"""The gateway's settings: one frozen object per process, passed in, never read from globals."""

from __future__ import annotations

import dataclasses

# Knative's activator holds up to this many requests per revision (`breakerQueueDepth`).
DEFAULT_QUEUE_DEPTH = 10_000
# Knative's revision-timeout-seconds default; also the response-start default.
DEFAULT_REVISION_TIMEOUT_S = 300.0
# The KIngress class this gateway serves (an Ingress without the annotation is served too).
INGRESS_CLASS = "kwake.ingress.networking.knative.dev"


@dataclasses.dataclass(frozen=True)
class GatewayConfig:
    gateway_id: str = "gateway-0"
    # Requests that may wait per revision before the next one gets 503.
    queue_depth: int = DEFAULT_QUEUE_DEPTH
    # Request bodies above this many bytes are refused with 413.
    max_body_bytes: int = 32 * 1024 * 1024
    # Request headers (names + values) above this many bytes are refused with 431.
    max_header_bytes: int = 32 * 1024
    # A client must send its request line and headers within this many seconds (slow-loris).
    header_timeout_s: float = 10.0
    # The data port opens once the first routes are loaded, or after this long at the most
    # (then requests get 503 until they are): a restarted gateway must not 404 known hosts.
    sync_timeout_s: float = 30.0
    # Bound on finishing in-flight requests after SIGTERM.
    drain_timeout_s: float = 30.0
    # Time between reporting not-ready and closing the listener, so load balancers notice.
    drain_quiet_s: float = 0.0
    # Stats are reported to the autoscaler this often.
    stats_period_s: float = 1.0
    # A revision with no ready pod is poked at most this often.
    poke_interval_s: float = 1.0
    # A pod that refused a connection is skipped for this long (or until Endpoints change).
    refused_backoff_s: float = 1.0
    # Upstream TCP connect timeout.
    connect_timeout_s: float = 5.0
    # Bodies with a known length up to this size are buffered instead of streamed (cheaper).
    buffer_small_bodies_bytes: int = 64 * 1024
    ingress_class: str = INGRESS_CLASS
    # Idle upstream connections are closed after this long.
    upstream_idle_timeout_s: float = 30.0
    # Open connections per pod; requests beyond wait for one (a release of 10 000 queued
    # requests must not open 10 000 sockets to one pod at once).
    max_connections_per_pod: int = 1000
