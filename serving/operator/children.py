"""Get, create, refuse or update one child object: the step every reconciler repeats.

A child is ours when its controller owner reference names the parent's uid; anything else is
left alone and reported as not owned. Drift is detected with a hash of the desired spec, labels
and annotations stored on the child, so fields the API server defaults or others own (a
Deployment's replicas, a Service's clusterIP) never cause endless updates.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from localkube.client import AlreadyExists, ApiClient, Conflict, NotFound
from localkube.client.resources import Resource
from serving.api import keys
from serving.api.meta import ObjectMeta
from serving.operator.resources import CONFIGURATIONS, KSERVICES, REVISIONS, ROUTES
from serving.reconciler.kmeta import spec_hash

OWNER_RESOURCES = {
    (keys.SERVING_API_VERSION, keys.SERVICE): KSERVICES,
    (keys.SERVING_API_VERSION, keys.CONFIGURATION): CONFIGURATIONS,
    (keys.SERVING_API_VERSION, keys.ROUTE): ROUTES,
    (keys.SERVING_API_VERSION, keys.REVISION): REVISIONS,
}


@dataclass(frozen=True)
class Ensured:
    live: dict[str, Any]
    owned: bool = True
    created: bool = False
    updated: bool = False


async def _undo_if_orphaned(client: ApiClient, resource: Resource, child: Mapping[str, Any]) -> None:
    """The owner may have been deleted between our read of it and this create; its garbage
    collection has then already run, so remove the new child ourselves rather than leave it."""
    meta = child["metadata"]
    for ref in meta.get("ownerReferences") or []:
        owner_resource = OWNER_RESOURCES.get((ref.get("apiVersion"), ref.get("kind")))
        if owner_resource is None or not ref.get("controller"):
            continue
        owner = await client.get_or_none(owner_resource, ref["name"], meta["namespace"])
        if (
            owner is None
            or owner["metadata"].get("uid") != ref.get("uid")
            or owner["metadata"].get("deletionTimestamp")
        ):
            with contextlib.suppress(NotFound):
                await client.delete(resource, meta["name"], meta["namespace"])


def desired_hash(desired: Mapping[str, Any], *, keep_replicas: bool) -> str:
    spec = dict(desired.get("spec") or {})
    if keep_replicas:
        spec.pop("replicas", None)
    meta = desired.get("metadata") or {}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != keys.SPEC_HASH_ANNOTATION}
    return spec_hash({"spec": spec, "labels": meta.get("labels") or {}, "annotations": annotations})


def _stamp(desired: Mapping[str, Any], digest: str) -> dict[str, Any]:
    """`desired` with the hash annotation, sharing everything else (it is only sent, not changed)."""
    meta = dict(desired.get("metadata") or {})
    meta["annotations"] = {**(meta.get("annotations") or {}), keys.SPEC_HASH_ANNOTATION: digest}
    return {**desired, "metadata": meta}


async def ensure(
    client: ApiClient,
    resource: Resource,
    desired: Mapping[str, Any],
    owner_uid: str,
    *,
    keep_replicas: bool = False,
    preserve_spec: tuple[str, ...] = (),
) -> Ensured:
    """Make the child match `desired`; `preserve_spec` names live spec fields to keep (clusterIP)."""
    meta = desired["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    digest = desired_hash(desired, keep_replicas=keep_replicas)
    body = _stamp(desired, digest)
    for _attempt in range(3):
        live = await client.get_or_none(resource, name, namespace)
        if live is None:
            try:
                created = await client.create(resource, body, namespace)
            except AlreadyExists:
                continue
            await _undo_if_orphaned(client, resource, created)
            return Ensured(created, created=True)
        live_meta = ObjectMeta.from_body(live.get("metadata"))
        if not live_meta.is_controlled_by(owner_uid):
            return Ensured(live, owned=False)
        if live_meta.annotations.get(keys.SPEC_HASH_ANNOTATION) == digest:
            return Ensured(live)
        update = copy.deepcopy(body)
        update["metadata"] = {
            **live["metadata"],
            "labels": {**live_meta.labels, **(meta.get("labels") or {})},
            "annotations": {**live_meta.annotations, **update["metadata"]["annotations"]},
            "ownerReferences": meta.get("ownerReferences") or live["metadata"].get("ownerReferences"),
        }
        live_spec = live.get("spec") or {}
        if keep_replicas and "replicas" in live_spec:
            update["spec"]["replicas"] = live_spec["replicas"]
        for field in preserve_spec:
            if field in live_spec:
                update["spec"][field] = live_spec[field]
        try:
            replaced = await client.replace(resource, update, namespace)
        except (Conflict, NotFound):
            continue
        await _undo_if_orphaned(client, resource, replaced)
        return Ensured(replaced, updated=True)
    message = f"{resource.qualified_name} {namespace}/{name} kept changing while being updated"
    raise Conflict(409, "Conflict", message, {})
