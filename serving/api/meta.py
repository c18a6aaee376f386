"""Typed views over object metadata, conditions and owner references."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class ObjectMeta:
    name: str = ""
    namespace: str = ""
    uid: str = ""
    generation: int = 0
    generate_name: str = ""
    resource_version: str = ""
    creation_timestamp: str = ""
    deletion_timestamp: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    owner_references: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def from_body(cls, meta: Mapping[str, Any] | None) -> ObjectMeta:
        m = meta or {}
        return cls(
            name=m.get("name") or "",
            namespace=m.get("namespace") or "",
            uid=m.get("uid") or "",
            generation=int(m.get("generation") or 0),
            generate_name=m.get("generateName") or "",
            resource_version=m.get("resourceVersion") or "",
            creation_timestamp=m.get("creationTimestamp") or "",
            deletion_timestamp=m.get("deletionTimestamp") or "",
            labels=dict(m.get("labels") or {}),
            annotations=dict(m.get("annotations") or {}),
            owner_references=tuple(m.get("ownerReferences") or ()),
        )

    def controller(self) -> Mapping[str, Any] | None:
        """The owner reference with controller: true, if any."""
        for ref in self.owner_references:
            if ref.get("controller"):
                return ref
        return None

    def is_controlled_by(self, uid: str) -> bool:
        ctl = self.controller()
        return ctl is not None and ctl.get("uid") == uid


@dataclass(frozen=True)
class Condition:
    type: str
    status: str = "Unknown"
    reason: str = ""
    message: str = ""
    last_transition_time: str = ""
    severity: str = ""

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Condition:
        return cls(
            type=body.get("type", ""),
            status=body.get("status", "Unknown"),
            reason=body.get("reason", ""),
            message=body.get("message", ""),
            last_transition_time=body.get("lastTransitionTime", ""),
            severity=body.get("severity", ""),
        )

    def to_body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "status": self.status}
        if self.severity:
            out["severity"] = self.severity
        if self.last_transition_time:
            out["lastTransitionTime"] = self.last_transition_time
        if self.reason:
            out["reason"] = self.reason
        if self.message:
            out["message"] = self.message
        return out

    @property
    def is_true(self) -> bool:
        return self.status == "True"

    @property
    def is_false(self) -> bool:
        return self.status == "False"

    @property
    def is_unknown(self) -> bool:
        return self.status not in ("True", "False")


def conditions_of(status: Mapping[str, Any] | None) -> tuple[Condition, ...]:
    return tuple(Condition.from_body(c) for c in (status or {}).get("conditions") or ())


def get_condition(status: Mapping[str, Any] | None, type_: str) -> Condition | None:
    for c in conditions_of(status):
        if c.type == type_:
            return c
    return None


def controller_reference(api_version: str, kind: str, meta: ObjectMeta) -> dict[str, Any]:
    """An owner reference that makes `meta`'s object the controller (Knative's NewControllerRef)."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": meta.name,
        "uid": meta.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def format_time(when: float) -> str:
    """RFC 3339 with second precision and a Z, as Kubernetes writes timestamps."""
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> float:
    """Seconds since the epoch for an RFC 3339 timestamp (`Z` or an offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
