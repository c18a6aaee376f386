"""Run the operator: an API client, the Config from kwake-system, the Controller, and kopf."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import logging
import urllib.parse
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import kopf
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from localkube.client import ApiClient, EventRecorder, load_connection
from localkube.client.tasks import cancel_and_wait, create_guarded_task
from serving.api.config import SYSTEM_NAMESPACE
from serving.operator.config_holder import ConfigHolder
from serving.operator.context import OperatorContext
from serving.operator.controller import Controller
from serving.operator.handlers import WEBHOOK_CONFIG_NAME, build_registry
from serving.operator.leadership import LeaderElection, Leadership, LeadershipLost
from serving.operator.resources import CONFIGMAPS

log = logging.getLogger("kwake.operator")


class NormalizingWebhookServer(kopf.WebhookServer):
    """kopf's server, made tolerant of API servers that send `subResource: ""`.

    kube-apiserver omits an empty subResource; kopf then matches handlers registered for the
    main resource only when the field is absent. Dropping the empty value first lets the
    handlers match on any API server.
    """

    def __call__(self, fn: kopf.WebhookFn) -> AsyncIterator[kopf.WebhookClientConfig]:
        async def normalized(request: Any, **kwargs: Any) -> Any:
            payload = dict(request.get("request") or {})
            if payload.get("subResource") == "":
                del payload["subResource"]
            return await fn(cast(Any, {**request, "request": payload}), **kwargs)

        return super().__call__(normalized)


@dataclass(frozen=True)
class ServiceRef:
    """The in-cluster Service that fronts the admission server: `NAMESPACE/NAME[:PORT]`."""

    namespace: str
    name: str
    port: int | None = None  # None: the port the admission server listens on

    @classmethod
    def parse(cls, text: str) -> ServiceRef:
        ref, _, port = text.partition(":")
        namespace, _, name = ref.partition("/")
        if not namespace or not name or "/" in name:
            raise ValueError(f"expected NAMESPACE/NAME[:PORT], got {text!r}")
        if not port:
            return cls(namespace, name)
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"bad port in {text!r}")
        return cls(namespace, name, int(port))

    @property
    def dns_name(self) -> str:
        """The name kube-apiserver checks the serving certificate against."""
        return f"{self.name}.{self.namespace}.svc"


class ServiceWebhookServer(NormalizingWebhookServer):
    """kopf's server, registered by Service reference instead of URL.

    kube-apiserver resolves a webhook URL's host with its own resolver, which on most clusters
    knows nothing of `*.svc` names; a `service` client config is resolved by the API server
    itself (Service -> endpoints). kopf appends each handler's id to `service.path`.
    """

    def __init__(self, service: ServiceRef, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service = service

    async def __call__(self, fn: kopf.WebhookFn) -> AsyncIterator[kopf.WebhookClientConfig]:
        async for config in super().__call__(fn):
            yield service_client_config(config, self.service)

    @staticmethod
    def build_certificate(hostnames: Collection[str], password: str | None = None) -> tuple[bytes, bytes]:
        """A self-signed certificate for `hostnames`, made with `cryptography`.

        kopf's own generator needs `certbuilder`, which kwake does not install; kopf calls this
        when no certificate files are given and puts the certificate in `caBundle`.
        """
        return self_signed_certificate(hostnames, datetime.datetime.now(datetime.UTC), password)


def service_client_config(config: kopf.WebhookClientConfig, service: ServiceRef) -> kopf.WebhookClientConfig:
    """Turn the URL kopf built for its listening socket into a Service reference."""
    url = urllib.parse.urlsplit(config.get("url") or "")
    port = service.port or url.port
    ref: dict[str, Any] = {"namespace": service.namespace, "name": service.name, "path": url.path}
    if port is not None:
        ref["port"] = port
    out = kopf.WebhookClientConfig(service=cast(Any, ref))
    if config.get("caBundle"):
        out["caBundle"] = config["caBundle"]
    return out


def self_signed_certificate(
    hostnames: Collection[str], now: datetime.datetime, password: str | None = None
) -> tuple[bytes, bytes]:
    """PEM certificate and key, valid for a year, naming every host (DNS or IP) as a SAN."""
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(h for h in hostnames if h):
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            names.append(x509.DNSName(host))
        else:
            if not ip.is_unspecified:
                names.append(x509.IPAddress(ip))
    dns = [n.value for n in names if isinstance(n, x509.DNSName)]
    common = str(dns[0] if dns else names[0].value if names else "kwake-operator")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    )
    pkey = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    return cert.public_bytes(serialization.Encoding.PEM), pkey


@dataclass(frozen=True)
class WebhookOptions:
    """Where kopf serves admission.

    Local mode (no `service`): plain HTTP on loopback, registered by URL, unless TLS files are
    given. Cluster mode (`service`): always TLS (the given files, else a self-signed certificate
    for the Service's DNS name), registered by Service reference.
    """

    addr: str = "127.0.0.1"
    port: int | None = None
    host: str | None = None
    certfile: Path | None = None
    pkeyfile: Path | None = None
    service: ServiceRef | None = None

    def server(self) -> NormalizingWebhookServer:
        if self.service is not None:
            return ServiceWebhookServer(
                self.service,
                addr=self.addr,
                port=self.port,
                host=self.host or self.service.dns_name,
                certfile=self.certfile,
                pkeyfile=self.pkeyfile,
            )
        insecure = self.certfile is None
        return NormalizingWebhookServer(
            addr=self.addr,
            port=self.port,
            host=self.host or self.addr,
            insecure=insecure,
            certfile=self.certfile,
            pkeyfile=self.pkeyfile,
        )


def settings(webhook: WebhookOptions | None) -> kopf.OperatorSettings:
    s = kopf.OperatorSettings()
    s.posting.enabled = False  # the reconcilers post their own, meaningful Events
    # kopf's own peering (KopfPeering objects) is off: replicas elect a leader on a plain
    # coordination Lease (serving.operator.leadership), which needs only standard RBAC on one
    # Lease instead of a kopf CRD, and is the same mechanism the autoscaler uses.
    s.peering.standalone = True
    s.watching.server_timeout = 300
    s.networking.request_timeout = 60
    if webhook is not None:
        s.admission.server = webhook.server()
        s.admission.managed = WEBHOOK_CONFIG_NAME
    return s


async def run_operator(
    kubeconfig: Path | None = None,
    *,
    webhook: WebhookOptions | None = None,
    stop_flag: asyncio.Event | None = None,
    ready_flag: asyncio.Event | None = None,
    system_namespace: str = SYSTEM_NAMESPACE,
    leader_election: LeaderElection | None = None,
) -> None:
    """Run until `stop_flag` is set (or the task is cancelled).

    With `leader_election`, kopf watches and serves webhooks at once but the reconcilers run
    only while this replica holds the Lease; losing it raises `LeadershipLost` once kopf stopped.
    """
    connection = load_connection(str(kubeconfig) if kubeconfig else None)
    async with ApiClient(connection, user_agent="kwake-operator") as client:
        holder = ConfigHolder(system_namespace)
        ctx = OperatorContext(client, holder, EventRecorder(client, "kwake-operator"))
        await _load_config(ctx)
        controller = Controller(ctx)
        registry = build_registry(controller, kubeconfig=kubeconfig, webhooks=webhook is not None)
        leadership = Leadership(client, controller, leader_election) if leader_election else None
        kopf_stop = asyncio.Event()  # the caller's stop_flag, or a lost Lease
        if leadership is None:
            await controller.start()
        else:
            leadership.start(on_lost=kopf_stop)
        # Stop reconciling before kopf takes the webhook server down, so no reconcile in flight
        # trips over the operator's own admission webhooks while it exits.
        stopper = (
            create_guarded_task(
                _stop_when_flagged(stop_flag, controller, leadership, kopf_stop), name="operator-stopper"
            )
            if stop_flag is not None
            else None
        )
        try:
            await kopf.operator(
                registry=registry,
                settings=settings(webhook),
                clusterwide=True,
                standalone=True,  # no KopfPeering: see settings()
                stop_flag=kopf_stop,
                ready_flag=ready_flag,
            )
        finally:
            if leadership is not None:
                await leadership.stop()  # workers, then the Lease released
            await controller.stop()
            if stopper is not None:
                await cancel_and_wait([stopper])
        if leadership is not None and leadership.lost:
            raise LeadershipLost("lost the leader Lease; exit and start again as a standby")


async def _stop_when_flagged(
    flag: asyncio.Event, controller: Controller, leadership: Leadership | None, kopf_stop: asyncio.Event
) -> None:
    await flag.wait()
    try:
        if leadership is not None:
            await leadership.stop()
        await controller.stop()
    finally:
        kopf_stop.set()  # whatever happened above, kopf must still stop


async def _load_config(ctx: OperatorContext) -> None:
    """Read the ConfigMaps once before the first reconcile (the watch keeps them current)."""
    try:
        listed = await ctx.client.list(CONFIGMAPS, ctx.config.namespace)
    except Exception as e:  # the namespace may not exist yet: defaults apply until it does
        log.warning("could not read ConfigMaps in %s: %s", ctx.config.namespace, e)
        return
    for cm in listed["items"]:
        name = cm["metadata"]["name"]
        if ctx.config.watches(ctx.config.namespace, name):
            ctx.config.update(name, cm.get("data") or {})
