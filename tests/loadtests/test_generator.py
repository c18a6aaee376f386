"""The generator against loopback aiohttp servers with known latency, and one that stalls."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web

from loadtests import report
from loadtests.generator import (
    Phase,
    Recorder,
    RemoteTargetError,
    Target,
    arrivals,
    closed_loop,
    is_loopback,
    open_loop,
)
from loadtests.hdr import Histogram
from loadtests.scenario import parse


async def _serve(handler: Callable[[web.Request], object], keepalive: float = 75.0) -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_get("/", handler)  # type: ignore[arg-type]
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=keepalive)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = int(runner.addresses[0][1])
    try:
        yield port
    finally:
        await runner.cleanup()


@pytest.fixture
async def slow_20ms() -> AsyncIterator[int]:
    async def handler(request: web.Request) -> web.Response:
        await asyncio.sleep(0.020)
        return web.Response(text="hello")

    async for port in _serve(handler):
        yield port


class Staller:
    """Answers at once, except that the first request after `after` seconds stalls the whole
    server (a blocking sleep on its event loop) for `stall` seconds, once."""

    def __init__(self, after: float, stall: float) -> None:
        self.after = after
        self.stall = stall
        self.started = time.perf_counter()
        self.stalled = False

    async def handler(self, request: web.Request) -> web.Response:
        if not self.stalled and time.perf_counter() - self.started > self.after:
            self.stalled = True
            time.sleep(self.stall)  # noqa: ASYNC251 - the point: the whole server stops answering
        return web.Response(text="hello")


def target(port: int) -> Target:
    return Target.from_url(f"http://127.0.0.1:{port}", "app.local", timeout=5)


def test_histogram_percentiles_are_within_its_precision() -> None:
    hist = Histogram()
    for ms in range(1, 1001):
        hist.record(ms / 1000.0)
    for q, want in ((0.5, 0.5), (0.9, 0.9), (0.99, 0.99)):
        assert want <= hist.percentile(q) <= want * 1.011
    assert hist.percentile(1.0) == pytest.approx(1.0)
    assert hist.count == 1000


def test_schedules_fixed_ramp_burst_and_bounds() -> None:
    assert len(arrivals([Phase(2, rate=50)], 10_000)) == pytest.approx(100, abs=1)
    ramp = arrivals([Phase(10, rate=0, rate_to=100)], 10_000)
    assert len(ramp) == pytest.approx(500, rel=0.05)  # the area under the ramp
    assert ramp[len(ramp) // 2] > 5  # arrivals crowd towards the end
    assert arrivals([Phase(1, burst=200)], 10_000) == [0.0] * 200
    assert len(arrivals([Phase(100, rate=1000)], 50)) == 50


def test_non_loopback_targets_are_refused_unless_allowed() -> None:
    assert is_loopback("127.0.0.5") and is_loopback("::1") and is_loopback("localhost")
    with pytest.raises(RemoteTargetError, match="--allow-remote"):
        Target.from_url("http://10.1.2.3:8080")
    assert Target.from_url("http://10.1.2.3:8080", allow_remote=True).address == "10.1.2.3"


async def test_open_loop_measures_a_known_latency(slow_20ms: int) -> None:
    recorder = Recorder()
    await open_loop(target(slow_20ms), [Phase(1.5, rate=100)], recorder)
    totals = recorder.totals()
    assert totals["ok"] == totals["sent"] == 150
    # Bounds with room for a loaded 2-core machine: the server's 20 ms is the floor.
    assert 0.020 <= recorder.latency.percentile(0.5) < 0.045
    assert recorder.latency.percentile(0.99) < 0.250
    assert recorder.lag.count == 150
    assert sum(s.offered for s in recorder.seconds.values()) == 150


async def test_a_stall_shows_in_open_loop_and_hides_in_closed_loop() -> None:
    # The same server behaviour, measured twice: it stalls 300 ms once, 0.5 s into the run.
    staller = Staller(0.5, 0.3)
    async for port in _serve(staller.handler):
        open_rec = Recorder()
        await open_loop(target(port), [Phase(1.5, rate=100)], open_rec)
    assert staller.stalled
    staller = Staller(0.5, 0.3)
    async for port in _serve(staller.handler):
        closed_rec = Recorder()
        await closed_loop(target(port), [Phase(1.5, concurrency=1)], closed_rec)
    assert staller.stalled
    # Open loop: the ~30 requests due during the stall all waited for it, from their intended
    # times, so more than 1 % of requests are slow: p99 sees the stall, not only max.
    assert open_rec.latency.percentile(0.99) > 0.2
    assert open_rec.latency.max > 0.28
    # Closed loop: one request waited 300 ms, and nothing was sent meanwhile: p99 stays fast.
    assert closed_rec.latency.max > 0.28
    assert closed_rec.latency.percentile(0.99) < 0.05
    # The per-second series shows it too: the second holding the stall has a slow p99.
    assert max(s.latency.percentile(0.99) for s in open_rec.seconds.values()) > 0.2


async def test_an_unreachable_target_is_counted_as_connect_errors() -> None:
    recorder = Recorder()
    from loadtests.dataplane import _free_port  # noqa: PLC0415 - a port nothing listens on

    await open_loop(target(_free_port()), [Phase(0.3, rate=20)], recorder)
    totals = recorder.totals()
    assert totals["ok"] == 0
    assert totals["errors_by_kind"] == {"connect": totals["sent"]}
    assert recorder.first_error is not None and "connect" in recorder.first_error


async def test_error_statuses_are_counted_by_code() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=503, text="no")

    recorder = Recorder()
    async for port in _serve(handler):
        await open_loop(target(port), [Phase(0.5, rate=20)], recorder)
    assert recorder.totals()["errors_by_status"] == {"503": 10}


async def test_a_generator_that_falls_behind_says_so(slow_20ms: int) -> None:
    # The generator's own event loop blocks for 200 ms mid-run (as a busy machine would):
    # requests due meanwhile start late, and the run is flagged instead of trusted.
    recorder = Recorder(lag_threshold=0.05)

    async def block_once() -> None:
        await asyncio.sleep(0.3)
        time.sleep(0.2)  # noqa: ASYNC251 - the point: this loop stops for a while

    blocker = asyncio.create_task(block_once())
    await open_loop(target(slow_20ms), [Phase(1.0, rate=100)], recorder)
    await blocker
    assert recorder.saturated
    assert recorder.late >= 10
    summary = report.summary(
        recorder, parse({"name": "x", "mode": "open", "phases": [{"seconds": 1}]}, "x"), {}
    )
    assert summary["generator"]["saturated"] is True
    text = report.text({"scenario": "x", "verdict": "fail", "summary": summary, "checks": []})
    assert "GENERATOR SATURATED" in text


async def test_a_kept_alive_connection_the_server_closed_is_not_an_error() -> None:
    # The server drops idle connections after 50 ms; requests come 200 ms apart, so each finds
    # its pooled connection closed and must go again on a new one, as a browser would.
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    recorder = Recorder()
    async for port in _serve(handler, keepalive=0.05):
        client = await open_loop(target(port), [Phase(1.0, rate=5)], recorder)
    assert client.retries >= 3
    assert recorder.totals()["ok"] == 5
    assert recorder.totals()["errors"] == 0
