"""Revision routing state and routes annotation, from which Routes reference it (route/labeler).

A referenced Revision is `active` and lists its routes in serving.knative.dev/routes. One no
route references any more becomes `reserve` (so the autoscaler may scale it to zero and GC may
collect it). A never-routed `pending` Revision stays pending while it is its Configuration's
latest created one, and becomes `reserve` once superseded.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from serving.api import keys
from serving.api.meta import format_time
from serving.api.types import Revision


def desired_routing_state(rev: Revision, routes: Iterable[str], *, latest_created: bool) -> str:
    if any(True for _ in routes):
        return keys.ROUTING_STATE_ACTIVE
    if rev.routing_state == keys.ROUTING_STATE_PENDING and latest_created:
        return keys.ROUTING_STATE_PENDING
    return keys.ROUTING_STATE_RESERVE


def routing_state_patch(
    rev: Revision, routes: Iterable[str], *, latest_created: bool, now: float
) -> dict[str, Any] | None:
    """A merge patch for the Revision's metadata, or None when it already matches."""
    names = sorted(set(routes))
    state = desired_routing_state(rev, names, latest_created=latest_created)
    routes_value = ",".join(names) or None
    labels: dict[str, Any] = {}
    annotations: dict[str, Any] = {}
    if rev.routing_state != state:
        labels[keys.ROUTING_STATE_LABEL] = state
        annotations[keys.ROUTING_STATE_MODIFIED_ANNOTATION] = format_time(now)
    if rev.meta.annotations.get(keys.ROUTES_ANNOTATION) != routes_value:
        annotations[keys.ROUTES_ANNOTATION] = routes_value
    if not labels and not annotations:
        return None
    meta: dict[str, Any] = {}
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    return {"metadata": meta}
