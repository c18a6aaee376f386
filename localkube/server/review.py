"""What an admission step is asked about: one write, as kube-apiserver describes it to webhooks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from localkube.server.resources import ResourceType


@dataclass(frozen=True)
class AdmissionRequest:
    operation: str  # CREATE | UPDATE | DELETE
    rt: ResourceType
    subresource: str | None
    namespace: str
    name: str
    obj: dict[str, Any] | None  # the object as it would be stored (None for DELETE)
    old: dict[str, Any] | None  # the stored object (None for CREATE)
    dry_run: bool
