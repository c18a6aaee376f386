"""Configuration -> Revision (knative/serving pkg/reconciler/configuration/resources/revision.go)."""

from __future__ import annotations

import copy
from typing import Any

from serving.api import keys
from serving.api.meta import format_time
from serving.api.types import Configuration
from serving.reconciler import names
from serving.reconciler.kmeta import owner


def revision_name_for(configuration: Configuration) -> str:
    """The template's BYO name, else `{config}-{generation:05d}`."""
    return configuration.template.meta.name or names.revision(
        configuration.meta.name, configuration.meta.generation
    )


def make_revision(configuration: Configuration, now: float) -> dict[str, Any]:
    """A new Revision from the Configuration's current template, in routing state `pending`."""
    meta = configuration.meta
    template_meta = dict((configuration.raw_spec.get("template") or {}).get("metadata") or {})
    labels = dict(template_meta.get("labels") or {})
    labels.update(
        {
            keys.CONFIGURATION_LABEL: meta.name,
            keys.SERVICE_LABEL: meta.labels.get(keys.SERVICE_LABEL, ""),
            keys.CONFIGURATION_GENERATION_LABEL: str(meta.generation),
            keys.CONFIGURATION_UID_LABEL: meta.uid,
            keys.SERVICE_UID_LABEL: meta.labels.get(keys.SERVICE_UID_LABEL, ""),
            keys.ROUTING_STATE_LABEL: keys.ROUTING_STATE_PENDING,
        }
    )
    annotations = dict(template_meta.get("annotations") or {})
    annotations[keys.ROUTING_STATE_MODIFIED_ANNOTATION] = format_time(now)
    modifier = meta.annotations.get(keys.LAST_MODIFIER_ANNOTATION)
    if modifier:
        annotations[keys.CREATOR_ANNOTATION] = modifier
    routes = meta.annotations.get(keys.ROUTES_ANNOTATION)
    if routes:
        annotations[keys.ROUTES_ANNOTATION] = routes
    return {
        "apiVersion": keys.SERVING_API_VERSION,
        "kind": keys.REVISION,
        "metadata": {
            "name": revision_name_for(configuration),
            "namespace": meta.namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": owner(keys.SERVING_API_VERSION, keys.CONFIGURATION, meta),
        },
        "spec": copy.deepcopy(dict(configuration.template.spec)),
    }
