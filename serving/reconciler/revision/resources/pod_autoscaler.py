"""Revision -> PodAutoscaler (knative/serving pkg/reconciler/revision/resources/pa.go)."""

from __future__ import annotations

from typing import Any

from serving.api import keys
from serving.api.config import Config
from serving.api.types import Revision
from serving.reconciler import names
from serving.reconciler.kmeta import owner, spec_hash
from serving.reconciler.revision.resources.meta import make_annotations, make_labels

REACHABLE = "Reachable"
UNREACHABLE = "Unreachable"
REACHABILITY_UNKNOWN = ""


def reachability(revision: Revision) -> str:
    """Whether a route sends traffic here; a revision that failed is never reachable."""
    if revision.status.is_failed():
        return UNREACHABLE
    state = revision.routing_state
    if state == keys.ROUTING_STATE_ACTIVE:
        return REACHABLE
    if state == keys.ROUTING_STATE_RESERVE:
        return UNREACHABLE
    return REACHABILITY_UNKNOWN


def make_pod_autoscaler(revision: Revision, cfg: Config) -> dict[str, Any]:
    annotations = make_annotations(revision)
    annotations.setdefault(keys.CLASS_ANNOTATION, cfg.autoscaler.pod_autoscaler_class)
    annotations.setdefault(keys.METRIC_ANNOTATION, keys.METRIC_CONCURRENCY)
    spec = {
        "scaleTargetRef": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": names.deployment(revision.meta.name),
        },
        "protocolType": revision.protocol(),
        "reachability": reachability(revision),
        "containerConcurrency": revision.container_concurrency,
    }
    return {
        "apiVersion": keys.AUTOSCALING_INTERNAL_API_VERSION,
        "kind": keys.POD_AUTOSCALER,
        "metadata": {
            "name": names.pod_autoscaler(revision.meta.name),
            "namespace": revision.meta.namespace,
            "labels": make_labels(revision),
            "annotations": {
                **annotations,
                keys.SPEC_HASH_ANNOTATION: spec_hash({"spec": spec, "annotations": annotations}),
            },
            "ownerReferences": owner(keys.SERVING_API_VERSION, keys.REVISION, revision.meta),
        },
        "spec": spec,
    }
