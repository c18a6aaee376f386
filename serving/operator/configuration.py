"""Reconcile a Configuration: one Revision per template generation, latestCreated/latestReady,
routing state of its superseded Revisions, and garbage collection per config-gc.

Source of the behaviour: knative/serving pkg/reconciler/configuration/configuration.go and
pkg/reconciler/gc.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from localkube.client import AlreadyExists, ApiError, NotFound
from serving.api import keys
from serving.api.defaults import default_configuration
from serving.api.lifecycle import configuration as lifecycle
from serving.api.types import Configuration, Revision
from serving.operator.context import OperatorContext
from serving.operator.resources import CONFIGURATIONS, REVISIONS
from serving.reconciler.configuration.resources.revision import make_revision, revision_name_for
from serving.reconciler.gc.collect import select_revisions_to_delete
from serving.reconciler.labeler.routing_state import routing_state_patch

log = logging.getLogger("kwake.operator.configuration")


def _generation(rev: Revision) -> int:
    try:
        return int(rev.meta.labels.get(keys.CONFIGURATION_GENERATION_LABEL, "0"))
    except ValueError:
        return 0


async def reconcile(ctx: OperatorContext, namespace: str, name: str) -> float | None:
    body = await ctx.client.get_or_none(CONFIGURATIONS, name, namespace)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return None
    config = Configuration.from_body(default_configuration(body, ctx.config.current))
    cfg = ctx.config.current
    now = ctx.clock()
    status: dict[str, Any] = lifecycle.initialize(body.get("status"), now)

    listed = await ctx.client.list(REVISIONS, namespace, label_selector=f"{keys.CONFIGURATION_LABEL}={name}")
    ours = [
        Revision.from_body(r)
        for r in listed["items"]
        if Revision.from_body(r).meta.is_controlled_by(config.meta.uid)
    ]
    by_name = {r.meta.name: r for r in ours}

    latest_name = revision_name_for(config)
    latest = by_name.get(latest_name)
    if latest is None:
        try:
            created = await ctx.client.create(REVISIONS, make_revision(config, now), namespace)
        except ApiError as e:
            if not isinstance(e, AlreadyExists) and e.status not in (400, 403, 422):
                raise
            # Refused by the API (an invalid template), or the name belongs to someone else.
            message = e.message
            if isinstance(e, AlreadyExists):
                message = f'revision "{latest_name}" already exists and is not owned by this Configuration'
            status = lifecycle.mark_revision_creation_failed(status, message, now)
            await ctx.event(body, "CreationFailed", f"Failed to create Revision: {message}", "Warning")
            status["observedGeneration"] = config.meta.generation
            await ctx.write_status(CONFIGURATIONS, body, status)
            return None
        latest = Revision.from_body(created)
        ours.append(latest)
        by_name[latest_name] = latest
        await ctx.event(body, "Created", f'Created Revision "{latest_name}"')

    status = lifecycle.set_latest_created_revision_name(status, latest_name, now)
    latest_ready = _latest_ready(ours, latest)
    previous_ready = status.get("latestReadyRevisionName")
    if latest_ready is not None:
        if latest_ready.meta.name != previous_ready:
            await ctx.event(
                body, "LatestReadyUpdate", f"LatestReadyRevisionName updated to {latest_ready.meta.name!r}"
            )
        status = lifecycle.set_latest_ready_revision_name(status, latest_ready.meta.name, now)
    elif previous_ready and previous_ready not in by_name:
        status = lifecycle.mark_latest_ready_deleted(status, now)
    if latest.status.is_failed():
        ready = latest.status.condition("Ready")
        message = ready.message if ready else ""
        status = lifecycle.mark_latest_created_failed(status, latest_name, message, now)

    await _label_superseded(ctx, ours, latest_name, now)
    ready_name = str(status.get("latestReadyRevisionName") or "")
    for doomed in select_revisions_to_delete(ready_name, ours, cfg.gc, now):
        with contextlib.suppress(NotFound):
            await ctx.client.delete(REVISIONS, doomed, namespace)
            await ctx.event(body, "Deleted", f'Deleted stale Revision "{doomed}"')

    status["observedGeneration"] = config.meta.generation
    await ctx.write_status(CONFIGURATIONS, body, status)
    return None


def _latest_ready(revisions: list[Revision], latest: Revision) -> Revision | None:
    """The newest ready Revision no newer than the latest created one (Knative's rule)."""
    limit = _generation(latest)
    candidates = [r for r in revisions if r.status.is_ready() and _generation(r) <= limit]
    return max(candidates, key=_generation, default=None)


async def _label_superseded(ctx: OperatorContext, revisions: list[Revision], latest: str, now: float) -> None:
    """Never-routed Revisions that are no longer the latest go to `reserve` (so they can scale to
    zero and be collected); routed ones are the Route reconciler's business."""
    for rev in revisions:
        if rev.meta.name == latest or rev.routing_state != keys.ROUTING_STATE_PENDING:
            continue
        patch = routing_state_patch(rev, [], latest_created=False, now=now)
        if patch is not None:
            with contextlib.suppress(NotFound):
                await ctx.client.patch(REVISIONS, rev.meta.name, patch, rev.meta.namespace)
