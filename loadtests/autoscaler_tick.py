"""Benchmark: one KPA tick over many revisions (`python -m loadtests.autoscaler_tick`).

For 100, 1,000 and 10,000 revisions with a 60 s stable window (60 one-second buckets each), it
fills a minute of gateway reports, then alternates one second of reports for every revision with
a tick over all of them. It prints the tick time (median, p99), the time to record a second of
reports, the bytes held in the autoscaler's arrays, the peak memory allocated while building and
warming up (tracemalloc, off during the timed ticks) and the growth of the resident set. Each
size runs in a fresh child process so its memory figures are its own. Target: a tick over 10,000
revisions under 50 ms and 100 MB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from autoscaler.kpa.annotations import resolve_spec
from autoscaler.kpa.config import AutoscalerConfig
from autoscaler.kpa.decisions import RevisionKey
from autoscaler.kpa.multiscaler import MultiScaler

SIZES = (100, 1_000, 10_000)
TARGET_TICK_MS = 50.0
TARGET_MEMORY_MB = 100.0


def _rss_bytes() -> int:
    # /proc/self/statm: size resident shared ... in pages
    try:
        resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    import resource  # noqa: PLC0415 - only where /proc exists

    return resident_pages * resource.getpagesize()


def measure(revisions: int, ticks: int = 60, max_seconds: float = 60.0, seed: int = 7) -> dict[str, float]:
    """Build `revisions` revisions, fill a stable window, and time `ticks` ticks (bounded in time)."""
    rss_before = _rss_bytes()
    tracemalloc.start()
    rng = np.random.default_rng(seed)
    config = AutoscalerConfig()
    specs = [
        resolve_spec({}, 0, config),
        resolve_spec({"autoscaling.knative.dev/metric": "rps"}, 0, config),
        resolve_spec({"autoscaling.knative.dev/target": "10"}, 10, config),
    ]
    scaler = MultiScaler(capacity=revisions)
    keys = [RevisionKey(f"ns-{i % 50}", f"rev-{i:05d}") for i in range(revisions)]
    now = 1_000_000.0
    for i, key in enumerate(keys):
        scaler.add(key, specs[i % len(specs)], now, ready=1)
    for _ in range(60):
        now += 1
        scaler.record(now, keys, rng.uniform(0, 100, revisions), rng.integers(0, 300, revisions))
    for _ in range(3):  # warm-up ticks, inside the allocation measurement
        now += 1
        scaler.record(now, keys, rng.uniform(0, 100, revisions), rng.integers(0, 300, revisions))
        scaler.tick(now + 0.5)
    # tracemalloc slows every allocation several-fold, so the timed ticks run without it.
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    tick_ms: list[float] = []
    record_ms: list[float] = []
    deadline = time.perf_counter() + max_seconds
    for _ in range(ticks):
        if time.perf_counter() > deadline:
            break
        now += 1
        concurrency = rng.uniform(0, 100, revisions)
        requests = rng.integers(0, 300, revisions)
        started = time.perf_counter()
        scaler.record(now, keys, concurrency, requests)
        recorded = time.perf_counter()
        result = scaler.tick(now + 0.5)
        ticked = time.perf_counter()
        assert len(result) == revisions
        # Feed the decisions back as ready pods, as a cluster would, so later ticks vary.
        ready = np.maximum(result.want, 0)
        for key, pods in zip(
            keys[:: max(1, revisions // 100)], ready[:: max(1, revisions // 100)], strict=False
        ):
            scaler.observe(key, ready=int(pods))
        record_ms.append((recorded - started) * 1000)
        tick_ms.append((ticked - recorded) * 1000)
    return {
        "revisions": revisions,
        "ticks": len(tick_ms),
        "tick_ms_median": float(np.median(tick_ms)),
        "tick_ms_p99": float(np.percentile(tick_ms, 99)),
        "record_ms_median": float(np.median(record_ms)),
        "array_mb": scaler.memory_bytes() / 1e6,
        "allocated_peak_mb": peak / 1e6,
        "rss_growth_mb": max(0, _rss_bytes() - rss_before) / 1e6,
    }


def _run_child(revisions: int, ticks: int) -> dict[str, float]:
    completed = subprocess.run(
        [sys.executable, "-m", "loadtests.autoscaler_tick", "--one", str(revisions), "--ticks", str(ticks)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result: dict[str, float] = json.loads(completed.stdout)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.autoscaler_tick", description=__doc__)
    parser.add_argument("--one", type=int, help="measure one size in this process and print JSON")
    parser.add_argument("--ticks", type=int, default=60)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if args.one is not None:
        print(json.dumps(measure(args.one, ticks=args.ticks)))
        return 0
    results = [_run_child(size, args.ticks) for size in SIZES]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(
        f"{'revisions':>10} {'ticks':>6} {'tick median':>12} {'tick p99':>9} {'record/s':>9} "
        f"{'arrays':>8} {'alloc peak':>11} {'RSS growth':>11}"
    )
    for r in results:
        print(
            f"{int(r['revisions']):>10,} {int(r['ticks']):>6} {r['tick_ms_median']:>9.2f} ms "
            f"{r['tick_ms_p99']:>6.2f} ms {r['record_ms_median']:>6.2f} ms {r['array_mb']:>5.1f} MB "
            f"{r['allocated_peak_mb']:>8.1f} MB {r['rss_growth_mb']:>8.1f} MB"
        )
    largest = results[-1]
    ok = largest["tick_ms_median"] < TARGET_TICK_MS and largest["rss_growth_mb"] < TARGET_MEMORY_MB
    print(
        f"target at {int(largest['revisions']):,} revisions: tick < {TARGET_TICK_MS:.0f} ms and "
        f"< {TARGET_MEMORY_MB:.0f} MB: {'met' if ok else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
