"""`kwake kubelet --kubeconfig FILE`: the process kubelet (and its webhook) against any API server.

Against a real kube-apiserver with no nodes, pods bound to this node run as local processes.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from localkube.client import ApiClient, ConfigError, Connection, load_connection
from localkube.kubelet import Kubelet, KubeletConfig
from localkube.kubelet.process import StateDirBusy
from localkube.kubelet.registration import NodeTaken

log = logging.getLogger("localkube.kubelet")


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", type=Path, default=None, help="kubeconfig of the API server")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(".kwake/kubelet"),
        help="where logs, pids and the webhook certificate live (default: .kwake/kubelet)",
    )
    parser.add_argument("--node-name", default="localkube", help="the Node to register (default: localkube)")
    parser.add_argument(
        "--port", type=int, default=0, help="HTTPS port on 127.0.0.1 (default 0: a free port)"
    )
    parser.add_argument(
        "--no-webhook",
        action="store_true",
        help="do not register the port-assigning admission webhook (pods keep their declared ports)",
    )
    parser.add_argument("--log-level", default="INFO")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        connection = load_connection(args.kubeconfig)
    except ConfigError as error:
        print(f"kwake kubelet: {error}", file=sys.stderr)
        return 1
    config = KubeletConfig(
        state_dir=args.state_dir,
        node_name=args.node_name,
        port=args.port,
        register_webhook=not args.no_webhook,
    )
    try:
        return asyncio.run(serve(connection, config))
    except (NodeTaken, StateDirBusy) as error:
        print(f"kwake kubelet: {error}", file=sys.stderr)
        return 1


async def serve(connection: Connection, config: KubeletConfig) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with ApiClient(connection, user_agent="kwake-kubelet") as client:
        await Kubelet(client, config).run(stop)
    return 0
