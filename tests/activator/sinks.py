"""A StatsSink that keeps what it is given, for tests that check what the autoscaler would hear."""

from __future__ import annotations

import asyncio

from activator.routing import RevisionKey
from activator.stats import StatsReport


class RecordingSink:
    def __init__(self) -> None:
        self.pokes: list[RevisionKey] = []
        self.reports: list[StatsReport] = []
        self.poked = asyncio.Event()

    async def send_stats(self, report: StatsReport) -> None:
        self.reports.append(report)

    async def poke(self, revision: RevisionKey) -> None:
        self.pokes.append(revision)
        self.poked.set()
