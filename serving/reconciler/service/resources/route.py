"""Service -> Route (knative/serving pkg/reconciler/service/resources/route.go)."""

from __future__ import annotations

from typing import Any

from serving.api import keys
from serving.api.types import Service
from serving.reconciler import names
from serving.reconciler.kmeta import LAST_APPLIED_ANNOTATION, owner, without


def make_route(service: Service) -> dict[str, Any]:
    """The Route a Service owns; targets without a revisionName follow the Service's Configuration."""
    meta = service.meta
    traffic = []
    for target in service.traffic:
        body = target.to_body()
        if not target.revision_name:
            body["configurationName"] = names.configuration(meta.name)
        traffic.append(body)
    return {
        "apiVersion": keys.SERVING_API_VERSION,
        "kind": keys.ROUTE,
        "metadata": {
            "name": names.route(meta.name),
            "namespace": meta.namespace,
            "labels": {**meta.labels, keys.SERVICE_LABEL: meta.name, keys.SERVICE_UID_LABEL: meta.uid},
            "annotations": without(meta.annotations, [LAST_APPLIED_ANNOTATION]),
            "ownerReferences": owner(keys.SERVING_API_VERSION, keys.SERVICE, meta),
        },
        "spec": {"traffic": traffic},
    }
