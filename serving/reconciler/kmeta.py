"""Metadata helpers shared by the builders: owner references, filtered maps, the spec hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from serving.api.meta import ObjectMeta, controller_reference

LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"


def owner(api_version: str, kind: str, meta: ObjectMeta) -> list[dict[str, Any]]:
    return [controller_reference(api_version, kind, meta)]


def without(m: Mapping[str, str], drop: Iterable[str]) -> dict[str, str]:
    dropped = set(drop)
    return {k: v for k, v in m.items() if k not in dropped}


def spec_hash(spec: Mapping[str, Any]) -> str:
    """A stable digest of a desired spec, stored on the child to detect drift cheaply."""
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
