"""The kopf side: watch handlers that enqueue work, admission webhooks, and the login.

No handler reconciles by itself or writes kopf's bookkeeping into objects: event handlers
only tell the Controller which objects to look at (level-based, see controller.py).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import kopf
import yaml

from serving.api import keys
from serving.operator import admission
from serving.operator.controller import Controller

SERVING = (keys.SERVING_GROUP, "v1")
WEBHOOK_CONFIG_NAME = "serving.kwake.dev"


def connection_info(kubeconfig: Path) -> kopf.ConnectionInfo:
    """kopf credentials from a kubeconfig file's current context."""
    config = yaml.safe_load(kubeconfig.read_text()) or {}
    contexts = {c["name"]: c.get("context") or {} for c in config.get("contexts") or []}
    context = contexts.get(config.get("current-context", ""), {})
    clusters = {c["name"]: c.get("cluster") or {} for c in config.get("clusters") or []}
    users = {u["name"]: u.get("user") or {} for u in config.get("users") or []}
    cluster = clusters.get(context.get("cluster", ""), next(iter(clusters.values()), {}))
    user = users.get(context.get("user", ""), next(iter(users.values()), {}))
    ca = cluster.get("certificate-authority-data")
    return kopf.ConnectionInfo(
        server=cluster["server"],
        ca_data=base64.b64decode(ca) if ca else None,
        ca_path=cluster.get("certificate-authority"),
        insecure=bool(cluster.get("insecure-skip-tls-verify")) or None,
        token=user.get("token"),
        scheme="Bearer" if user.get("token") else None,
        certificate_data=base64.b64decode(user["client-certificate-data"])
        if user.get("client-certificate-data")
        else None,
        private_key_data=base64.b64decode(user["client-key-data"]) if user.get("client-key-data") else None,
        default_namespace=context.get("namespace"),
    )


def _b64(value: str | None) -> bytes | None:
    return base64.b64decode(value) if value else None


