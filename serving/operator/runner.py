"""Run the operator: an API client, the Config from kwake-system, the Controller, and kopf."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

import kopf

from localkube.client import ApiClient, EventRecorder, load_connection
from serving.api.config import SYSTEM_NAMESPACE
from serving.operator.config_holder import ConfigHolder
from serving.operator.context import OperatorContext
from serving.operator.controller import Controller
from serving.operator.handlers import WEBHOOK_CONFIG_NAME, build_registry
from serving.operator.resources import CONFIGMAPS

log = logging.getLogger("kwake.operator")


@dataclass(frozen=True)
class WebhookOptions:
    """Where kopf serves admission: plain HTTP on loopback for localkube, TLS files on a cluster."""

    addr: str = "127.0.0.1"
    port: int | None = None
    host: str | None = None
    certfile: Path | None = None
    pkeyfile: Path | None = None

    def server(self) -> kopf.WebhookServer:
        insecure = self.certfile is None
        return kopf.WebhookServer(
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
) -> None:
    """Run until `stop_flag` is set (or the task is cancelled)."""
    connection = load_connection(str(kubeconfig) if kubeconfig else None)
    async with ApiClient(connection, user_agent="kwake-operator") as client:
        holder = ConfigHolder(system_namespace)
        ctx = OperatorContext(client, holder, EventRecorder(client, "kwake-operator"))
        await _load_config(ctx)
        controller = Controller(ctx)
        registry = build_registry(controller, kubeconfig=kubeconfig, webhooks=webhook is not None)
        await controller.start()
        try:
            await kopf.operator(
                registry=registry,
                settings=settings(webhook),
                clusterwide=True,
                standalone=True,
                stop_flag=stop_flag,
                ready_flag=ready_flag,
            )
        finally:
            await controller.stop()


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
