"""Holds a request until one of its revision's pods has a free slot, then lets it through.

The request counts in its revision's time-weighted concurrency from the moment it gets here,
queued time included (at zero, queued requests are the demand the autoscaler sizes by).

A full queue is a 503 at once; no slot before the revision's response-start deadline is a 504.
A revision with no ready pod pokes the autoscaler. When the pod refuses the connection (it was
listed ready a moment early), the slot is returned, the pod skipped a while, and the request
goes back to the head of the queue for another pod.
"""

from __future__ import annotations

from collections.abc import Callable

from activator import admission
from activator.config import GatewayConfig
from activator.handlers.context import Handler, PodClosedError, PodRefusedError
from activator.handlers.exchange import Exchange, Reply, text_reply
from activator.handlers.responses import bad_gateway
from activator.metrics import GatewayMetrics
from activator.poker import Poker
from activator.throttler import QueueFullError


def throttle_handler(
    config: GatewayConfig,
    poker: Poker,
    metrics: GatewayMetrics,
    clock: Callable[[], float],
    next_handler: Handler,
) -> Handler:
    async def throttle(request: Exchange) -> Reply:
        ctx = request.ctx
        revision = ctx.revision
        assert revision is not None, "the routing handler runs first"
        settings, throttler = revision.settings, revision.throttler
        ctx.response_deadline = ctx.started + settings.response_start_timeout_s
        ctx.total_deadline = ctx.started + settings.timeout_s
        ctx.idle_timeout = settings.idle_timeout_s
        cold = not throttler.has_pods
        if cold:
            poker.maybe_poke(revision)
        recorder = revision.recorder
        arrived = clock()
        recorder.start(arrived)
        tracker = None
        try:
            tracker = admission.try_acquire(throttler)
            if tracker is None:
                tracker = await admission.acquire(throttler, ctx.response_deadline)
                ctx.queue_wait = clock() - arrived
            if cold:
                metrics.cold_start_wait.labels(revision.key.namespace, revision.key.name).observe(
                    ctx.queue_wait
                )
            closed_once = False
            while True:
                ctx.pod = tracker.pod
                try:
                    return await next_handler(request)
                except PodRefusedError as refused:
                    if isinstance(refused, PodClosedError):
                        if closed_once:
                            return bad_gateway(f"{ctx.pod}: {refused}")
                        closed_once = True
                    failed, tracker = tracker, None
                    admission.refused(throttler, failed, config.refused_backoff_s)
                    if not throttler.has_pods:
                        poker.maybe_poke(revision)
                    tracker = await admission.acquire(throttler, ctx.response_deadline, retry=True)
        except QueueFullError as full:
            return text_reply(503, f"kwake gateway: {full}\n")
        except admission.ShedError:
            return text_reply(503, "kwake gateway: shutting down\n")
        except admission.DeadlineExceededError:
            ctx.queue_wait = clock() - arrived
            return text_reply(504, "kwake gateway: request timeout waiting for a pod\n")
        finally:
            now = clock()
            if tracker is not None:
                admission.release(throttler, tracker, now)
            recorder.end(now)

    return throttle
