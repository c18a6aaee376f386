"""Defaulting, as Knative's mutating webhook does it: pure functions returning new bodies.

Source: knative/serving pkg/apis/serving/v1/{service,configuration,route,revision}_defaults.go.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from serving.api import keys
from serving.api.config import Config
from serving.api.kmeta import child_name
from serving.api.types import user_container_index
from serving.api.validation import shape


def default_revision_spec(spec: Mapping[str, Any], cfg: Config) -> dict[str, Any]:
    """Timeouts, containerConcurrency, enableServiceLinks, container names, readiness probe."""
    out = copy.deepcopy(dict(spec))
    d = cfg.defaults
    if out.get("timeoutSeconds") is None:
        out["timeoutSeconds"] = d.revision_timeout_seconds
    timeout = int(out["timeoutSeconds"])
    rst = d.revision_response_start_timeout_seconds
    if out.get("responseStartTimeoutSeconds") is None and rst and 0 < rst < timeout:
        out["responseStartTimeoutSeconds"] = rst
    idle = d.revision_idle_timeout_seconds
    if out.get("idleTimeoutSeconds") is None and idle and 0 < idle < timeout:
        out["idleTimeoutSeconds"] = idle
    if out.get("containerConcurrency") is None:
        out["containerConcurrency"] = d.container_concurrency
    if out.get("enableServiceLinks") is None and d.enable_service_links is not None:
        out["enableServiceLinks"] = d.enable_service_links
    containers = [dict(c) for c in out.get("containers") or []]
    _name_containers(containers, d.user_container_name)
    if containers:
        i = user_container_index(out)
        containers[i] = _default_readiness_probe(containers[i])
    if "containers" in out or containers:
        out["containers"] = containers
    if out.get("initContainers"):
        inits = [dict(c) for c in out["initContainers"]]
        _name_containers(inits, d.init_container_name)
        out["initContainers"] = inits
    return out


def _name_containers(containers: list[dict[str, Any]], default_name: str) -> None:
    taken = {c.get("name") for c in containers if c.get("name")}
    suffix = 0
    for c in containers:
        if c.get("name"):
            continue
        name = default_name
        if len(containers) > 1 or name in taken:
            while True:
                name = child_name(default_name, f"-{suffix}")
                suffix += 1
                if name not in taken:
                    break
        c["name"] = name
        taken.add(name)


def _default_readiness_probe(container: dict[str, Any]) -> dict[str, Any]:
    probe = dict(container.get("readinessProbe") or {})
    if not any(k in probe for k in ("tcpSocket", "httpGet", "exec", "grpc")):
        probe["tcpSocket"] = {"port": 0}
    if not probe.get("successThreshold"):
        probe["successThreshold"] = 1
    if probe.get("periodSeconds"):
        # Knative applies Kubernetes' probe defaults once a period is set (0 is its own probing).
        for field, value in (("failureThreshold", 3), ("timeoutSeconds", 1)):
            if not probe.get(field):
                probe[field] = value
    container["readinessProbe"] = probe
    return container


def default_template(template: Mapping[str, Any] | None, cfg: Config) -> dict[str, Any]:
    out = copy.deepcopy(dict(template or {}))
    out["spec"] = default_revision_spec(out.get("spec") or {}, cfg)
    return out


def default_traffic(traffic: list[Any] | None, in_service: bool) -> list[dict[str, Any]]:
    """A Service (or a Route with an implied configuration) with no traffic gets 100% latest."""
    targets = [dict(t) for t in traffic or []]
    if not targets and in_service:
        return [{"latestRevision": True, "percent": 100}]
    for t in targets:
        if t.get("latestRevision") is None:
            t["latestRevision"] = not t.get("revisionName")
    return targets


def default_service(body: Mapping[str, Any], cfg: Config) -> dict[str, Any]:
    out = copy.deepcopy(dict(body))
    spec = dict(out.get("spec") or {})
    spec["template"] = default_template(spec.get("template"), cfg)
    spec["traffic"] = default_traffic(spec.get("traffic"), in_service=True)
    out["spec"] = spec
    return out


def default_configuration(body: Mapping[str, Any], cfg: Config) -> dict[str, Any]:
    out = copy.deepcopy(dict(body))
    spec = dict(out.get("spec") or {})
    spec["template"] = default_template(spec.get("template"), cfg)
    out["spec"] = spec
    return out


def default_route(body: Mapping[str, Any], cfg: Config) -> dict[str, Any]:
    del cfg  # no ConfigMap setting affects Route defaults; kept for a uniform signature
    out = copy.deepcopy(dict(body))
    spec = dict(out.get("spec") or {})
    spec["traffic"] = default_traffic(spec.get("traffic"), in_service=False)
    out["spec"] = spec
    return out


def default_revision(body: Mapping[str, Any], cfg: Config) -> dict[str, Any]:
    out = copy.deepcopy(dict(body))
    out["spec"] = default_revision_spec(out.get("spec") or {}, cfg)
    return out


def set_user_info(body: Mapping[str, Any], old: Mapping[str, Any] | None, user: str) -> dict[str, Any]:
    """creator on create, lastModifier when the spec changes (Knative's SetUserInfo)."""
    out = copy.deepcopy(dict(body))
    if not isinstance(out.get("metadata") or {}, Mapping) or not isinstance(
        (out.get("metadata") or {}).get("annotations") or {}, Mapping
    ):
        return out  # the wrong shape: validation refuses it with its path
    meta = dict(out.get("metadata") or {})
    ann = dict(meta.get("annotations") or {})
    if old is None:
        ann[keys.CREATOR_ANNOTATION] = user
        ann[keys.LAST_MODIFIER_ANNOTATION] = user
    else:
        old_ann = (old.get("metadata") or {}).get("annotations") or {}
        for key in (keys.CREATOR_ANNOTATION, keys.LAST_MODIFIER_ANNOTATION):
            if key in old_ann:
                ann[key] = old_ann[key]
        if old.get("spec") != out.get("spec"):
            ann[keys.LAST_MODIFIER_ANNOTATION] = user
    meta["annotations"] = ann
    out["metadata"] = meta
    return out


Defaulter = Callable[[Mapping[str, Any], Config], dict[str, Any]]


def _when_well_shaped(defaulter: Defaulter, expected: shape.Shape) -> Defaulter:
    """The admission webhook defaults first and validates after: a body of the wrong shape (an
    env entry that is a string) is passed on as it is, for validation to refuse with its path,
    instead of failing the defaulting with a Python error and no path."""

    def default(body: Mapping[str, Any], cfg: Config) -> dict[str, Any]:
        if shape.shape_errors(body, expected):
            return copy.deepcopy(dict(body))
        return defaulter(body, cfg)

    return default


DEFAULTERS = {
    keys.SERVICE: _when_well_shaped(default_service, shape.SERVICE),
    keys.CONFIGURATION: _when_well_shaped(default_configuration, shape.CONFIGURATION),
    keys.ROUTE: _when_well_shaped(default_route, shape.ROUTE),
    keys.REVISION: _when_well_shaped(default_revision, shape.REVISION),
}
