"""`kwake localkube`: the embedded control plane in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from pathlib import Path

from localkube.client import ApiClient, load_connection
from localkube.controllers import run_controllers
from localkube.kubelet import run_kubelet
from localkube.server.runner import ApiServer, StateDirBusy

log = logging.getLogger("localkube")


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(".kwake"),
        help="where objects, logs and the kubeconfig live (default: .kwake)",
    )
    parser.add_argument("--api-port", type=int, default=0, help="port on 127.0.0.1 (default 0: a free port)")
    parser.add_argument(
        "--insecure-http",
        action="store_true",
        help="serve plain HTTP with no bearer token (any local user can then drive the API)",
    )
    parser.add_argument("--log-level", default="INFO")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return asyncio.run(serve(args.state_dir, args.api_port, secure=not args.insecure_http))
    except StateDirBusy as exc:
        print(f"kwake localkube: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"kwake localkube: cannot serve on 127.0.0.1:{args.api_port}: {exc.strerror or exc}. "
            f"Choose another --api-port (0 picks a free one).",
            file=sys.stderr,
        )
        return 1


async def serve(state_dir: Path, port: int, *, secure: bool = True) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = ApiServer(state_dir=state_dir, port=port, secure=secure)
    await server.start()
    # The store keeps every object in memory: long-lived dicts that the cyclic GC would otherwise
    # rescan on every full collection (tens of ms at 10,000 objects, a stall for every watcher).
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    print(f"localkube serving on {server.url}; kubeconfig: {server.kubeconfig}", flush=True)
    client = ApiClient(load_connection(server.kubeconfig, environ={}), user_agent="localkube-controllers")
    controllers = asyncio.create_task(run_controllers(client, stop), name="localkube-controllers")
    kubelet = asyncio.create_task(run_kubelet(client, state_dir / "kubelet", stop), name="localkube-kubelet")
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        stop.set()
        await asyncio.gather(controllers, kubelet, return_exceptions=True)
        await client.close()
        await server.stop()
    return 0
