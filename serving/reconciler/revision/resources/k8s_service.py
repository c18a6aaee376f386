"""Revision -> the Kubernetes Service in front of its pods.

Knative's ServerlessService makes a public Service `{rev}` (port 80 for http1, 81 for h2c) whose
endpoints are the pods or the activator. kwake's gateway is always in the path, so this Service
simply selects the revision's pods; its `targetPort` is the container port's name, which
resolves per pod (localkube gives every pod its own port).
"""

from __future__ import annotations

from typing import Any

from serving.api import keys
from serving.api.types import Revision
from serving.reconciler import names
from serving.reconciler.kmeta import owner, spec_hash
from serving.reconciler.revision.resources.meta import make_annotations, make_labels, make_selector

HTTP1_PORT = 80
H2C_PORT = 81


def service_port(protocol: str) -> int:
    """The port a KIngress split names for a revision of this protocol."""
    return H2C_PORT if protocol == keys.PROTOCOL_H2C else HTTP1_PORT


def make_k8s_service(revision: Revision) -> dict[str, Any]:
    protocol = revision.protocol()
    port: dict[str, Any] = {
        "name": "http2" if protocol == keys.PROTOCOL_H2C else "http",
        "port": service_port(protocol),
        "protocol": "TCP",
        "targetPort": keys.USER_PORT_NAME,
    }
    if protocol == keys.PROTOCOL_H2C:
        port["appProtocol"] = "kubernetes.io/h2c"
    spec = {"type": "ClusterIP", "selector": make_selector(revision), "ports": [port]}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": names.k8s_service(revision.meta.name),
            "namespace": revision.meta.namespace,
            "labels": make_labels(revision),
            "annotations": {**make_annotations(revision), keys.SPEC_HASH_ANNOTATION: spec_hash(spec)},
            "ownerReferences": owner(keys.SERVING_API_VERSION, keys.REVISION, revision.meta),
        },
        "spec": spec,
    }
