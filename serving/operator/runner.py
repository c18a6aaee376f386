"""Run the operator: an API client, the Config from kwake-system, the Controller, and kopf."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import kopf

from localkube.client import ApiClient, EventRecorder, load_connection
from localkube.client.tasks import cancel_and_wait, create_guarded_task
from serving.api.config import SYSTEM_NAMESPACE
from serving.operator.config_holder import ConfigHolder
from serving.operator.context import OperatorContext
from serving.operator.controller import Controller
from serving.operator.handlers import WEBHOOK_CONFIG_NAME, build_registry
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
class WebhookOptions:
    """Where kopf serves admission: plain HTTP on loopback for localkube, TLS files on a cluster."""

    addr: str = "127.0.0.1"
    port: int | None = None
    host: str | None = None
    certfile: Path | None = None
    pkeyfile: Path | None = None

    def server(self) -> NormalizingWebhookServer:
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
        # Stop reconciling before kopf takes the webhook server down, so no reconcile in flight
        # trips over the operator's own admission webhooks while it exits.
        stopper = (
            create_guarded_task(_stop_when_flagged(stop_flag, controller), name="operator-stopper")
            if stop_flag is not None
            else None
        )
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
            if stopper is not None:
                await cancel_and_wait([stopper])


async def _stop_when_flagged(flag: asyncio.Event, controller: Controller) -> None:
    await flag.wait()
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
