"""Which Revisions of a Configuration to garbage collect (knative/serving pkg/reconciler/gc/gc.go).

A Revision is kept as "active" when it is the Configuration's latestReady, carries
serving.knative.dev/no-gc: "true", or is routed (routingState other than `reserve`). Of the
rest, sorted by last active time (routingStateModified, else creation), stale ones go first
(older than retain-since-create-time and not active within retain-since-last-active-time) while
more than min-non-active-revisions remain; then the oldest beyond max-non-active-revisions.
"""

from __future__ import annotations

from collections.abc import Sequence

from serving.api import keys
from serving.api.config.gc import DISABLED, GCConfig
from serving.api.meta import parse_time
from serving.api.types import Revision


def last_active_time(rev: Revision) -> float:
    stamp = rev.meta.annotations.get(keys.ROUTING_STATE_MODIFIED_ANNOTATION) or rev.meta.creation_timestamp
    try:
        return parse_time(stamp)
    except ValueError:
        return 0.0


def is_active(rev: Revision, latest_ready: str) -> bool:
    if rev.meta.name == latest_ready:
        return True
    if rev.meta.annotations.get(keys.NO_GC_ANNOTATION, "").lower() == "true":
        return True
    return rev.routing_state != keys.ROUTING_STATE_RESERVE


def is_stale(rev: Revision, cfg: GCConfig, now: float) -> bool:
    since_create, since_active = cfg.retain_since_create_time, cfg.retain_since_last_active_time
    if since_create == DISABLED and since_active == DISABLED:
        return False
    try:
        created = parse_time(rev.meta.creation_timestamp)
    except ValueError:
        created = now
    if since_create != DISABLED and now - created < since_create:
        return False
    return not (since_active != DISABLED and now - last_active_time(rev) < since_active)


def select_revisions_to_delete(
    latest_ready: str, revisions: Sequence[Revision], cfg: GCConfig, now: float
) -> list[str]:
    """Names to delete, oldest first; `revisions` are one Configuration's."""
    lo, hi = cfg.min_non_active_revisions, cfg.max_non_active_revisions
    if (
        hi == DISABLED
        and cfg.retain_since_create_time == DISABLED
        and cfg.retain_since_last_active_time == DISABLED
    ):
        return []
    if len(revisions) <= lo:
        return []
    candidates = sorted((r for r in revisions if not is_active(r, latest_ready)), key=last_active_time)
    if len(candidates) <= lo:
        return []
    doomed: list[str] = []
    kept: list[Revision] = []
    for i, rev in enumerate(candidates):
        remaining = len(candidates) - len(doomed)
        if remaining <= lo:
            kept.extend(candidates[i:])
            break
        if is_stale(rev, cfg, now):
            doomed.append(rev.meta.name)
        else:
            kept.append(rev)
    if hi != DISABLED and len(kept) > hi:
        doomed.extend(r.meta.name for r in kept[: len(kept) - hi])
    return doomed
