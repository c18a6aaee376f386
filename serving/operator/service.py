"""Reconcile a Service: its Configuration and Route (same name, owned), and its status from both.

Source of the behaviour: knative/serving pkg/reconciler/service/service.go.
"""

from __future__ import annotations

from typing import Any

from localkube.client import ApiError
from localkube.client.resources import Resource
from serving.api.defaults import default_service
from serving.api.lifecycle import service as lifecycle
from serving.api.meta import get_condition
from serving.api.types import Service
from serving.operator.children import Ensured, ensure
from serving.operator.context import OperatorContext
from serving.operator.resources import CONFIGURATIONS, KSERVICES, ROUTES
from serving.reconciler.service.resources.configuration import make_configuration
from serving.reconciler.service.resources.route import make_route


async def reconcile(ctx: OperatorContext, namespace: str, name: str) -> float | None:
    body = await ctx.client.get_or_none(KSERVICES, name, namespace)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return None
    # Defaults again, in case the object was stored while the webhook was not there.
    svc = Service.from_body(default_service(body, ctx.config.current))
    now = ctx.clock()
    status = lifecycle.initialize(body.get("status"), now)

    config = await _ensure_or_refused(ctx, CONFIGURATIONS, make_configuration(svc), svc.meta.uid)
    if isinstance(config, ApiError):
        status = lifecycle.mark_configuration_creation_failed(status, config.message, now)
        await ctx.event(
            body, "CreationFailed", f"Failed to create Configuration {name!r}: {config.message}", "Warning"
        )
    elif not config.owned:
        status = lifecycle.mark_configuration_not_owned(status, name, now)
        await ctx.event(
            body,
            "InternalError",
            f'There is an existing Configuration "{name}" that we do not own.',
            "Warning",
        )
    else:
        if config.created:
            await ctx.event(body, "Created", f'Created Configuration "{name}"')
        status = _propagate(
            status,
            config.live,
            lifecycle.propagate_configuration_status,
            lifecycle.mark_configuration_not_reconciled,
            now,
        )

    route = await _ensure_or_refused(ctx, ROUTES, make_route(svc), svc.meta.uid)
    if isinstance(route, ApiError):
        status = lifecycle.mark_route_creation_failed(status, route.message, now)
        await ctx.event(
            body, "CreationFailed", f"Failed to create Route {name!r}: {route.message}", "Warning"
        )
    elif not route.owned:
        status = lifecycle.mark_route_not_owned(status, name, now)
        await ctx.event(
            body, "InternalError", f'There is an existing Route "{name}" that we do not own.', "Warning"
        )
    else:
        if route.created:
            await ctx.event(body, "Created", f'Created Route "{name}"')
        status = _propagate(
            status, route.live, lifecycle.propagate_route_status, lifecycle.mark_route_not_reconciled, now
        )
        if _traffic_not_migrated(svc, status):
            status = lifecycle.mark_route_not_yet_ready(status, now)

    status["observedGeneration"] = svc.meta.generation
    await ctx.write_status(KSERVICES, body, status)
    return None


async def _ensure_or_refused(
    ctx: OperatorContext, resource: Resource, desired: dict[str, Any], owner_uid: str
) -> Ensured | ApiError:
    """ensure(), with a refusal by the API (admission, validation) returned rather than raised:
    retrying cannot help until the user changes the Service, so it belongs in its status."""
    try:
        return await ensure(ctx.client, resource, desired, owner_uid)
    except ApiError as e:
        if e.status in (400, 403, 422):
            return e
        raise


def _propagate(
    status: dict[str, Any], child: dict[str, Any], propagate: Any, not_reconciled: Any, now: float
) -> dict[str, Any]:
    child_status = child.get("status") or {}
    generation = int(child["metadata"].get("generation") or 0)
    if int(child_status.get("observedGeneration") or 0) != generation:
        out: dict[str, Any] = not_reconciled(status, now)
        return out
    result: dict[str, Any] = propagate(status, child_status, now)
    return result


def _traffic_not_migrated(svc: Service, status: dict[str, Any]) -> bool:
    """Route is ready but a latestRevision target still points at an older Revision."""
    ready = get_condition(status, lifecycle.ROUTES_READY)
    latest = status.get("latestReadyRevisionName")
    if ready is None or not ready.is_true or not latest:
        return False
    wants_latest = any(t.latest_revision for t in svc.traffic)
    served = [t for t in status.get("traffic") or [] if t.get("latestRevision")]
    return wants_latest and any(t.get("revisionName") != latest for t in served)
