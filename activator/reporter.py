"""Every period: each active revision's window stats to the autoscaler, and the sampled gauges."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from activator.metrics import GatewayMetrics
from activator.routing import RevisionKey
from activator.state import GatewayState
from activator.stats import RevisionStat, StatsReport, StatsSink


class StatsReporter:
    def __init__(
        self,
        state: GatewayState,
        metrics: GatewayMetrics,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
    ) -> None:
        self._state = state
        self._metrics = metrics
        self._clock = clock
        self._wall_clock = wall_clock
        self._known: set[tuple[str, str]] = set()
        self._reported: set[RevisionKey] = set()

    def collect(self) -> StatsReport:
        now = self._clock()
        stats = []
        seen = set()
        for key, revision in self._state.revisions.items():
            labels = (key.namespace, key.name)
            seen.add(labels)
            self._metrics.queue_depth.labels(*labels).set(revision.throttler.waiting)
            self._metrics.pods.labels(*labels).set(len(revision.pods))
            if revision.recorder.idle():
                if key in self._reported:
                    # One explicit zero after activity, as Knative's activator sends, so the
                    # autoscaler sees the drop instead of a gap; then silence until traffic.
                    stats.append(RevisionStat(key, 0.0, 0))
                continue
            window = revision.recorder.report(now)
            stats.append(RevisionStat(key, window.average_concurrency, window.requests))
        for gone in self._known - seen:
            self._metrics.forget_revision(*gone)
        self._known = seen
        self._reported = {stat.revision for stat in stats if stat.concurrency or stat.requests}
        return StatsReport(self._state.config.gateway_id, self._wall_clock(), tuple(stats))

    async def run(self, sink: StatsSink, period_s: float) -> None:
        """Report on a fixed cadence; each send goes on its own, so a slow autoscaler never
        delays the next report. The autoscaler files reports by the second they arrive in: a
        cadence that drifted by the send time would leave seconds without a report, which read
        as lower concurrency and a premature scale-down under load."""
        loop = asyncio.get_running_loop()
        sending: set[asyncio.Task[None]] = set()
        due = loop.time()
        try:
            while True:
                due += period_s
                lag = loop.time() - due
                if lag > period_s:
                    # The loop was blocked for more than a period: the next window starts now
                    # (its average still covers the whole time since the last report).
                    due += lag
                await asyncio.sleep(max(0.0, due - loop.time()))
                report = self.collect()
                if report.stats:
                    task = asyncio.create_task(sink.send_stats(report), name="stats report")
                    sending.add(task)
                    task.add_done_callback(sending.discard)
        finally:
            for task in sending:
                task.cancel()
            await asyncio.gather(*sending, return_exceptions=True)
