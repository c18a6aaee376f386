"""`kwake autoscaler`: run the KPA autoscaler's endpoint and decision loop.

Writing decisions to the Kubernetes API (the Deployment scale subresource and PodAutoscaler
status) needs the Kubernetes `ScaleWriter`, which is not written yet; until then the command runs
with `--dry-run`, keeping decisions in memory and logging them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from aiohttp import web
from prometheus_client import CollectorRegistry

from autoscaler.server import build_app
from autoscaler.service import AutoscalerService
from autoscaler.writer import InMemoryScaleWriter

logger = logging.getLogger("kwake.autoscaler")

DEFAULT_PORT = 8080


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or in-cluster)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="decide and log, keep scales in memory instead of writing them to the cluster",
    )


async def serve(args: argparse.Namespace, stop: asyncio.Event) -> None:
    registry = CollectorRegistry()
    service = AutoscalerService(InMemoryScaleWriter(), registry)
    runner = web.AppRunner(build_app(service, registry))
    await runner.setup()
    try:
        site = web.TCPSite(runner, args.host, args.port)
        await site.start()
        logger.info("autoscaler listening on %s:%d (dry run)", args.host, args.port)
        ticker = asyncio.create_task(service.run(stop), name="autoscaler-tick-loop")
        try:
            await stop.wait()
        finally:
            stop.set()
            await ticker
    finally:
        await runner.cleanup()


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.dry_run:
        print(
            "kwake autoscaler: writing scales to the Kubernetes API is not available yet; "
            "run with --dry-run to decide and log only",
            file=sys.stderr,
        )
        return 2

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await serve(args, stop)

    asyncio.run(main())
    return 0
