"""The autoscaler sink over HTTP: JSON POSTs to `{base}/stats` and `{base}/poke` (see stats.py)."""

from __future__ import annotations

import logging

import aiohttp

from activator.routing import RevisionKey
from activator.stats import StatsReport, poke_body

log = logging.getLogger("kwake.gateway.stats")


class HttpStatsSink:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, timeout_s: float = 3.0) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def send_stats(self, report: StatsReport) -> None:
        await self._post("/stats", report.to_wire())

    async def poke(self, revision: RevisionKey) -> None:
        await self._post("/poke", poke_body(revision))

    async def _post(self, path: str, body: object) -> None:
        # The autoscaler being away must never hurt the data path: log and go on.
        try:
            async with self._session.post(self._base + path, json=body, timeout=self._timeout) as resp:
                if resp.status >= 300:
                    log.warning("autoscaler %s answered %d", path, resp.status)
                await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("autoscaler %s unreachable: %s", path, exc)