def _ns_name(body: Any) -> tuple[str, str]:
    meta = body.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def build_registry(
    controller: Controller, *, kubeconfig: Path | None, webhooks: bool
) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    tracker = controller.ctx.tracker
    holder = controller.ctx.config

    if kubeconfig is not None:

        @kopf.on.login(registry=registry)
        def login(**_: Any) -> kopf.ConnectionInfo:
            return connection_info(kubeconfig)

    else:

        @kopf.on.login(registry=registry)
        def login_default(**kwargs: Any) -> kopf.ConnectionInfo | None:
            return kopf.login_via_client(**kwargs) or kopf.login_with_kubeconfig(**kwargs)

    def routes_for(kind: str, ns: str, name: str) -> None:
        for rns, rname in tracker.routes_for((kind, ns, name)):
            controller.enqueue(keys.ROUTE, rns, rname)

    @kopf.on.event(*SERVING, "services", registry=registry)
    def on_service(event: Any, body: Any, **_: Any) -> None:
        ns, name = _ns_name(body)
        if event.get("type") == "DELETED":
            controller.forget(keys.SERVICE, ns, name)
            return
        controller.enqueue(keys.SERVICE, ns, name)

    @kopf.on.event(*SERVING, "configurations", registry=registry)
    def on_configuration(event: Any, body: Any, **_: Any) -> None:
        ns, name = _ns_name(body)
        if event.get("type") == "DELETED":
            controller.forget(keys.CONFIGURATION, ns, name)
        else:
            controller.enqueue(keys.CONFIGURATION, ns, name)
        svc = (body.get("metadata", {}).get("labels") or {}).get(keys.SERVICE_LABEL)
        if svc:
            controller.enqueue(keys.SERVICE, ns, svc)
        routes_for(keys.CONFIGURATION, ns, name)

    @kopf.on.event(*SERVING, "revisions", registry=registry)
    def on_revision(event: Any, body: Any, **_: Any) -> None:
        ns, name = _ns_name(body)
        if event.get("type") == "DELETED":
            controller.forget(keys.REVISION, ns, name)
        else:
            controller.enqueue(keys.REVISION, ns, name)
        config = (body.get("metadata", {}).get("labels") or {}).get(keys.CONFIGURATION_LABEL)
        if config:
            controller.enqueue(keys.CONFIGURATION, ns, config)
        routes_for(keys.REVISION, ns, name)

    @kopf.on.event(*SERVING, "routes", registry=registry)
    def on_route(event: Any, body: Any, **_: Any) -> None:
        ns, name = _ns_name(body)
        if event.get("type") == "DELETED":
            controller.forget(keys.ROUTE, ns, name)
            tracker.track((ns, name), set())
        else:
            controller.enqueue(keys.ROUTE, ns, name)
        svc = (body.get("metadata", {}).get("labels") or {}).get(keys.SERVICE_LABEL)
        if svc:
            controller.enqueue(keys.SERVICE, ns, svc)

    def to_revision(body: Any, **_: Any) -> None:
        ns, _name = _ns_name(body)
        rev = (body.get("metadata", {}).get("labels") or {}).get(keys.REVISION_LABEL)
        if rev:
            controller.enqueue(keys.REVISION, ns, rev)

    revision_labelled = {keys.REVISION_LABEL: kopf.PRESENT}
    kopf.on.event("apps", "v1", "deployments", labels=revision_labelled, registry=registry)(to_revision)
    kopf.on.event("", "v1", "pods", labels=revision_labelled, registry=registry)(to_revision)
    kopf.on.event(
        keys.AUTOSCALING_INTERNAL_GROUP,
        "v1alpha1",
        "podautoscalers",
        labels=revision_labelled,
        registry=registry,
    )(to_revision)

    @kopf.on.event(
        keys.NETWORKING_INTERNAL_GROUP,
        "v1alpha1",
        "ingresses",
        labels={keys.ROUTE_LABEL: kopf.PRESENT},
        registry=registry,
    )
    def on_ingress(body: Any, **_: Any) -> None:
        ns, _name = _ns_name(body)
        route = (body.get("metadata", {}).get("labels") or {}).get(keys.ROUTE_LABEL)
        if route:
            controller.enqueue(keys.ROUTE, ns, route)

    @kopf.on.event("", "v1", "configmaps", registry=registry)
    def on_configmap(event: Any, body: Any, **_: Any) -> None:
        ns, name = _ns_name(body)
        if not holder.watches(ns, name):
            return
        data = None if event.get("type") == "DELETED" else (body.get("data") or {})
        if holder.update(name, data):
            controller.resync()

    if webhooks:
        _register_webhooks(registry, controller)
    return registry


def _register_webhooks(registry: kopf.OperatorRegistry, controller: Controller) -> None:
    holder = controller.ctx.config

    def mutate(**kwargs: Any) -> None:
        body, old, patch = kwargs["body"], kwargs.get("old"), kwargs["patch"]
        user = str((kwargs.get("userinfo") or {}).get("username") or "")
        new = admission.mutate(kwargs["param"], dict(body), dict(old) if old else None, user, holder.current)
        if new.get("spec") != body.get("spec"):
            patch["spec"] = new.get("spec")
        annotations = (new.get("metadata") or {}).get("annotations") or {}
        current = (body.get("metadata") or {}).get("annotations") or {}
        changed = {k: v for k, v in annotations.items() if current.get(k) != v}
        if changed:
            patch.setdefault("metadata", {}).setdefault("annotations", {}).update(changed)

    def validate(**kwargs: Any) -> None:
        old = kwargs.get("old")
        try:
            admission.validate(
                kwargs["param"], dict(kwargs["body"]), dict(old) if old else None, holder.current
            )
        except admission.Refused as e:
            raise kopf.AdmissionError(str(e), code=400) from None

    operations: list[Any] = ["CREATE", "UPDATE"]
    for kind, plural in (
        (keys.SERVICE, "services"),
        (keys.CONFIGURATION, "configurations"),
        (keys.ROUTE, "routes"),
        (keys.REVISION, "revisions"),
    ):
        kopf.on.mutate(
            *SERVING, plural, id=f"default-{plural}", param=kind, operations=operations, registry=registry
        )(mutate)
        kopf.on.validate(
            *SERVING, plural, id=f"validate-{plural}", param=kind, operations=operations, registry=registry
        )(validate)
