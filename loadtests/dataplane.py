"""Data-plane benchmark: the same trivial app direct, through the gateway, and through nginx.

    python -m loadtests.dataplane [--rounds 3] [--duration 3] [--install-nginx] [--json out.json]

Everything runs on loopback on this machine: the hello app (`loadtests.apps.hello`), the gateway
(`python -m activator.cli` with a static routes file) in several configurations (asyncio or
uvloop, one or two SO_REUSEPORT workers), nginx with an upstream keep-alive pool when
`/usr/sbin/nginx` exists (`--install-nginx` runs `apt-get install -y nginx-light` first), and
a load generator in this process (raw asyncio protocol, uvloop, keep-alive connections).

Rounds interleave the targets and the figures are medians over rounds: on a shared machine the
load from elsewhere drifts, and interleaving spreads it evenly over the targets. Scenarios per
target, each bounded in time and count: closed loop at 10, 50 and 200 connections,
and open loop at a fixed rate (300 req/s by default; latency counted from each request's
scheduled time, so a stalled proxy cannot hide its queueing). Reported: throughput, p50/p99,
the proxy's CPU time per request (from /proc), throughput ratios gateway/direct and
gateway/nginx, added p50/p99 at the fixed rate, p99 at 200 connections, and the gateway's RSS
with 10 000 requests queued for a revision at zero (then released by giving it a pod).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import yaml

from activator import native

NGINX = Path("/usr/sbin/nginx")
HOST = "hello.default.example.com"
REVISION = "hello-00001"
CLOSED_LOOP_CONNECTIONS = (10, 50, 200)
TICKS = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------
# Load generator: a minimal HTTP/1.1 keep-alive client (responses must carry Content-Length).


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self._buffer = bytearray()
        self._waiter: asyncio.Future[int] | None = None
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError("connection lost"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self._buffer[:end]).lower()
        marker = head.find(b"content-length:")
        if marker < 0:
            raise RuntimeError("the load generator needs Content-Length responses")
        line_end = head.find(b"\r\n", marker)
        length = int(head[marker + 15 : line_end if line_end >= 0 else len(head)])
        total = end + 4 + length
        if len(self._buffer) < total:
            return
        status = int(self._buffer[9:12])
        del self._buffer[:total]
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(status)

    async def request(self, payload: bytes) -> int:
        assert self.transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(payload)
        return await self._waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def _connect(port: int) -> _Connection:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(_Connection, "127.0.0.1", port)
    return protocol


def _request_bytes(host: str, path: str = "/") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: kwake-bench\r\n\r\n".encode()


@dataclasses.dataclass
class Result:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def closed_loop(port: int, host: str, connections: int, seconds: float, max_requests: int) -> Result:
    payload = _request_bytes(host)
    conns = [await _connect(port) for _ in range(connections)]
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    issued = 0

    async def worker(conn: _Connection) -> None:
        nonlocal errors, issued
        while time.perf_counter() < deadline and issued < max_requests:
            issued += 1
            started = time.perf_counter()
            try:
                status = await conn.request(payload)
            except ConnectionError:
                errors += 1
                return
            if status != 200:
                errors += 1
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    elapsed = time.perf_counter() - started
    for conn in conns:
        conn.close()
    return Result(len(latencies), errors, elapsed, latencies)


async def open_loop(port: int, host: str, rate: float, seconds: float, max_pool: int = 200) -> Result:
    """Requests sent at fixed times; latency from the scheduled time, connections reused."""
    payload = _request_bytes(host)
    idle: list[_Connection] = []
    opened = 0
    latencies: list[float] = []
    errors = 0
    pool_free = asyncio.Condition()

    async def one(scheduled: float) -> None:
        nonlocal opened, errors
        async with pool_free:
            while not idle and opened >= max_pool:
                await pool_free.wait()
            if idle:
                conn = idle.pop()
            else:
                opened += 1
                conn = None
        if conn is None:
            conn = await _connect(port)
        try:
            status = await conn.request(payload)
        except ConnectionError:
            errors += 1
            opened -= 1
            return
        latencies.append(time.perf_counter() - scheduled)
        if status != 200:
            errors += 1
        async with pool_free:
            idle.append(conn)
            pool_free.notify()

    total = int(rate * seconds)
    start = time.perf_counter() + 0.05
    tasks = []
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    for conn in idle:
        conn.close()
    return Result(len(latencies), errors, elapsed, latencies)


# ---------------------------------------------------------------------------------------------
# Processes under test.


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _cpu_seconds(pids: Sequence[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / TICKS


def _rss_mb(pids: Sequence[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


@dataclasses.dataclass
class Target:
    name: str
    port: int
    host: str
    process: subprocess.Popen[bytes] | None

    def pids(self) -> list[int]:
        if self.process is None:
            return []
        return [self.process.pid, *_children(self.process.pid)]


def _wait_port(port: int, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _routes(workdir: Path, app_port: int | None, name: str = "routes.yaml") -> Path:
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "networking.internal.knative.dev/v1alpha1",
            "kind": "Ingress",
            "metadata": {"name": "hello", "namespace": "default", "generation": 1},
            "spec": {
                "rules": [
                    {
                        "hosts": [HOST],
                        "http": {
                            "paths": [
                                {
                                    "splits": [
                                        {
                                            "serviceName": REVISION,
                                            "serviceNamespace": "default",
                                            "servicePort": 80,
                                            "percent": 100,
                                        }
                                    ]
                                }
                            ]
                        },
                    }
                ]
            },
        }
    ]
    if app_port is not None:
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {"name": REVISION, "namespace": "default"},
                "subsets": [
                    {"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "http", "port": app_port}]}
                ],
            }
        )
    path = workdir / name
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump_all(objects))
    tmp.replace(path)  # atomic, so the gateway never reads half a file
    return path


def start_app(port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PORT": str(port)}
    process = subprocess.Popen([sys.executable, "-m", "loadtests.apps.hello"], env=env)
    _wait_port(port)
    return process


def start_gateway(
    workdir: Path,
    routes: Path,
    loop: str,
    workers: int,
    access_log: str,
    admin_port: int | None = None,
    *,
    pure: bool = False,
) -> Target:
    port = _free_port()
    argv = [
        sys.executable,
        "-m",
        "activator.cli",
        "--host=127.0.0.1",
        f"--port={port}",
        f"--static-routes={routes}",
        f"--loop={loop}",
        f"--workers={workers}",
        f"--access-log={access_log}",
        "--drain-timeout=5",
    ]
    if admin_port is not None:
        argv.append(f"--admin-port={admin_port}")
    # A compiled install runs its pure-Python modules on request (activator/native.py).
    env = {**os.environ, native.PURE_ENV: "1"} if pure else None
    process = subprocess.Popen(argv, stderr=subprocess.DEVNULL, env=env)
    _wait_port(port)
    time.sleep(0.3 * workers)  # every worker bound and synced
    name = (
        f"gateway {loop}"
        + (f" x{workers}" if workers > 1 else "")
        + ("" if access_log != "off" else " nolog")
        + (" pure" if pure else "")
    )
    return Target(name, port, HOST, process)


NGINX_CONF = """
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 10000000;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream app {{ server 127.0.0.1:{app_port}; keepalive 256; }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
        }}
    }}
}}
"""


def start_nginx(workdir: Path, app_port: int) -> Target | None:
    if not NGINX.exists():
        return None
    port = _free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=workdir, app_port=app_port, port=port))
    process = subprocess.Popen([str(NGINX), "-c", str(conf), "-p", str(workdir)], stderr=subprocess.DEVNULL)
    _wait_port(port)
    return Target("nginx", port, HOST, process)


# ---------------------------------------------------------------------------------------------
# Measurement.


@dataclasses.dataclass
class Row:
    target: str
    scenario: str
    throughput: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    proxy_cpu_us: float | None


async def measure(target: Target, duration: float, rate: float, max_requests: int) -> list[Row]:
    rows = []
    # Warm pools and caches, unmeasured.
    await closed_loop(target.port, target.host, 10, 0.5, 2000)
    scenarios: list[tuple[str, Callable[[], Awaitable[Result]]]] = [
        (f"closed c={c}", functools.partial(closed_loop, target.port, target.host, c, duration, max_requests))
        for c in CLOSED_LOOP_CONNECTIONS
    ]
    scenarios.append((f"open {rate:g}/s", lambda: open_loop(target.port, target.host, rate, duration)))
    for scenario, run in scenarios:
        pids = target.pids()
        cpu_before = _cpu_seconds(pids)
        result = await run()
        cpu = _cpu_seconds(pids) - cpu_before
        rows.append(
            Row(
                target.name,
                scenario,
                result.throughput,
                result.percentile(0.5) * 1000,
                result.percentile(0.99) * 1000,
                result.errors,
                result.requests,
                cpu / result.requests * 1e6 if pids and result.requests else None,
            )
        )
        await asyncio.sleep(0.3)
    return rows


async def queued_at_zero(workdir: Path, app_port: int, count: int) -> dict[str, float]:
    """RSS of a gateway holding `count` requests for a revision with no pod, then their release."""
    routes = _routes(workdir, None, "zero.yaml")
    admin = _free_port()
    gateway = start_gateway(workdir, routes, "asyncio", 1, "off", admin_port=admin)
    try:
        rss_idle = _rss_mb(gateway.pids())
        payload = _request_bytes(HOST)
        conns: list[_Connection] = []
        for start in range(0, count, 500):
            conns += await asyncio.gather(
                *(_connect(gateway.port) for _ in range(start, min(count, start + 500)))
            )
        started = time.perf_counter()
        pending = [asyncio.ensure_future(c.request(payload)) for c in conns]
        queued = 0.0
        deadline = time.monotonic() + 30
        while queued < count and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            queued = await _scrape_queue_depth(admin)
        rss_queued = _rss_mb(gateway.pids())
        released = time.perf_counter()
        _routes(workdir, app_port, "zero.yaml")
        statuses = await asyncio.gather(*pending, return_exceptions=True)
        done = time.perf_counter()
        for conn in conns:
            conn.close()
        ok = sum(1 for s in statuses if s == 200)
        return {
            "requests": float(count),
            "queued_seen": queued,
            "rss_idle_mb": rss_idle,
            "rss_queued_mb": rss_queued,
            "answered_200": float(ok),
            "queue_fill_s": released - started,
            "release_s": done - released,
        }
    finally:
        _stop(gateway.process)


async def _scrape_queue_depth(admin_port: int) -> float:
    """The gateway's queue-depth gauge from its admin port (0 if it cannot be read yet)."""
    try:
        async with asyncio.timeout(10):
            reader, writer = await asyncio.open_connection("127.0.0.1", admin_port)
            writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            body = await reader.read()
            writer.close()
    except (OSError, TimeoutError):
        return 0.0
    for line in body.decode().splitlines():
        if line.startswith("kwake_gateway_queue_depth{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# ---------------------------------------------------------------------------------------------
# Report.


def _medians(rows: Sequence[Row]) -> list[Row]:
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.target, row.scenario), []).append(row)
    merged = []
    for (target, scenario), group in groups.items():
        cpus = [r.proxy_cpu_us for r in group if r.proxy_cpu_us is not None]
        merged.append(
            Row(
                target,
                scenario,
                statistics.median(r.throughput for r in group),
                statistics.median(r.p50_ms for r in group),
                statistics.median(r.p99_ms for r in group),
                sum(r.errors for r in group),
                sum(r.requests for r in group),
                statistics.median(cpus) if cpus else None,
            )
        )
    return merged


