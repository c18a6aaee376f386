"""Reconcile a Route: resolve its traffic, label the Revisions it routes to, step a gradual
rollout, and keep its KIngress; RoutesReady only once the gateway reports the KIngress ready.

Source of the behaviour: knative/serving pkg/reconciler/route and pkg/reconciler/labeler.
"""

from __future__ import annotations

import contextlib
from typing import Any

from localkube.client import NotFound
from serving.api import keys
from serving.api.defaults import default_route
from serving.api.lifecycle import route as lifecycle
from serving.api.meta import get_condition
from serving.api.types import Configuration, Revision, Route
from serving.operator.children import ensure
from serving.operator.context import OperatorContext
from serving.operator.resources import CONFIGURATIONS, INGRESSES, REVISIONS, ROUTES
from serving.reconciler.labeler.routing_state import routing_state_patch
from serving.reconciler.route import rollout as rollouts
from serving.reconciler.route.resources.ingress import make_ingress, route_status_fields
from serving.reconciler.route.traffic import ResolvedTraffic, TrafficError, resolve_traffic

TLS_NOT_ENABLED = "kwake serves plain HTTP; auto-TLS is not enabled"


async def reconcile(ctx: OperatorContext, namespace: str, name: str) -> float | None:
    body = await ctx.client.get_or_none(ROUTES, name, namespace)
    if body is None or body["metadata"].get("deletionTimestamp"):
        ctx.tracker.track((namespace, name), set())
        return None
    route = Route.from_body(default_route(body, ctx.config.current))
    cfg = ctx.config.current
    now = ctx.clock()
    status: dict[str, Any] = lifecycle.initialize(body.get("status"), now)
    status = lifecycle.mark_tls_not_enabled(status, TLS_NOT_ENABLED, now)

    configs, revisions = await _referenced(ctx, route)
    ctx.tracker.track(
        (namespace, name),
        {(keys.CONFIGURATION, namespace, c) for c in _config_names(route)}
        | {(keys.REVISION, namespace, r) for r in revisions}
        | {(keys.REVISION, namespace, t.revision_name) for t in route.traffic if t.revision_name},
    )
    resolved = resolve_traffic(route.traffic, configs, revisions)
    requeue: float | None = None
    if isinstance(resolved, TrafficError):
        status = resolved.mark(status, now)
        if resolved.is_failure:
            await ctx.event(body, "InternalError", _error_message(status), "Warning")
    else:
        status = lifecycle.mark_traffic_assigned(status, now)
        await _label_revisions(ctx, route, resolved, revisions, configs, now)
        status, requeue, rollout = await _reconcile_ingress(ctx, body, route, resolved, status, now)
        status.update(route_status_fields(route, resolved, cfg, rollout))

    status["observedGeneration"] = route.meta.generation
    await ctx.write_status(ROUTES, body, status)
    return requeue


def _config_names(route: Route) -> set[str]:
    return {t.configuration_name for t in route.traffic if t.configuration_name}


async def _referenced(
    ctx: OperatorContext, route: Route
) -> tuple[dict[str, Configuration], dict[str, Revision]]:
    ns = route.meta.namespace
    configs: dict[str, Configuration] = {}
    for name in sorted(_config_names(route)):
        body = await ctx.client.get_or_none(CONFIGURATIONS, name, ns)
        if body is not None:
            configs[name] = Configuration.from_body(body)
    wanted = {t.revision_name for t in route.traffic if t.revision_name}
    wanted |= {c.latest_ready_revision_name for c in configs.values() if c.latest_ready_revision_name}
    revisions: dict[str, Revision] = {}
    for name in sorted(wanted):
        body = await ctx.client.get_or_none(REVISIONS, name, ns)
        if body is not None:
            revisions[name] = Revision.from_body(body)
    return configs, revisions


def _error_message(status: dict[str, Any]) -> str:
    cond = get_condition(status, lifecycle.ALL_TRAFFIC_ASSIGNED)
    return cond.message if cond else "traffic could not be assigned"


