"""Configuration conditions: Ready only (knative/serving configuration_lifecycle.go)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from serving.api.conditions import ConditionSet

READY: Final = "Ready"
CONDITIONS: Final = ConditionSet(READY, ())
REASON_REVISION_FAILED: Final = "RevisionFailed"
REASON_REVISION_DELETED: Final = "RevisionDeleted"

Status = Mapping[str, Any] | None


def initialize(status: Status, now: float) -> dict[str, Any]:
    return CONDITIONS.initialize(status, now)


def set_latest_created_revision_name(status: Status, name: str, now: float) -> dict[str, Any]:
    out = dict(status or {})
    out["latestCreatedRevisionName"] = name
    if out.get("latestReadyRevisionName") != name:
        out = CONDITIONS.mark_unknown(out, READY, "", "", now)
    return out


def set_latest_ready_revision_name(status: Status, name: str, now: float) -> dict[str, Any]:
    out = dict(status or {})
    out["latestReadyRevisionName"] = name
    if out.get("latestCreatedRevisionName") == name:
        out = CONDITIONS.mark_true(out, READY, now)
    return out


def mark_latest_created_failed(status: Status, name: str, message: str, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_false(
        status, READY, REASON_REVISION_FAILED, f'Revision "{name}" failed with message: {message}.', now
    )


def mark_revision_creation_failed(status: Status, message: str, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_false(
        status, READY, REASON_REVISION_FAILED, f"Revision creation failed with message: {message}.", now
    )


def mark_latest_ready_deleted(status: Status, now: float) -> dict[str, Any]:
    out = dict(status or {})
    name = out.pop("latestReadyRevisionName", "")
    return CONDITIONS.mark_false(out, READY, REASON_REVISION_DELETED, f'Revision "{name}" was deleted.', now)
