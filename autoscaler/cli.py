"""`kwake autoscaler`: run the KPA autoscaler's endpoint and decision loop against a cluster.

    kwake autoscaler --kubeconfig F [--host 127.0.0.1] [--port 8080]

Connects with `--kubeconfig`, else $KUBECONFIG / ~/.kube/config, else the in-cluster service
account; watches PodAutoscalers, their Deployments and the system ConfigMaps; serves gateway
stats, pokes and metrics; ticks every 2 s; writes the Deployments' scale and the PodAutoscalers'
status. With `--dry-run` nothing is written (decisions stay in memory and are logged); without a
`--kubeconfig` a dry run does not touch any cluster. With several replicas one leads (the
`kwake-autoscaler` Lease) and writes; the others forward the gateways' messages to it.
SIGINT/SIGTERM stop it cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry

from autoscaler.cluster import ClusterWatcher
from autoscaler.forward import LeaderForwarder
from autoscaler.kube import KubeScaleWriter
from autoscaler.leader import LeaderElector, default_identity
from autoscaler.server import build_app
from autoscaler.service import AutoscalerService
from autoscaler.writer import InMemoryScaleWriter, ScaleWriter
from localkube.client import ApiClient, cancel_and_wait, create_guarded_task, load_connection
from localkube.client import ConfigError as ConnectionConfigError
from serving.api.config import SYSTEM_NAMESPACE

logger = logging.getLogger("kwake.autoscaler")

DEFAULT_PORT = 8080
SHUTDOWN_SECONDS = 5.0


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or in-cluster)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument(
        "--system-namespace",
        default=SYSTEM_NAMESPACE,
        help="namespace of config-autoscaler, config-deployment and the leader Lease "
        f"(default {SYSTEM_NAMESPACE})",
    )
    parser.add_argument(
        "--no-leader-elect",
        dest="leader_elect",
        action="store_false",
        help="write without holding the kwake-autoscaler Lease (only when a single replica runs)",
    )
    parser.add_argument(
        "--advertise-url",
        default=None,
        help="where the other replicas reach this one when it leads (default: http://$POD_IP:PORT, "
        "else the --host address or this host's address)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="decide and log, keep scales in memory instead of writing them to the cluster",
    )


async def _serve_http(
    service: AutoscalerService,
    registry: CollectorRegistry,
    args: argparse.Namespace,
    forwarder: LeaderForwarder | None = None,
) -> web.AppRunner:
    # Requests in flight get a few seconds to finish on stop (a pod has 30 s in all).
    runner = web.AppRunner(build_app(service, registry, forwarder), shutdown_timeout=SHUTDOWN_SECONDS)
    await runner.setup()
    try:
        await web.TCPSite(runner, args.host, args.port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


def advertise_url(args: argparse.Namespace, port: int) -> str:
    if args.advertise_url:
        return str(args.advertise_url)
    address = os.environ.get("POD_IP") or args.host
    if address in ("", "0.0.0.0", "::"):
        address = socket.gethostbyname(socket.gethostname())
    if ":" in address:
        address = f"[{address}]"
    return f"http://{address}:{port}"


async def serve(args: argparse.Namespace, stop: asyncio.Event) -> None:
    """Serve until `stop` is set; then every task is cancelled and awaited, the session closed."""
    registry = CollectorRegistry()
    if args.dry_run and not args.kubeconfig:
        service = AutoscalerService(InMemoryScaleWriter(), registry)
        runner = await _serve_http(service, registry, args)
        logger.info("autoscaler listening on %s:%d (dry run, no cluster)", args.host, args.port)
        try:
            await service.run(stop)
        finally:
            await runner.cleanup()
        return

    connection = load_connection(args.kubeconfig)
    async with (
        ApiClient(connection, user_agent="kwake-autoscaler") as client,
        aiohttp.ClientSession() as session,
    ):
        writer: ScaleWriter = InMemoryScaleWriter() if args.dry_run else KubeScaleWriter(client)
        service = AutoscalerService(writer, registry)
        watcher = ClusterWatcher(client, service, system_namespace=args.system_namespace)
        elector: LeaderElector | None = None
        forwarder: LeaderForwarder | None = None
        if args.leader_elect and not args.dry_run:
            service.set_leading(False)
            elector = LeaderElector(
                client,
                namespace=args.system_namespace,
                identity=default_identity(),
                on_change=service.set_leading,
            )
            forwarder = LeaderForwarder(session, lambda: elector.leader_url if elector else None)
        runner = await _serve_http(service, registry, args, forwarder)
        port = int(runner.addresses[0][1])
        logger.info(
            "autoscaler listening on %s:%d, cluster %s%s",
            args.host,
            port,
            connection.server,
            " (dry run)" if args.dry_run else "",
        )
        tasks = [create_guarded_task(watcher.start(), "autoscaler-watch-start", logger)]
        if elector is not None:
            elector.url = advertise_url(args, port)
            tasks.append(create_guarded_task(elector.run(), "autoscaler-leader-election", logger))
        ticker = create_guarded_task(service.run(stop), "autoscaler-tick-loop", logger)
        try:
            await stop.wait()
        finally:
            stop.set()
            await cancel_and_wait(tasks)
            await watcher.stop()
            try:
                async with asyncio.timeout(SHUTDOWN_SECONDS):  # a tick's writes in flight
                    await asyncio.shield(ticker)
            except TimeoutError:
                logger.warning("the last tick's writes did not finish in %.0f s", SHUTDOWN_SECONDS)
                await cancel_and_wait([ticker])
            await runner.cleanup()


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await serve(args, stop)

    try:
        asyncio.run(main())
    except ConnectionConfigError as err:
        print(f"kwake autoscaler: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"kwake autoscaler: cannot listen on {args.host}:{args.port}: {err}", file=sys.stderr)
        return 1
    return 0
