"""Frozen typed views over serving.knative.dev/v1 objects, built with `from_body()`.

The views type the fields kwake reads; the pod spec stays a raw mapping (`spec`) so builders
pass every field the user set through unchanged, `image` and `command` alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from serving.api import keys
from serving.api.meta import Condition, ObjectMeta, get_condition


@dataclass(frozen=True)
class TrafficTarget:
    tag: str = ""
    revision_name: str = ""
    configuration_name: str = ""
    latest_revision: bool | None = None
    percent: int | None = None
    url: str = ""

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> TrafficTarget:
        lr = body.get("latestRevision")
        pct = body.get("percent")
        return cls(
            tag=body.get("tag") or "",
            revision_name=body.get("revisionName") or "",
            configuration_name=body.get("configurationName") or "",
            latest_revision=None if lr is None else bool(lr),
            percent=None if pct is None else int(pct),
            url=body.get("url") or "",
        )

    def to_body(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.tag:
            out["tag"] = self.tag
        if self.revision_name:
            out["revisionName"] = self.revision_name
        if self.configuration_name:
            out["configurationName"] = self.configuration_name
        if self.latest_revision is not None:
            out["latestRevision"] = self.latest_revision
        if self.percent is not None:
            out["percent"] = self.percent
        if self.url:
            out["url"] = self.url
        return out


def traffic_of(items: Sequence[Mapping[str, Any]] | None) -> tuple[TrafficTarget, ...]:
    return tuple(TrafficTarget.from_body(t) for t in items or ())


@dataclass(frozen=True)
class Status:
    """The duck-typed status every Knative kind has, with the raw body for kind-specific fields."""

    observed_generation: int = 0
    raw: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_body(cls, body: Mapping[str, Any] | None) -> Status:
        b = body or {}
        return cls(observed_generation=int(b.get("observedGeneration") or 0), raw=dict(b))

    def condition(self, type_: str) -> Condition | None:
        return get_condition(self.raw, type_)

    def is_ready(self) -> bool:
        c = self.condition("Ready")
        return c is not None and c.is_true

    def is_failed(self) -> bool:
        c = self.condition("Ready")
        return c is not None and c.is_false


@dataclass(frozen=True)
class RevisionTemplate:
    meta: ObjectMeta
    spec: Mapping[str, Any]

    @classmethod
    def from_body(cls, body: Mapping[str, Any] | None) -> RevisionTemplate:
        b = body or {}
        return cls(meta=ObjectMeta.from_body(b.get("metadata")), spec=dict(b.get("spec") or {}))


@dataclass(frozen=True)
class Service:
    meta: ObjectMeta
    template: RevisionTemplate
    traffic: tuple[TrafficTarget, ...]
    status: Status
    raw_spec: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Service:
        spec = body.get("spec") or {}
        return cls(
            meta=ObjectMeta.from_body(body.get("metadata")),
            template=RevisionTemplate.from_body(spec.get("template")),
            traffic=traffic_of(spec.get("traffic")),
            status=Status.from_body(body.get("status")),
            raw_spec=dict(spec),
        )


@dataclass(frozen=True)
class Configuration:
    meta: ObjectMeta
    template: RevisionTemplate
    status: Status
    raw_spec: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Configuration:
        spec = body.get("spec") or {}
        return cls(
            meta=ObjectMeta.from_body(body.get("metadata")),
            template=RevisionTemplate.from_body(spec.get("template")),
            status=Status.from_body(body.get("status")),
            raw_spec=dict(spec),
        )

    @property
    def latest_created_revision_name(self) -> str:
        return str(self.status.raw.get("latestCreatedRevisionName") or "")

    @property
    def latest_ready_revision_name(self) -> str:
        return str(self.status.raw.get("latestReadyRevisionName") or "")


@dataclass(frozen=True)
class Route:
    meta: ObjectMeta
    traffic: tuple[TrafficTarget, ...]
    status: Status

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Route:
        spec = body.get("spec") or {}
        return cls(
            meta=ObjectMeta.from_body(body.get("metadata")),
            traffic=traffic_of(spec.get("traffic")),
            status=Status.from_body(body.get("status")),
        )

    @property
    def is_cluster_local(self) -> bool:
        return self.meta.labels.get(keys.VISIBILITY_LABEL) == keys.VISIBILITY_CLUSTER_LOCAL


@dataclass(frozen=True)
class Revision:
    meta: ObjectMeta
    spec: Mapping[str, Any]
    status: Status

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Revision:
        return cls(
            meta=ObjectMeta.from_body(body.get("metadata")),
            spec=dict(body.get("spec") or {}),
            status=Status.from_body(body.get("status")),
        )

    @property
    def container_concurrency(self) -> int:
        return int(self.spec.get("containerConcurrency") or 0)

    @property
    def timeout_seconds(self) -> int | None:
        t = self.spec.get("timeoutSeconds")
        return None if t is None else int(t)

    @property
    def configuration_name(self) -> str:
        return self.meta.labels.get(keys.CONFIGURATION_LABEL, "")

    @property
    def service_name(self) -> str:
        return self.meta.labels.get(keys.SERVICE_LABEL, "")

    @property
    def routing_state(self) -> str:
        return self.meta.labels.get(keys.ROUTING_STATE_LABEL, "")

    def user_container(self) -> Mapping[str, Any]:
        return user_container(self.spec)

    def user_port(self) -> int:
        return user_port(self.spec)

    def protocol(self) -> str:
        return protocol(self.spec)


def containers_of(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(spec.get("containers") or [])


def user_container_index(spec: Mapping[str, Any]) -> int:
    """The serving container: the only one, or the one declaring a port (Knative's rule)."""
    containers = containers_of(spec)
    if len(containers) <= 1:
        return 0
    for i, c in enumerate(containers):
        if c.get("ports"):
            return i
    return 0


def user_container(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    containers = containers_of(spec)
    return containers[user_container_index(spec)] if containers else {}


def user_port(spec: Mapping[str, Any]) -> int:
    ports = user_container(spec).get("ports") or []
    if ports and ports[0].get("containerPort"):
        return int(ports[0]["containerPort"])
    return keys.DEFAULT_USER_PORT


def protocol(spec: Mapping[str, Any]) -> str:
    """`h2c` when the serving port is named so, else `http1`."""
    ports = user_container(spec).get("ports") or []
    if ports and ports[0].get("name") == keys.PROTOCOL_H2C:
        return keys.PROTOCOL_H2C
    return keys.PROTOCOL_HTTP1
