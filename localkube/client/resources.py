"""Which Kubernetes resource a call is about, and the URL path that names it.

A `Resource` is the group/version/plural triple the API server routes on, plus whether it lives in
a namespace and its kind (for Events' involvedObject and for error messages). The built-in kinds
kwake touches have constants here; anything else (CRDs) is built with `Resource.custom(...)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class Resource:
    """One REST resource: `/api/v1/...` when `group` is empty, `/apis/{group}/{version}/...` otherwise."""

    group: str
    version: str
    plural: str
    namespaced: bool
    kind: str

    @classmethod
    def custom(cls, group: str, version: str, plural: str, kind: str, *, namespaced: bool = True) -> Resource:
        """A custom resource, e.g. `Resource.custom("serving.knative.dev", "v1", "services", "Service")`."""
        return cls(group=group, version=version, plural=plural, namespaced=namespaced, kind=kind)

    @property
    def api_version(self) -> str:
        """The `apiVersion` of objects of this resource: `v1` or `group/version`."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified_name(self) -> str:
        """`plural.group` (or just `plural` for the core group), as kube spells it in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        """The URL path for a collection (no `name`) or an object, optionally a subresource of it.

        For a namespaced resource `namespace=None` names the collection across all namespaces;
        for a cluster-scoped resource `namespace` is ignored.
        """
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        parts = [prefix]
        if self.namespaced and namespace is not None:
            parts.append(f"namespaces/{_segment(namespace)}")
        parts.append(self.plural)
        if name is not None:
            parts.append(_segment(name))
            if subresource:
                parts.append(subresource)
        elif subresource:
            raise ValueError("a subresource needs an object name")
        return "/".join(parts)


def _segment(value: str) -> str:
    if not value or value in (".", ".."):
        raise ValueError(f"invalid path segment: {value!r}")
    return quote(value, safe="")


PODS = Resource("", "v1", "pods", True, "Pod")
SERVICES = Resource("", "v1", "services", True, "Service")
ENDPOINTS = Resource("", "v1", "endpoints", True, "Endpoints")
CONFIGMAPS = Resource("", "v1", "configmaps", True, "ConfigMap")
SECRETS = Resource("", "v1", "secrets", True, "Secret")
EVENTS = Resource("", "v1", "events", True, "Event")
SERVICE_ACCOUNTS = Resource("", "v1", "serviceaccounts", True, "ServiceAccount")
NODES = Resource("", "v1", "nodes", False, "Node")
NAMESPACES = Resource("", "v1", "namespaces", False, "Namespace")
DEPLOYMENTS = Resource("apps", "v1", "deployments", True, "Deployment")
REPLICASETS = Resource("apps", "v1", "replicasets", True, "ReplicaSet")
ENDPOINT_SLICES = Resource("discovery.k8s.io", "v1", "endpointslices", True, "EndpointSlice")
LEASES = Resource("coordination.k8s.io", "v1", "leases", True, "Lease")
MUTATING_WEBHOOKS = Resource(
    "admissionregistration.k8s.io",
    "v1",
    "mutatingwebhookconfigurations",
    False,
    "MutatingWebhookConfiguration",
)
VALIDATING_WEBHOOKS = Resource(
    "admissionregistration.k8s.io",
    "v1",
    "validatingwebhookconfigurations",
    False,
    "ValidatingWebhookConfiguration",
)
CRDS = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", False, "CustomResourceDefinition")