async def _label_revisions(
    ctx: OperatorContext,
    route: Route,
    resolved: ResolvedTraffic,
    revisions: dict[str, Revision],
    configs: dict[str, Configuration],
    now: float,
) -> None:
    """Routed Revisions are `active` and list this Route; ones it left drop it (and go `reserve`)."""
    ns, me = route.meta.namespace, route.meta.name
    # The Revisions this Route may route to or have routed to: those of its Configurations and
    # the ones it names. (Listing per Configuration keeps this cheap with many Services.)
    candidates = dict(revisions)
    for config in sorted(configs):
        listed = await ctx.client.list(REVISIONS, ns, label_selector=f"{keys.CONFIGURATION_LABEL}={config}")
        for item in listed["items"]:
            candidates.setdefault(item["metadata"]["name"], Revision.from_body(item))
    latest_created = {c.latest_created_revision_name for c in configs.values()}
    for rev in candidates.values():
        routes = {r for r in rev.meta.annotations.get(keys.ROUTES_ANNOTATION, "").split(",") if r}
        routed = rev.meta.name in resolved.revisions
        if routed:
            routes.add(me)
        elif me in routes:
            routes.discard(me)
        else:
            continue
        patch = routing_state_patch(rev, routes, latest_created=rev.meta.name in latest_created, now=now)
        if patch is not None:
            with contextlib.suppress(NotFound):
                await ctx.client.patch(REVISIONS, rev.meta.name, patch, ns)


async def _reconcile_ingress(
    ctx: OperatorContext,
    body: dict[str, Any],
    route: Route,
    resolved: ResolvedTraffic,
    status: dict[str, Any],
    now: float,
) -> tuple[dict[str, Any], float | None, rollouts.Rollout | None]:
    cfg = ctx.config.current
    ns, name = route.meta.namespace, route.meta.name
    live = await ctx.client.get_or_none(INGRESSES, name, ns)
    live_annotations = ((live or {}).get("metadata") or {}).get("annotations") or {}
    previous = rollouts.Rollout.from_json(live_annotations.get(keys.ROLLOUT_ANNOTATION))
    goal = rollouts.goal_rollout(resolved)
    duration = rollouts.rollout_duration(route, cfg)
    rollout = rollouts.step(previous, goal, now) if duration > 0 else goal
    if rollout.in_progress and live is not None and _ingress_ready(live) and previous == rollout:
        # The gateway serves the current shares: plan (or keep) the steps.
        rollout = rollouts.observe_ready(rollout, now, duration)
    ingress = await ensure(ctx.client, INGRESSES, make_ingress(route, resolved, cfg, rollout), route.meta.uid)
    if not ingress.owned:
        return lifecycle.mark_not_owned(status, "Ingress", name, now), None, None
    if ingress.created:
        await ctx.event(body, "Created", f'Created Ingress "{name}"')
    if not _ingress_ready(ingress.live):
        status = lifecycle.propagate_ingress_status(status, _current_status(ingress.live), now)
    elif rollout.in_progress:
        status = lifecycle.mark_ingress_rollout_in_progress(status, now)
    else:
        status = lifecycle.propagate_ingress_status(status, ingress.live.get("status"), now)
    next_step = rollout.next_step_time()
    if rollout.in_progress and next_step is None:
        return status, 1.0, rollout  # waiting for the gateway to serve the first 1%
    return status, None if next_step is None else max(0.1, next_step - now), rollout


def _current_status(ingress: dict[str, Any]) -> dict[str, Any] | None:
    """The KIngress status, unless it describes an older generation than the spec we wrote."""
    status = ingress.get("status") or {}
    generation = int(ingress["metadata"].get("generation") or 0)
    observed = status.get("observedGeneration")
    if observed is not None and int(observed) < generation:
        return None
    return status


def _ingress_ready(ingress: dict[str, Any]) -> bool:
    status = _current_status(ingress)
    ready = get_condition(status, "Ready")
    return ready is not None and ready.is_true
