"""`kwake operator`: run the serving operator against any cluster (kubeconfig or in-cluster).

Leader election (`--leader-elect`, on by default in a pod) lets several replicas run: all watch
and serve the admission webhooks, only the holder of the `kwake-operator` Lease reconciles (see
serving/operator/leadership.py). A replica that loses the Lease exits with status 1 so its
supervisor restarts it as a standby, as controller-runtime's managers do.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from collections.abc import Mapping
from pathlib import Path

from localkube.client import LeaseTimings, cancel_and_wait, create_guarded_task
from localkube.client.config import SERVICE_ACCOUNT_DIR
from serving.operator.leadership import LEASE_NAME, LeaderElection, LeadershipLost
from serving.operator.runner import ServiceRef, WebhookOptions, run_operator

log = logging.getLogger("kwake.operator")


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
    election = parser.add_argument_group("leader election (several replicas, one reconciles)")
    election.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="reconcile only while holding a coordination Lease (default: on in a pod's service"
        " account, off with a kubeconfig)",
    )
    election.add_argument(
        "--leader-elect-resource-name", default=LEASE_NAME, help=f"the Lease's name (default {LEASE_NAME})"
    )
    election.add_argument(
        "--leader-elect-resource-namespace",
        default=None,
        help="the Lease's namespace (default: the operator's own: $POD_NAMESPACE, the service"
        " account's namespace, else --system-namespace)",
    )
    defaults = LeaseTimings()
    election.add_argument(
        "--leader-elect-lease-duration",
        type=float,
        default=defaults.lease_duration,
        metavar="SECONDS",
        help="how long standbys wait after the last renewal they saw (default %(default)s)",
    )
    election.add_argument(
        "--leader-elect-renew-deadline",
        type=float,
        default=defaults.renew_deadline,
        metavar="SECONDS",
        help="how long a leader keeps leading without a successful renewal (default %(default)s)",
    )
    election.add_argument(
        "--leader-elect-retry-period",
        type=float,
        default=defaults.retry_period,
        metavar="SECONDS",
        help="how often candidates try to acquire or renew (default %(default)s)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def _service_ref(text: str) -> ServiceRef:
    try:
        return ServiceRef.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def in_cluster(
    args: argparse.Namespace, environ: Mapping[str, str], service_account_dir: Path = SERVICE_ACCOUNT_DIR
) -> bool:
    """Whether the connection comes from a pod's service account (load_connection's order)."""
    if args.kubeconfig is not None or environ.get("KUBECONFIG"):
        return False
    return bool(environ.get("KUBERNETES_SERVICE_HOST")) and (service_account_dir / "token").exists()


def leader_election(
    args: argparse.Namespace, environ: Mapping[str, str], service_account_dir: Path = SERVICE_ACCOUNT_DIR
) -> LeaderElection | None:
    """The Lease to campaign for, or None when leader election is off."""
    pod = in_cluster(args, environ, service_account_dir)
    if not (args.leader_elect if args.leader_elect is not None else pod):
        return None
    namespace = args.leader_elect_resource_namespace or environ.get("POD_NAMESPACE")
    ns_file = service_account_dir / "namespace"
    if not namespace and pod and ns_file.exists():
        namespace = ns_file.read_text().strip()
    timings = LeaseTimings(
        lease_duration=args.leader_elect_lease_duration,
        renew_deadline=args.leader_elect_renew_deadline,
        retry_period=args.leader_elect_retry_period,
    )
    return LeaderElection(
        namespace=namespace or args.system_namespace, name=args.leader_elect_resource_name, timings=timings
    )


async def _serve(
    args: argparse.Namespace, webhook: WebhookOptions | None, election: LeaderElection | None
) -> None:
    """Run the operator; SIGTERM/SIGINT stop it in kwake's order once kopf is up.

    kopf installs its own SIGINT/SIGTERM handlers as it starts, and on a signal it stops its
    watches first and waits up to 5 s for every task it did not start (our reconcile workers)
    before it returns. Through `stop_flag` instead, the reconcilers stop first and a leader
    releases its Lease at once, so a standby takes over without waiting for kopf to exit.
    """
    stop, ready = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)

    async def take_signals() -> None:
        await ready.wait()  # kopf's handlers are in place by now: ours replace them
        for sig in signals:
            loop.add_signal_handler(sig, stop.set)

    taker = create_guarded_task(take_signals(), "operator-signals", log)
    try:
        await run_operator(
            args.kubeconfig,
            webhook=webhook,
            system_namespace=args.system_namespace,
            leader_election=election,
            stop_flag=stop,
            ready_flag=ready,
        )
    finally:
        await cancel_and_wait([taker])
        for sig in signals:
            loop.remove_signal_handler(sig)


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
        election = leader_election(args, os.environ)
    except ValueError as e:  # timings that do not nest
        log.error("%s", e)
        return 2
    try:
        asyncio.run(_serve(args, webhook, election))
    except KeyboardInterrupt:
        return 130
    except LeadershipLost as e:
        log.error("%s", e)
        return 1
    return 0
