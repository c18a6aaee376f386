"""Service conditions: Ready = ConfigurationsReady + RoutesReady (service_lifecycle.go)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from serving.api.conditions import ConditionSet, get

READY: Final = "Ready"
CONFIGURATIONS_READY: Final = "ConfigurationsReady"
ROUTES_READY: Final = "RoutesReady"
CONDITIONS: Final = ConditionSet(READY, (CONFIGURATIONS_READY, ROUTES_READY))

Status = Mapping[str, Any] | None


def initialize(status: Status, now: float) -> dict[str, Any]:
    return CONDITIONS.initialize(status, now)


def _propagate(status: Status, type_: str, child: Status, now: float) -> dict[str, Any]:
    ready = get(child, READY)
    if ready is None or ready.is_unknown:
        reason = ready.reason if ready else ""
        message = ready.message if ready else ""
        return CONDITIONS.mark_unknown(status, type_, reason, message, now)
    if ready.is_true:
        return CONDITIONS.mark_true(status, type_, now)
    return CONDITIONS.mark_false(status, type_, ready.reason, ready.message, now)


def propagate_configuration_status(status: Status, config_status: Status, now: float) -> dict[str, Any]:
    out = dict(status or {})
    cs = config_status or {}
    for key in ("latestCreatedRevisionName", "latestReadyRevisionName"):
        if cs.get(key):
            out[key] = cs[key]
    return _propagate(out, CONFIGURATIONS_READY, cs, now)


def propagate_route_status(status: Status, route_status: Status, now: float) -> dict[str, Any]:
    out = dict(status or {})
    rs = route_status or {}
    for key in ("url", "address", "traffic"):
        if key in rs:
            out[key] = rs[key]
    return _propagate(out, ROUTES_READY, rs, now)


def mark_configuration_not_owned(status: Status, name: str, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_false(
        status,
        CONFIGURATIONS_READY,
        "NotOwned",
        f'There is an existing Configuration "{name}" that we do not own.',
        now,
    )


def mark_route_not_owned(status: Status, name: str, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_false(
        status, ROUTES_READY, "NotOwned", f'There is an existing Route "{name}" that we do not own.', now
    )


def mark_configuration_not_reconciled(status: Status, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_unknown(
        status,
        CONFIGURATIONS_READY,
        "OutOfDate",
        "The Configuration is still working to reflect the latest desired specification.",
        now,
    )


def mark_route_not_reconciled(status: Status, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_unknown(
        status,
        ROUTES_READY,
        "OutOfDate",
        "The Route is still working to reflect the latest desired specification.",
        now,
    )


def mark_route_not_yet_ready(status: Status, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_unknown(
        status, ROUTES_READY, "TrafficNotMigrated", "Traffic is not yet migrated to the latest revision.", now
    )


def mark_revision_name_taken(status: Status, name: str, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_false(
        status, CONFIGURATIONS_READY, "RevisionNameTaken", f'The revision name "{name}" is taken', now
    )


def mark_configuration_creation_failed(status: Status, message: str, now: float) -> dict[str, Any]:
    """The Configuration could not be written (the API refused it): say why, do not retry blindly."""
    return CONDITIONS.mark_false(
        status,
        CONFIGURATIONS_READY,
        "CreationFailed",
        f"Failed to create or update Configuration: {message}",
        now,
    )


def mark_route_creation_failed(status: Status, message: str, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_false(
        status, ROUTES_READY, "CreationFailed", f"Failed to create or update Route: {message}", now
    )
