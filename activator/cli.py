"""`kwake gateway`: run the gateway (ingress + activator).

    kwake gateway --port 8080 --admin-port 9090 --static-routes routes.yaml
    kwake gateway --port 8080 --admin-port 9090 [--kubeconfig F] --autoscaler-url http://...

With `--static-routes` (a YAML or JSON file of KIngress, Endpoints and Revision objects, re-read
when it changes) it needs no cluster. Watching a cluster arrives with the shared Kubernetes
client; until then the cluster mode says so and exits.

`--workers N` starts N processes on the same ports (SO_REUSEPORT); each is one gateway replica
for capacity splitting (replica i of N), and worker i serves its admin app on admin-port + i.

In a cluster, `--pod-ip` (default: the POD_IP environment variable, set by the downward API in
deploy/) makes the replicas find each other in the Endpoints of `--peers-endpoints` (default
kwake-system/kwake-gateway-admin), as Knative's activators do: each takes its index from its own
IP there, and index 0 writes KIngress status once every listed replica serves a generation.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from activator import native
from activator.access_lines import ThreadedLineWriter
from activator.app import build_app, http_sink_factory
from activator.cluster import ClusterRoutingSource, PeerPolicy
from activator.config import DEFAULT_QUEUE_DEPTH, GatewayConfig
from activator.peers import EndpointsPeers, StaticPeers
from activator.server import GatewayServer
from activator.source import FileRoutingSource, RoutingSource
from activator.subsetting import ReplicaSlot
from localkube.client import ApiClient, ConfigError, Connection, load_connection

log = logging.getLogger("kwake.gateway")

DEFAULT_PEERS_ENDPOINTS = "kwake-system/kwake-gateway-admin"
# A worker that ran this long before dying is restarted at once; sooner, with a back-off.
_WORKER_HEALTHY_S = 30.0


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    parser.add_argument("--port", type=int, default=8080, help="data port (default 8080)")
    parser.add_argument("--admin-port", type=int, default=None, help="metrics and readiness port")
    parser.add_argument("--kubeconfig", default=None, help="cluster to watch (default: KUBECONFIG)")
    parser.add_argument("--autoscaler-url", default=None, help="where stats and pokes go")
    parser.add_argument("--static-routes", type=Path, default=None, help="KIngress/Endpoints file")
    parser.add_argument("--gateway-id", default=None, help="name in stats (default: host-pid)")
    parser.add_argument("--queue-depth", type=int, default=DEFAULT_QUEUE_DEPTH)
    parser.add_argument("--drain-timeout", type=float, default=30.0, help="seconds (default 30)")
    parser.add_argument("--drain-quiet", type=float, default=0.0, help="not-ready seconds first")
    parser.add_argument("--workers", type=int, default=1, help="processes sharing the ports")
    parser.add_argument("--access-log", default="-", help="'-' for stdout, a file, or 'off'")
    parser.add_argument(
        "--loop",
        choices=("auto", "asyncio", "uvloop"),
        default="auto",
        help="event loop: auto (default: uvloop when installed), asyncio or uvloop",
    )
    parser.add_argument(
        "--pod-ip",
        default=os.environ.get("POD_IP") or None,
        help="this replica's IP in --peers-endpoints (default: $POD_IP)",
    )
    parser.add_argument(
        "--peers-endpoints",
        default=DEFAULT_PEERS_ENDPOINTS,
        help="NAMESPACE/NAME of the Endpoints listing the gateway replicas",
    )
    parser.add_argument("--worker-index", type=int, default=None, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    connection: Connection | None = None
    if args.static_routes is None:
        try:
            connection = load_connection(args.kubeconfig)
        except ConfigError as exc:
            print(f"kwake gateway: {exc}; pass --kubeconfig FILE or --static-routes FILE", file=sys.stderr)
            return 2
    if args.workers > 1 and args.worker_index is None:
        return _supervise(args)
    index = args.worker_index or 0
    config = GatewayConfig(
        gateway_id=args.gateway_id or f"{os.uname().nodename}-{os.getpid()}",
        queue_depth=args.queue_depth,
        drain_timeout_s=args.drain_timeout,
        drain_quiet_s=args.drain_quiet,
    )
    lines = _access_log(args.access_log)
    try:
        serve = _serve(args, config, ReplicaSlot(index, args.workers), lines, connection)
        if _use_uvloop(args.loop):
            import uvloop  # noqa: PLC0415 - optional (the `fast` extra)

            uvloop.run(serve)
        else:
            asyncio.run(serve)
    finally:
        if lines is not None:
            lines.close()
    return 0


async def _serve(
    args: argparse.Namespace,
    config: GatewayConfig,
    slot: ReplicaSlot,
    lines: ThreadedLineWriter | None,
    connection: Connection | None,
) -> None:
    client: ApiClient | None = None
    source: RoutingSource
    if connection is None:
        source = FileRoutingSource(args.static_routes, slot)
    else:
        client = ApiClient(connection, user_agent="kwake-gateway")
        source = ClusterRoutingSource(client, config.ingress_class, _peer_policy(args, slot))
    sink_factory = http_sink_factory(args.autoscaler_url) if args.autoscaler_url else None
    app = build_app(config, source, sink_factory=sink_factory, access_log=lines)
    admin_port = None if args.admin_port is None else args.admin_port + slot.index
    server = GatewayServer(
        app, host=args.host, port=args.port, admin_port=admin_port, reuse_port=args.workers > 1
    )
    await server.start()
    log.info(
        "gateway %s listening on %s:%d (replica %s; %s)",
        config.gateway_id,
        args.host,
        server.port,
        slot,
        native.describe(),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("draining")
    await server.drain()
    if client is not None:
        await client.close()


def _use_uvloop(choice: str) -> bool:
    if choice != "auto":
        return choice == "uvloop"
    return importlib.util.find_spec("uvloop") is not None


def _peer_policy(args: argparse.Namespace, slot: ReplicaSlot) -> PeerPolicy:
    """Peers from the gateway's Endpoints when this replica knows its IP, else this host's workers."""
    if args.pod_ip:
        namespace, _, name = str(args.peers_endpoints).rpartition("/")
        return EndpointsPeers(
            namespace or "kwake-system", name, args.pod_ip, worker=slot.index, workers=slot.count
        )
    return StaticPeers(slot.index, slot.count, args.admin_port)


def _access_log(target: str) -> ThreadedLineWriter | None:
    """One JSON line per request to stdout or a file, written by a thread; None when off."""
    if target == "off":
        return None
    if target == "-":
        return ThreadedLineWriter(sys.stdout)
    return ThreadedLineWriter(open(target, "a", encoding="utf-8"), close_stream=True)


def _supervise(args: argparse.Namespace) -> int:
    """One process per worker, each a gateway replica on the shared ports. A worker that dies is
    started again (at once after a healthy run, then backing off to 10 s, as gunicorn does), so
    the replica count the others split capacity by stays true; SIGTERM/SIGINT go to every worker
    and the parent exits once they all have."""
    stopping = False
    children: dict[int, subprocess.Popen[bytes]] = {}
    started: dict[int, float] = {}
    failures: dict[int, int] = {}
    restart_at: dict[int, float] = {}

    def start(index: int) -> None:
        children[index] = subprocess.Popen(
            [sys.executable, "-m", "activator.cli", *_worker_argv(args, index)]
        )
        started[index] = time.monotonic()

    def forward(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for index in range(args.workers):
        start(index)
    while not stopping:
        now = time.monotonic()
        for index, child in children.items():
            if index in restart_at or child.poll() is None:
                continue
            healthy = now - started[index] >= _WORKER_HEALTHY_S
            failures[index] = 0 if healthy else failures.get(index, 0) + 1
            delay = 0.0 if failures[index] == 0 else min(10.0, 0.5 * 2 ** (failures[index] - 1))
            log.warning(
                "worker %d exited with %s; starting it again in %.1f s", index, child.returncode, delay
            )
            restart_at[index] = now + delay
        for index, when in list(restart_at.items()):
            if when <= now and not stopping:
                del restart_at[index]
                start(index)
        time.sleep(0.1)
    return max(child.wait() for child in children.values())


def _worker_argv(args: argparse.Namespace, index: int) -> list[str]:
    argv = [
        f"--host={args.host}",
        f"--port={args.port}",
        f"--queue-depth={args.queue_depth}",
        f"--drain-timeout={args.drain_timeout}",
        f"--drain-quiet={args.drain_quiet}",
        f"--workers={args.workers}",
        f"--access-log={args.access_log}",
        f"--loop={args.loop}",
        f"--worker-index={index}",
    ]
    for flag, value in (
        ("--static-routes", args.static_routes),
        ("--admin-port", args.admin_port),
        ("--kubeconfig", args.kubeconfig),
        ("--autoscaler-url", args.autoscaler_url),
        ("--gateway-id", f"{args.gateway_id}-{index}" if args.gateway_id else None),
        ("--pod-ip", args.pod_ip),
        ("--peers-endpoints", args.peers_endpoints),
    ):
        if value is not None:
            argv.append(f"{flag}={value}")
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kwake gateway", description=__doc__)
    register(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
