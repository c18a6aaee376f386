"""Resolve a Route's traffic block to concrete revisions (route/traffic/traffic.go).

`resolve_traffic()` returns either a ResolvedTraffic (targets grouped by tag, ready to build a
KIngress and status.traffic from) or the TrafficError the Route's AllTrafficAssigned condition
should show. A `configurationName` target follows the Configuration's latestReadyRevisionName.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from serving.api import keys
from serving.api.lifecycle import route as route_lifecycle
from serving.api.types import Configuration, Revision, TrafficTarget

DEFAULT_TARGET = ""


@dataclass(frozen=True)
class RevisionTarget:
    revision_name: str
    percent: int
    tag: str = ""
    configuration_name: str = ""
    latest_revision: bool = False
    protocol: str = keys.PROTOCOL_HTTP1

    def status_body(self, url: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.tag:
            out["tag"] = self.tag
        out["revisionName"] = self.revision_name
        out["latestRevision"] = self.latest_revision
        out["percent"] = self.percent
        if url:
            out["url"] = url
        return out


@dataclass(frozen=True)
class ResolvedTraffic:
    # "" is the route's own host; each tag has its own group, routed 100% to its target.
    targets: Mapping[str, tuple[RevisionTarget, ...]] = field(default_factory=dict)
    # One entry per spec target, in spec order, for status.traffic.
    revision_targets: tuple[RevisionTarget, ...] = ()
    configurations: tuple[str, ...] = ()
    revisions: tuple[str, ...] = ()

    def tags(self) -> list[str]:
        return sorted(t for t in self.targets if t != DEFAULT_TARGET)

    def status_traffic(self, tag_urls: Mapping[str, str]) -> list[dict[str, Any]]:
        return [t.status_body(tag_urls.get(t.tag, "")) for t in self.revision_targets]


ErrorKind = Literal["missing", "config_not_ready", "config_failed", "revision_not_ready", "revision_failed"]


@dataclass(frozen=True)
class TrafficError:
    kind: ErrorKind
    target_kind: str  # "Configuration" or "Revision"
    name: str

    @property
    def is_failure(self) -> bool:
        """Terminal until the user changes something (Knative's IsFailure)."""
        return self.kind in ("missing", "config_failed", "revision_failed")

    def mark(self, status: Mapping[str, Any] | None, now: float) -> dict[str, Any]:
        """Apply the matching AllTrafficAssigned transition to a Route status."""
        if self.kind == "missing":
            return route_lifecycle.mark_missing_traffic_target(status, self.target_kind, self.name, now)
        if self.kind == "config_not_ready":
            return route_lifecycle.mark_configuration_not_ready(status, self.name, now)
        if self.kind == "config_failed":
            return route_lifecycle.mark_configuration_failed(status, self.name, now)
        if self.kind == "revision_not_ready":
            return route_lifecycle.mark_revision_not_ready(status, self.name, now)
        return route_lifecycle.mark_revision_failed(status, self.name, now)


def resolve_traffic(
    traffic: Sequence[TrafficTarget],
    configurations: Mapping[str, Configuration],
    revisions: Mapping[str, Revision],
) -> ResolvedTraffic | TrafficError:
    resolved: list[RevisionTarget] = []
    first_error: TrafficError | None = None
    configs: list[str] = []
    revs: list[str] = []
    for t in traffic:
        result = _resolve_one(t, configurations, revisions)
        if isinstance(result, TrafficError):
            # Missing targets are reported before merely unready ones, as Knative does.
            if first_error is None or (result.kind == "missing" and first_error.kind != "missing"):
                first_error = result
            continue
        resolved.append(result)
        if t.configuration_name and t.configuration_name not in configs:
            configs.append(t.configuration_name)
        if result.revision_name not in revs:
            revs.append(result.revision_name)
    if first_error is not None:
        return first_error
    groups: dict[str, list[RevisionTarget]] = {DEFAULT_TARGET: []}
    for rt in resolved:
        groups[DEFAULT_TARGET].append(rt)
        if rt.tag:
            groups.setdefault(rt.tag, []).append(replace(rt, percent=100))
    return ResolvedTraffic(
        targets={tag: _consolidate(ts) for tag, ts in groups.items()},
        revision_targets=tuple(resolved),
        configurations=tuple(configs),
        revisions=tuple(revs),
    )


def _resolve_one(
    t: TrafficTarget, configurations: Mapping[str, Configuration], revisions: Mapping[str, Revision]
) -> RevisionTarget | TrafficError:
    pct = t.percent or 0
    if t.configuration_name:
        config = configurations.get(t.configuration_name)
        if config is None:
            return TrafficError("missing", keys.CONFIGURATION, t.configuration_name)
        latest = config.latest_ready_revision_name
        if not latest:
            kind: ErrorKind = "config_failed" if config.status.is_failed() else "config_not_ready"
            return TrafficError(kind, keys.CONFIGURATION, t.configuration_name)
        rev = revisions.get(latest)
        if rev is None:
            return TrafficError("missing", keys.REVISION, latest)
        return RevisionTarget(latest, pct, t.tag, t.configuration_name, True, rev.protocol())
    rev = revisions.get(t.revision_name)
    if rev is None:
        return TrafficError("missing", keys.REVISION, t.revision_name)
    if not rev.status.is_ready():
        kind = "revision_failed" if rev.status.is_failed() else "revision_not_ready"
        return TrafficError(kind, keys.REVISION, t.revision_name)
    return RevisionTarget(t.revision_name, pct, t.tag, rev.configuration_name, False, rev.protocol())


def _consolidate(targets: list[RevisionTarget]) -> tuple[RevisionTarget, ...]:
    """Merge targets naming the same revision; a lone target takes 100%."""
    by_name: dict[str, RevisionTarget] = {}
    for t in targets:
        cur = by_name.get(t.revision_name)
        by_name[t.revision_name] = t if cur is None else replace(cur, percent=cur.percent + t.percent)
    out = list(by_name.values())
    if len(out) == 1:
        out[0] = replace(out[0], percent=100)
    return tuple(out)
