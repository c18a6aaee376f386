"""The data-plane benchmark's load generator, briefly, against a loopback app (not a benchmark)."""

from __future__ import annotations

from loadtests import dataplane
from tests.activator.conftest import StartBackend, hello_app


async def test_closed_and_open_loops_count_and_time_requests(start_backend: StartBackend) -> None:
    app = await start_backend(hello_app())
    closed = await dataplane.closed_loop(app.port, "h", connections=5, seconds=0.2, max_requests=200)
    assert closed.errors == 0 and 0 < closed.requests <= 200
    assert closed.percentile(0.5) <= closed.percentile(0.99)
    opened = await dataplane.open_loop(app.port, "h", rate=100, seconds=0.3)
    assert opened.errors == 0 and opened.requests == 30


def test_rounds_are_merged_into_medians() -> None:
    rows = [
        dataplane.Row("gw", "closed c=10", t, 1.0, 2.0, 0, 100, cpu)
        for t, cpu in ((100.0, 200.0), (300.0, 100.0), (200.0, 300.0))
    ]
    (merged,) = dataplane._medians(rows)
    assert (merged.throughput, merged.proxy_cpu_us, merged.requests) == (200.0, 200.0, 300)