def _table(rows: Sequence[Row]) -> Iterator[str]:
    yield (
        f"{'target':<22} {'scenario':<14} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}"
        f" {'cpu us/req':>10} {'errors':>6}"
    )
    for r in rows:
        cpu = f"{r.proxy_cpu_us:10.0f}" if r.proxy_cpu_us is not None else f"{'-':>10}"
        yield (
            f"{r.target:<22} {r.scenario:<14} {r.throughput:8.0f} {r.p50_ms:8.2f} {r.p99_ms:8.2f}"
            f" {cpu} {r.errors:6d}"
        )


def _summary(rows: Sequence[Row], rate: float) -> Iterator[str]:
    by = {(r.target, r.scenario): r for r in rows}
    targets = list(dict.fromkeys(r.target for r in rows))
    direct = "direct"
    open_name = f"open {rate:g}/s"
    for name in targets:
        if not name.startswith("gateway"):
            continue
        yield f"{name}:"
        for c in CLOSED_LOOP_CONNECTIONS:
            scenario = f"closed c={c}"
            gw, d = by.get((name, scenario)), by.get((direct, scenario))
            nginx = by.get(("nginx", scenario))
            if gw and d:
                line = f"  c={c:<3} gateway/direct {gw.throughput / d.throughput:5.2f}"
                if nginx:
                    line += f"  gateway/nginx {gw.throughput / nginx.throughput:5.2f}"
                line += f"  cpu {gw.proxy_cpu_us or 0:.0f} us/req"
                yield line
        gw, d = by.get((name, open_name)), by.get((direct, open_name))
        if gw and d:
            yield (
                f"  at {rate:g} req/s: added p50 {gw.p50_ms - d.p50_ms:+.2f} ms,"
                f" added p99 {gw.p99_ms - d.p99_ms:+.2f} ms,"
                f" cpu {gw.proxy_cpu_us or 0:.0f} us/req"
            )
        gw, d = by.get((name, "closed c=200")), by.get((direct, "closed c=200"))
        if gw and d:
            yield (
                f"  p99 at 200 connections: {gw.p99_ms:.1f} ms vs direct {d.p99_ms:.1f} ms"
                f" ({gw.p99_ms / d.p99_ms:.1f}x)"
            )


