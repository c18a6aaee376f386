"""Revision -> Deployment (knative/serving pkg/reconciler/revision/resources/deploy.go).

kwake runs no queue-proxy, so the user container itself carries what Knative splits between the
two: the one serving port (named `user-port`, which localkube rewrites per pod), the env the
runtime contract promises, and the readiness probe (a TCP check on the serving port by default,
probed every second in place of queue-proxy's aggressive probing). `image` and `command` pass
through unchanged: localkube runs `command`, a real cluster pulls `image`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from serving.api import keys
from serving.api.config import Config
from serving.api.durations import DurationError, parse_duration
from serving.api.types import Revision, user_container_index
from serving.reconciler import names
from serving.reconciler.kmeta import owner, spec_hash
from serving.reconciler.revision.resources.meta import make_annotations, make_labels, make_selector

# RevisionSpec fields that are not PodSpec fields.
_REVISION_ONLY = (
    "containerConcurrency",
    "timeoutSeconds",
    "responseStartTimeoutSeconds",
    "idleTimeoutSeconds",
)


def initial_replicas(revision: Revision, cfg: Config) -> int:
    """initial-scale annotation if set (already validated by the webhook), else config-autoscaler's."""
    raw = revision.meta.annotations.get(keys.INITIAL_SCALE_ANNOTATION) or revision.meta.annotations.get(
        "autoscaling.knative.dev/initialScale"
    )
    if raw is not None:
        try:
            return max(0, int(raw))
        except ValueError:
            pass
    return cfg.autoscaler.initial_scale


def progress_deadline_seconds(revision: Revision, cfg: Config) -> int:
    raw = revision.meta.annotations.get(keys.PROGRESS_DEADLINE_ANNOTATION)
    if raw:
        try:
            return int(parse_duration(raw))
        except DurationError:
            pass
    return int(cfg.deployment.progress_deadline_seconds)


def _env(revision: Revision, port: int) -> list[dict[str, str]]:
    return [
        {"name": "PORT", "value": str(port)},
        {"name": "K_REVISION", "value": revision.meta.name},
        {"name": "K_CONFIGURATION", "value": revision.configuration_name},
        {"name": "K_SERVICE", "value": revision.service_name},
    ]


def _point_probe_at_user_port(probe: Mapping[str, Any] | None, *, default_tcp: bool) -> dict[str, Any] | None:
    if probe is None and not default_tcp:
        return None
    out = copy.deepcopy(dict(probe or {}))
    if not any(k in out for k in ("tcpSocket", "httpGet", "exec", "grpc")):
        out["tcpSocket"] = {}
    for handler in ("tcpSocket", "httpGet"):
        if handler in out:
            action = dict(out[handler] or {})
            if not action.get("port"):
                action["port"] = keys.USER_PORT_NAME
            out[handler] = action
    if not out.get("periodSeconds"):
        out["periodSeconds"] = 1
    out.setdefault("successThreshold", 1)
    return out


def _serving_container(revision: Revision, container: Mapping[str, Any]) -> dict[str, Any]:
    port = revision.user_port()
    out = copy.deepcopy(dict(container))
    out["ports"] = [{"name": keys.USER_PORT_NAME, "containerPort": port, "protocol": "TCP"}]
    out["env"] = [*(out.get("env") or []), *_env(revision, port)]
    out["readinessProbe"] = _point_probe_at_user_port(container.get("readinessProbe"), default_tcp=True)
    liveness = _point_probe_at_user_port(container.get("livenessProbe"), default_tcp=False)
    if liveness is not None:
        out["livenessProbe"] = liveness
    out.setdefault("terminationMessagePolicy", "FallbackToLogsOnError")
    return out


def make_pod_spec(revision: Revision, cfg: Config) -> dict[str, Any]:
    spec = {k: copy.deepcopy(v) for k, v in revision.spec.items() if k not in _REVISION_ONLY}
    containers = list(spec.get("containers") or [])
    if containers:
        i = user_container_index(revision.spec)
        containers[i] = _serving_container(revision, containers[i])
        for j, c in enumerate(containers):
            if j != i:
                containers[j] = {
                    **c,
                    "terminationMessagePolicy": c.get("terminationMessagePolicy") or "FallbackToLogsOnError",
                }
    spec["containers"] = containers
    timeout = revision.timeout_seconds
    spec["terminationGracePeriodSeconds"] = (
        timeout if timeout is not None else cfg.defaults.revision_timeout_seconds
    )
    return spec


def make_deployment(revision: Revision, cfg: Config) -> dict[str, Any]:
    """The Deployment `{rev}-deployment` running a Revision's pods.

    `replicas` is the initial scale; the operator keeps the live value on updates because the
    autoscaler owns it afterwards. The spec-hash annotation covers everything but replicas.
    """
    labels = make_labels(revision)
    annotations = make_annotations(revision)
    spec: dict[str, Any] = {
        "selector": {"matchLabels": make_selector(revision)},
        "progressDeadlineSeconds": progress_deadline_seconds(revision, cfg),
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
        "template": {
            "metadata": {"labels": dict(labels), "annotations": dict(annotations)},
            "spec": make_pod_spec(revision, cfg),
        },
    }
    meta_annotations = {**annotations, keys.SPEC_HASH_ANNOTATION: spec_hash(spec)}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": names.deployment(revision.meta.name),
            "namespace": revision.meta.namespace,
            "labels": labels,
            "annotations": meta_annotations,
            "ownerReferences": owner(keys.SERVING_API_VERSION, keys.REVISION, revision.meta),
        },
        "spec": {"replicas": initial_replicas(revision, cfg), **spec},
    }
