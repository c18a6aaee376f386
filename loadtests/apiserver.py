"""Benchmark: localkube's API server under writes and watches.

    python -m loadtests.apiserver [--objects 10000] [--writers 16] [--watchers 4] [--patches 2000]
                                  [--rate 200]

Starts `kwake localkube` as its own process (so its memory is its own), creates N ConfigMaps
with several concurrent writers while W watchers follow the collection, then patches a sample of
them at a fixed rate. Watchers run in their own process. Reports creates/s at full speed, the
delay from a write's response to each watcher receiving its event (p50/p99) during the burst and
during the paced phase, and the server's RSS with N objects stored. Loopback only; bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml

DEADLINE_SECONDS = 300.0


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Connection:
    def __init__(self, kubeconfig: Path) -> None:
        config = yaml.safe_load(kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        self.url = cluster["server"]
        self.ssl = ssl.create_default_context(
            cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
        )
        self.headers = {"Authorization": f"Bearer {config['users'][0]['user']['token']}"}


async def watcher(
    conn: Connection, path: str, rv: str, received: dict[str, list[float]], want: int, ready: asyncio.Event
) -> None:
    seen = 0
    timeout = aiohttp.ClientTimeout(total=DEADLINE_SECONDS)
    async with (
        aiohttp.ClientSession(headers=conn.headers, timeout=timeout) as session,
        session.get(f"{conn.url}{path}?watch=true&resourceVersion={rv}", ssl=conn.ssl) as resp,
    ):
        ready.set()
        async for line in resp.content:
            now = time.perf_counter()
            if not line.strip():
                continue
            event = json.loads(line)
            md = event["object"]["metadata"]
            key = f"{event['type']}/{md['name']}/{md['resourceVersion']}"
            received.setdefault(key, []).append(now)
            seen += 1
            if seen >= want:
                return


async def watch_all(kubeconfig: Path, path: str, rv: str, watchers: int, want: int) -> dict[str, list[float]]:
    conn = Connection(kubeconfig)
    received: dict[str, list[float]] = {}
    readies = [asyncio.Event() for _ in range(watchers)]
    tasks = [asyncio.create_task(watcher(conn, path, rv, received, want, r)) for r in readies]
    await asyncio.gather(*(r.wait() for r in readies))
    print("READY", flush=True)
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=DEADLINE_SECONDS)
    return received


def watch_process_main(kubeconfig: str, path: str, rv: str, watchers: int, want: int) -> None:
    """Entry point of the watcher process: its own CPU, so it measures the server, not our loop."""
    received = asyncio.run(watch_all(Path(kubeconfig), path, rv, watchers, want))
    print(json.dumps(received), flush=True)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    state = Path(tempfile.mkdtemp(prefix="kwake-apibench-"))
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "serving.cli.main",
            "localkube",
            "--state-dir",
            str(state),
            "--log-level",
            "WARNING",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        kubeconfig = state / "kubeconfig"
        for _ in range(300):
            if kubeconfig.exists():
                break
            await asyncio.sleep(0.05)
        conn = Connection(kubeconfig)
        base = "/api/v1/namespaces/default/configmaps"
        idle_rss = rss_mb(server.pid)
        async with aiohttp.ClientSession(headers=conn.headers) as session:
            async with session.get(conn.url + base, ssl=conn.ssl) as resp:
                rv = (await resp.json())["metadata"]["resourceVersion"]
            watch_proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "import sys; from loadtests.apiserver import watch_process_main as m; "
                    "m(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))",
                    str(kubeconfig),
                    base,
                    rv,
                    str(args.watchers),
                    str(args.objects + args.patches),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert watch_proc.stdout is not None
            ready_line = await asyncio.to_thread(watch_proc.stdout.readline)
            assert ready_line.strip() == "READY", ready_line
            sent: dict[str, float] = {}
            write_latency: list[float] = []
            queue: asyncio.Queue[tuple[str, str, Any]] = asyncio.Queue()
            for i in range(args.objects):
                queue.put_nowait(
                    (
                        "POST",
                        base,
                        {
                            "metadata": {"name": f"cm-{i:06d}", "labels": {"bench": "yes"}},
                            "data": {"payload": "x" * args.payload},
                        },
                    )
                )

            async def writer() -> None:
                while not queue.empty():
                    method, path, body = queue.get_nowait()
                    start = time.perf_counter()
                    headers = {"Content-Type": "application/merge-patch+json"} if method == "PATCH" else {}
                    async with session.request(
                        method, conn.url + path, json=body, ssl=conn.ssl, headers=headers
                    ) as resp:
                        reply = await resp.json()
                        done = time.perf_counter()
                    assert resp.status in (200, 201), reply
                    md = reply["metadata"]
                    kind = "ADDED" if method == "POST" else "MODIFIED"
                    sent[f"{kind}/{md['name']}/{md['resourceVersion']}"] = done
                    write_latency.append(done - start)

            t0 = time.perf_counter()
            await asyncio.gather(*(writer() for _ in range(args.writers)))
            create_seconds = time.perf_counter() - t0
            create_keys = set(sent)
            # Paced phase: patches at a fixed rate, so latency is measured below saturation.
            t1 = time.perf_counter()
            for i in range(args.patches):
                due = t1 + i / args.rate
                pause = due - time.perf_counter()
                if pause > 0:
                    await asyncio.sleep(pause)
                queue.put_nowait(("PATCH", f"{base}/cm-{i % args.objects:06d}", {"data": {"n": str(i)}}))
                await writer()
            patch_seconds = time.perf_counter() - t1
            out, _ = await asyncio.to_thread(watch_proc.communicate, timeout=DEADLINE_SECONDS)
            received: dict[str, list[float]] = json.loads(out)
        burst = [
            max(0.0, got - sent[k]) for k, times in received.items() if k in create_keys for got in times
        ]
        paced = [
            max(0.0, got - sent[k])
            for k, times in received.items()
            if k in sent and k not in create_keys
            for got in times
        ]
        loaded_rss = rss_mb(server.pid)
        return {
            "objects": args.objects,
            "writers": args.writers,
            "watchers": args.watchers,
            "patches": args.patches,
            "creates_per_second": round(args.objects / create_seconds, 1),
            "paced_patches_per_second": round(args.patches / patch_seconds, 1) if args.patches else None,
            "write_latency_ms_p50": round(percentile(write_latency, 50) * 1000, 2),
            "write_latency_ms_p99": round(percentile(write_latency, 99) * 1000, 2),
            "burst_event_delay_after_response_ms_p50": round(percentile(burst, 50) * 1000, 2),
            "burst_event_delay_after_response_ms_p99": round(percentile(burst, 99) * 1000, 2),
            "paced_event_delay_after_response_ms_p50": round(percentile(paced, 50) * 1000, 2),
            "paced_event_delay_after_response_ms_p99": round(percentile(paced, 99) * 1000, 2),
            "events_received": sum(len(v) for v in received.values()),
            "server_rss_mb_idle": round(idle_rss, 1),
            "server_rss_mb_loaded": round(loaded_rss, 1),
            "mean_write_latency_ms": round(statistics.fmean(write_latency) * 1000, 2),
        }
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(state, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--watchers", type=int, default=4)
    parser.add_argument("--patches", type=int, default=2_000)
    parser.add_argument("--payload", type=int, default=256, help="bytes of data per object")
    parser.add_argument("--rate", type=float, default=200.0, help="patches per second in the paced phase")
    args = parser.parse_args(argv)
    if args.objects < 1 or args.objects > 200_000 or args.writers < 1 or args.writers > 256:
        parser.error("--objects must be in [1, 200000] and --writers in [1, 256]")
    result = asyncio.run(asyncio.wait_for(run(args), timeout=DEADLINE_SECONDS + 60))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
