"""Open-loop POSTs: the load generator's schedule and keep-alive client, sending a small body.

`loadtests.generator` sends GETs, which the gateway may send again to another pod when one
closes unanswered; a POST with a body it must not repeat, so a pod killed under POSTs shows
which requests the fault really cost. Same Recorder, same schedule, same bounds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from loadtests.generator import Client, Phase, Recorder, arrivals

BODY = b'{"fault": "test"}'


@dataclass
class PostClient(Client):
    def _payload(self) -> bytes:
        t = self.target
        head = (
            f"POST {t.path} HTTP/1.1\r\nHost: {t.host}\r\nUser-Agent: kwake-loadtests\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n"
        )
        return head.encode() + BODY


async def post_loop(
    client: PostClient, phases: Sequence[Phase], recorder: Recorder, *, max_requests: int = 200_000
) -> None:
    """Send on the schedule (latency from each intended time), wait for every answer, close."""
    tasks: set[asyncio.Task[None]] = set()

    async def one(intended: float) -> None:
        recorder.offered(intended, time.perf_counter())
        recorder.outcome(await client.request(), intended)

    try:
        for offset in arrivals(phases, max_requests):
            intended = recorder.start + offset
            await asyncio.sleep(max(0.0, intended - time.perf_counter()))
            task = asyncio.create_task(one(intended))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(list(tasks))
    finally:
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(list(tasks))
        await client.close()
