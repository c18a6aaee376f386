"""Where decisions go: the seam between the autoscaler and the Kubernetes API.

The service writes two things per revision: the Deployment's replicas (scale subresource) and
the PodAutoscaler's status, which it alone owns. `ScaleWriter` is that seam:
`autoscaler.kube.KubeScaleWriter` writes to the Kubernetes API, `InMemoryScaleWriter` keeps the
writes in memory (for `kwake autoscaler --dry-run` and for tests).
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any, Protocol


class TargetGone(Exception):
    """The Deployment or PodAutoscaler no longer exists; the revision should be forgotten."""


def rfc3339(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


@dataclasses.dataclass(frozen=True)
class Condition:
    type: str
    status: str  # "True", "False", "Unknown"
    reason: str = ""
    message: str = ""
    last_transition_time: float = 0.0

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "status": self.status,
            "lastTransitionTime": rfc3339(self.last_transition_time),
        }
        if self.reason:
            body["reason"] = self.reason
        if self.message:
            body["message"] = self.message
        return body


@dataclasses.dataclass(frozen=True)
class PodAutoscalerStatus:
    """The part of a PodAutoscaler's status the autoscaler writes (Knative field names)."""

    desired_scale: int  # -1 while unknown, as Knative writes it
    actual_scale: int
    active: Condition
    scale_target_initialized: Condition
    observed_generation: int | None = None  # the PodAutoscaler generation these figures answer

    @property
    def ready(self) -> Condition:
        """Ready summarises the dependent conditions as Knative's living condition set does."""
        for dependent in (self.active, self.scale_target_initialized):
            if dependent.status == "False":
                return Condition(
                    "Ready", "False", dependent.reason, dependent.message, dependent.last_transition_time
                )
        for dependent in (self.active, self.scale_target_initialized):
            if dependent.status == "Unknown":
                return Condition(
                    "Ready", "Unknown", dependent.reason, dependent.message, dependent.last_transition_time
                )
        since = max(self.active.last_transition_time, self.scale_target_initialized.last_transition_time)
        return Condition("Ready", "True", last_transition_time=since)

    def to_body(self) -> dict[str, Any]:
        """The `status` object for a PATCH of the status subresource."""
        body: dict[str, Any] = {
            "desiredScale": self.desired_scale,
            "actualScale": self.actual_scale,
            "conditions": [
                self.active.to_body(),
                self.ready.to_body(),
                self.scale_target_initialized.to_body(),
            ],
        }
        if self.observed_generation is not None:
            body["observedGeneration"] = self.observed_generation
        return body


class ScaleWriter(Protocol):
    async def set_scale(self, namespace: str, deployment: str, replicas: int) -> None:
        """Set the Deployment's spec.replicas through its scale subresource; TargetGone if absent."""
        ...

    async def write_status(self, namespace: str, name: str, status: PodAutoscalerStatus) -> None:
        """Write the PodAutoscaler's status; TargetGone if the PodAutoscaler is absent."""
        ...


@dataclasses.dataclass
class InMemoryScaleWriter:
    """Keeps every write; `gone` names (namespace, object) that answer TargetGone."""

    scales: dict[tuple[str, str], int] = dataclasses.field(default_factory=dict)
    statuses: dict[tuple[str, str], PodAutoscalerStatus] = dataclasses.field(default_factory=dict)
    scale_writes: list[tuple[str, str, int]] = dataclasses.field(default_factory=list)
    status_writes: int = 0
    gone: set[tuple[str, str]] = dataclasses.field(default_factory=set)

    async def set_scale(self, namespace: str, deployment: str, replicas: int) -> None:
        if (namespace, deployment) in self.gone:
            raise TargetGone(f"deployment {namespace}/{deployment} not found")
        self.scales[(namespace, deployment)] = replicas
        self.scale_writes.append((namespace, deployment, replicas))

    async def write_status(self, namespace: str, name: str, status: PodAutoscalerStatus) -> None:
        if (namespace, name) in self.gone:
            raise TargetGone(f"podautoscaler {namespace}/{name} not found")
        self.statuses[(namespace, name)] = status
        self.status_writes += 1
