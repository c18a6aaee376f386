"""Small helpers over raw Kubernetes objects: copying, timestamps, owner references, generation."""

from __future__ import annotations

import datetime
from typing import Any


def clone(value: Any) -> Any:
    """A deep copy of JSON data, faster than copy.deepcopy for plain dicts and lists."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


def rfc3339(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    m = obj.get("metadata")
    if not isinstance(m, dict):
        m = {}
        obj["metadata"] = m
    return m


def owner_uids(obj: dict[str, Any]) -> list[str]:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return [r.get("uid", "") for r in refs if isinstance(r, dict) and r.get("uid")]


def spec_part(obj: dict[str, Any]) -> dict[str, Any]:
    """Everything generation tracks: the object less metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "kind", "apiVersion")}


def same_ignoring_rv(a: dict[str, Any], b: dict[str, Any]) -> bool:
    ma, mb = dict(a.get("metadata") or {}), dict(b.get("metadata") or {})
    ma.pop("resourceVersion", None)
    mb.pop("resourceVersion", None)
    ma.pop("managedFields", None)
    mb.pop("managedFields", None)
    if ma != mb:
        return False
    rest_a = {k: v for k, v in a.items() if k != "metadata"}
    rest_b = {k: v for k, v in b.items() if k != "metadata"}
    return rest_a == rest_b


def clone_object(obj: dict[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = clone(obj)
    return copied