def install_nginx() -> None:
    if NGINX.exists():
        return
    subprocess.run(["apt-get", "update"], check=True)
    subprocess.run(["apt-get", "install", "-y", "nginx-light"], check=True)
    # Debian starts the service on install; the benchmark runs its own instance only.
    subprocess.run(["service", "nginx", "stop"], check=False)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="kwake-dataplane-"))
    app_port = _free_port()
    app = start_app(app_port)
    rows: list[Row] = []
    extra: dict[str, Any] = {}
    try:
        routes = _routes(workdir, app_port)
        targets: list[Callable[[], Target | None]] = [
            lambda: Target("direct", app_port, HOST, None),
            lambda: start_nginx(workdir, app_port),
        ]
        for spec in args.gateways:
            shape, *options = spec.split("-")
            loop, _, workers = shape.partition("x")
            logged = not args.no_access_log and "nolog" not in options
            access_log = str(workdir / "access.log") if logged else "off"
            targets.append(
                functools.partial(
                    start_gateway,
                    workdir,
                    routes,
                    loop,
                    int(workers or 1),
                    access_log,
                    pure="pure" in options,
                )
            )
        # Rounds interleave the targets, so that drift in what else runs on the machine hits
        # them alike; each figure reported is the median over the rounds.
        for round_number in range(1, args.rounds + 1):
            for make in targets:
                target = make()
                if target is None:
                    if round_number == 1:
                        print("(nginx not found: pass --install-nginx to compare with it)", file=sys.stderr)
                    continue
                try:
                    measured = await measure(target, args.duration, args.rate, args.max_requests)
                finally:
                    _stop(target.process)
                rows += measured
                print(f"round {round_number}:", file=sys.stderr)
                for line in _table(measured):
                    print(line, file=sys.stderr)  # progress, in case a later step fails
                # The app's CPU per request is the same whatever is in front of it; once.
                if target.name == "direct" and round_number == 1:
                    cpu0 = _cpu_seconds([app.pid])
                    result = await closed_loop(app_port, HOST, 50, min(2.0, args.duration), args.max_requests)
                    extra["app_cpu_us_per_request"] = (_cpu_seconds([app.pid]) - cpu0) / result.requests * 1e6
        rows = _medians(rows)
        if args.queued:
            try:
                extra["queued_at_zero"] = await queued_at_zero(workdir, app_port, args.queued)
            except (OSError, RuntimeError) as exc:
                extra["queued_at_zero"] = {"error": repr(exc)}
    finally:
        _stop(app)
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    for line in _table(rows):
        print(line)
    print()
    for line in _summary(rows, args.rate):
        print(line)
    print(f"gateways (but -pure): {native.describe()}")
    extra["gateway_build"] = native.describe()
    for key, value in extra.items():
        shown = (
            json.dumps(value)
            if isinstance(value, dict)
            else value
            if isinstance(value, str)
            else f"{value:.0f}"
        )
        print(f"{key}: {shown}")
    return {"rows": [dataclasses.asdict(r) for r in rows], **extra}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.dataplane", description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per scenario (default 3)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds, medians reported")
    parser.add_argument("--rate", type=float, default=300.0, help="open-loop rate (default 300/s)")
    parser.add_argument("--max-requests", type=int, default=200_000, help="cap per scenario")
    parser.add_argument(
        "--gateways",
        nargs="+",
        default=["asyncio", "uvloop", "uvloopx2", "uvloop-nolog"],
        help="gateway configurations LOOP[xWORKERS][-nolog][-pure] (default: asyncio uvloop uvloopx2"
        " uvloop-nolog; nginx runs with its access log off, a -nolog gateway is its like; -pure"
        " runs the request path's pure-Python modules where the install compiled them)",
    )
    parser.add_argument("--no-access-log", action="store_true", help="run the gateway without access log")
    parser.add_argument("--queued", type=int, default=10_000, help="requests to queue at zero (0 skips)")
    parser.add_argument("--install-nginx", action="store_true", help="apt-get install nginx-light first")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so that the processes this benchmark started are stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if args.install_nginx:
        install_nginx()
    try:
        import uvloop  # noqa: PLC0415 - the generator is cheaper on uvloop when it is there

        results = uvloop.run(run(args))
    except ImportError:
        results = asyncio.run(run(args))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
