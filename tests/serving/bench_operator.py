"""Benchmark: time to Ready for N Services applied at once on localkube, and the operator's CPU.

    python -m tests.serving.bench_operator 1 10 100

Runs localkube's API server, Deployment/Endpoints controllers and process kubelet in this
process, the operator as a child process (`kwake operator`, so its CPU time is its own), and a
stand-in for the gateway that marks each KIngress served as soon as it sees its generation.
The app is a few lines of stdlib HTTP server, so the figures measure the control plane.
Prints p50/p95/max seconds from create to ksvc Ready, and operator CPU seconds per Service.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localkube.client import NAMESPACES, ApiClient, load_connection
from localkube.controllers import run_controllers
from localkube.kubelet import run_kubelet
from localkube.server.runner import ThreadedApiServer
from serving.api.meta import get_condition
from serving.operator.resources import KSERVICES

from .operator_harness import eventually, install_crds, serve_ingresses, webhooks_configured

APP = (
    "import http.server,os\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        self.send_response(200); self.end_headers(); self.wfile.write(b'hello')\n"
    "    def log_message(self, *a): pass\n"
    "http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()\n"
)


@dataclass(frozen=True)
class Result:
    services: int
    p50: float
    p95: float
    worst: float
    cpu_per_service: float


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _service(name: str, ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "template": {
                "spec": {"containers": [{"image": "bench", "command": [sys.executable, "-S", "-c", APP]}]}
            }
        },
    }


async def _round(client: ApiClient, n: int, operator_pid: int) -> Result:
    ns = f"bench-{n}-{round(asyncio.get_running_loop().time() * 1000)}"
    await client.create(NAMESPACES, {"metadata": {"name": ns}})
    cpu0 = _cpu_seconds(operator_pid)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await asyncio.gather(*(client.create(KSERVICES, _service(f"s{i}", ns), ns) for i in range(n)))
    ready_at: dict[str, float] = {}

    async def all_ready() -> bool:
        for svc in (await client.list(KSERVICES, ns))["items"]:
            cond = get_condition(svc.get("status"), "Ready")
            if cond is not None and cond.is_true:
                ready_at.setdefault(svc["metadata"]["name"], loop.time() - start)
        return len(ready_at) == n

    await eventually(all_ready, within=300, what=f"{n} Services Ready")
    cpu = _cpu_seconds(operator_pid) - cpu0
    times = sorted(ready_at.values())
    for i in range(n):
        await client.delete(KSERVICES, f"s{i}", ns)
    return Result(
        n,
        statistics.median(times),
        times[min(n - 1, round(0.95 * (n - 1)))],
        times[-1],
        cpu / n,
    )


async def main(counts: list[int]) -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        server = ThreadedApiServer(Path(tmp) / "state").start()
        try:
            async with ApiClient(load_connection(str(server.kubeconfig))) as client:
                await install_crds(client)
                stop = asyncio.Event()
                tasks = [
                    asyncio.create_task(run_controllers(client, stop), name="controllers"),
                    asyncio.create_task(run_kubelet(client, Path(tmp) / "kubelet", stop), name="kubelet"),
                    asyncio.create_task(serve_ingresses(client, stop), name="fake-gateway"),
                ]
                argv = ["-m", "serving.cli.main", "operator", "--kubeconfig", str(server.kubeconfig)]
                log_path = os.environ.get("BENCH_LOG")  # e.g. BENCH_LOG=/tmp/operator.log
                log_file = Path(log_path).open("w") if log_path else None  # noqa: ASYNC230, SIM115 - closed below
                if os.environ.get("BENCH_PROFILE"):  # e.g. BENCH_PROFILE=/tmp/operator.prof
                    argv = ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"], *argv]
                operator = await asyncio.create_subprocess_exec(
                    sys.executable,
                    *argv,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=log_file or asyncio.subprocess.DEVNULL,
                )
                try:
                    await eventually(lambda: webhooks_configured(client), within=60, what="the webhooks")
                    return [await _round(client, n, operator.pid) for n in counts]
                finally:
                    operator.terminate()
                    await asyncio.wait_for(operator.wait(), 30)
                    if log_file is not None:
                        log_file.close()
                    stop.set()
                    await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            server.stop()


if __name__ == "__main__":
    counts = [int(a) for a in sys.argv[1:]] or [1, 10]
    for r in asyncio.run(main(counts)):
        print(
            f"{r.services:4d} services: ready p50 {r.p50:6.2f}s  p95 {r.p95:6.2f}s  max {r.worst:6.2f}s  "
            f"operator CPU {r.cpu_per_service * 1000:7.1f} ms/service"
        )
