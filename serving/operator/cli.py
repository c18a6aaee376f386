"""`kwake operator`: run the serving operator against any cluster (kubeconfig or in-cluster)."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from serving.operator.runner import ServiceRef, WebhookOptions, run_operator


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        default=None,
        help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)",
    )
    parser.add_argument("--no-webhooks", action="store_true", help="do not serve admission webhooks")
    parser.add_argument("--webhook-addr", default="127.0.0.1", help="address the admission server listens on")
    parser.add_argument(
        "--webhook-port", type=int, default=None, help="admission server port (default: any free one)"
    )
    parser.add_argument(
        "--webhook-host", default=None, help="host name the API server uses to reach the admission server"
    )
    parser.add_argument(
        "--webhook-cert", type=Path, default=None, help="TLS certificate for the admission server"
    )
    parser.add_argument(
        "--webhook-key", type=Path, default=None, help="TLS private key for the admission server"
    )
    parser.add_argument(
        "--webhook-service",
        type=_service_ref,
        default=None,
        metavar="NAMESPACE/NAME[:PORT]",
        help="register the webhooks by this Service (in-cluster; always TLS, self-signed without"
        " --webhook-cert) instead of by URL; PORT defaults to --webhook-port",
    )
    parser.add_argument(
        "--system-namespace", default="kwake-system", help="namespace holding the config-* ConfigMaps"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def _service_ref(text: str) -> ServiceRef:
    try:
        return ServiceRef.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        # kopf logs every handler call on every watch event at INFO; that is noise here, and
        # formatting it costs a noticeable share of the operator's CPU under load.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # one line per admission call
    webhook = None
    if not args.no_webhooks:
        webhook = WebhookOptions(
            addr=args.webhook_addr,
            port=args.webhook_port,
            host=args.webhook_host,
            certfile=args.webhook_cert,
            pkeyfile=args.webhook_key,
            service=args.webhook_service,
        )
    try:
        asyncio.run(run_operator(args.kubeconfig, webhook=webhook, system_namespace=args.system_namespace))
    except KeyboardInterrupt:
        return 130
    return 0
