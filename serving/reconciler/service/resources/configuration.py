"""Service -> Configuration (knative/serving pkg/reconciler/service/resources/configuration.go)."""

from __future__ import annotations

import copy
from typing import Any

from serving.api import keys
from serving.api.types import Service
from serving.reconciler import names
from serving.reconciler.kmeta import LAST_APPLIED_ANNOTATION, owner, without


def make_configuration(service: Service) -> dict[str, Any]:
    """The Configuration a Service owns: same name, the Service's template, labels linking back."""
    meta = service.meta
    labels = {**meta.labels, keys.SERVICE_LABEL: meta.name, keys.SERVICE_UID_LABEL: meta.uid}
    annotations = without(meta.annotations, [LAST_APPLIED_ANNOTATION])
    annotations[keys.ROUTES_ANNOTATION] = names.route(meta.name)
    return {
        "apiVersion": keys.SERVING_API_VERSION,
        "kind": keys.CONFIGURATION,
        "metadata": {
            "name": names.configuration(meta.name),
            "namespace": meta.namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": owner(keys.SERVING_API_VERSION, keys.SERVICE, meta),
        },
        "spec": {"template": copy.deepcopy(dict(service.raw_spec.get("template") or {}))},
    }
