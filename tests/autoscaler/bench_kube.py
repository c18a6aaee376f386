"""The autoscaler against a real localkube API server: how long the Kubernetes side takes.

    python -m tests.autoscaler.bench_kube [--revisions 300]

Prints: the watcher's first sync over N PodAutoscalers, the first tick (a status write for
each), a steady tick (nothing to write), and a poke at zero (scale and status written).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from autoscaler.cluster import ClusterWatcher
from autoscaler.kube import PODAUTOSCALERS, KubeScaleWriter
from autoscaler.service import AutoscalerService
from localkube.client import CONFIGMAPS, DEPLOYMENTS, ApiClient, load_connection
from localkube.server.runner import ThreadedApiServer
from tests.autoscaler.kube_harness import NS, SYSTEM, deployment_body, podautoscaler_body, prepare_cluster

ZERO_START = {"autoscaling.knative.dev/initial-scale": "0"}


async def bench(kubeconfig: Path, revisions: int, pokes: int = 20) -> None:
    async with ApiClient(load_connection(str(kubeconfig)), keep_warm_seconds=None) as client:
        await prepare_cluster(client)
        config = {"metadata": {"name": "config-autoscaler"}, "data": {"allow-zero-initial-scale": "true"}}
        await client.create(CONFIGMAPS, config, SYSTEM)
        limit = asyncio.Semaphore(16)

        async def make(i: int) -> None:
            async with limit:
                name = f"r{i:05d}-00001"
                await client.create(DEPLOYMENTS, deployment_body(name, 0), NS)
                await client.create(PODAUTOSCALERS, podautoscaler_body(name, annotations=ZERO_START), NS)

        await asyncio.gather(*(make(i) for i in range(revisions)))
        now = [1_700_000_000.0]
        service = AutoscalerService(KubeScaleWriter(client), CollectorRegistry(), clock=lambda: now[0])
        started = time.perf_counter()
        async with ClusterWatcher(client, service):
            synced = time.perf_counter() - started
            print(f"watcher synced {len(service.revisions())} PodAutoscalers: {synced:.2f} s")
            started, now[0] = time.perf_counter(), now[0] + 2
            await service.tick()
            print(f"first tick, a status write each: {time.perf_counter() - started:.2f} s")
            started, now[0] = time.perf_counter(), now[0] + 2
            await service.tick()
            print(f"steady tick, nothing to write: {(time.perf_counter() - started) * 1000:.1f} ms")
            latencies = []
            for i in range(min(pokes, revisions)):
                now[0] += 0.1
                started = time.perf_counter()
                assert await service.poke(NS, f"r{i:05d}-00001")
                latencies.append((time.perf_counter() - started) * 1000)
            print(
                f"poke at zero, scale and status written: median {statistics.median(latencies):.1f} ms, "
                f"max {max(latencies):.1f} ms"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--revisions", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        server = ThreadedApiServer(Path(state) / "apiserver").start()
        try:
            asyncio.run(bench(server.kubeconfig, args.revisions))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
