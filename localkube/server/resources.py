"""The kinds localkube serves: built-ins, and custom resources registered from CRDs at runtime.

A ResourceType is one group/version/plural. Storage is keyed by group and plural only ("the
storage version"): every served version of a CRD reads and writes the same objects, with the
requested apiVersion stamped on the way out (conversion strategy None, as kube does for CRDs
without a webhook).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    type: str
    json_path: str
    description: str = ""
    priority: int = 0
    format: str = ""


@dataclass(frozen=True)
class ScalePaths:
    spec_replicas: str = ".spec.replicas"
    status_replicas: str = ".status.replicas"
    label_selector: str | None = ".status.selector"


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    status: bool = False
    scale: ScalePaths | None = None
    verbs: tuple[str, ...] = (
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    )
    printer_columns: tuple[PrinterColumn, ...] | None = None
    schema: Mapping[str, Any] | None = None
    # Built-in kinds kube stores with a generation counter bumped on spec change only.
    extra_subresources: tuple[str, ...] = ()
    from_crd: bool = False
    storage_version: bool = True
    names_are_labels: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """The storage key: `deployments.apps`, `pods`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    def base_path(self, namespace: str | None) -> str:
        root = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{root}/namespaces/{namespace}/{self.plural}"
        return f"{root}/{self.plural}"


@dataclass
class Registry:
    """All served resource types, indexed for path lookups and discovery."""

    _by_gvr: dict[tuple[str, str, str], ResourceType] = field(default_factory=dict)

    def add(self, rt: ResourceType) -> None:
        self._by_gvr[(rt.group, rt.version, rt.plural)] = rt

    def remove_group_resource(self, group: str, plural: str) -> None:
        for key in [k for k in self._by_gvr if k[0] == group and k[2] == plural]:
            del self._by_gvr[key]

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_gvr.get((group, version, plural))

    def any_version(self, group: str, plural: str) -> ResourceType | None:
        for (g, _, p), rt in self._by_gvr.items():
            if g == group and p == plural:
                return rt
        return None

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for rt in self._by_gvr.values():
            if rt.group == group and rt.version == version and rt.kind == kind:
                return rt
        return None

    def storage_type(self, group: str, plural: str) -> ResourceType | None:
        candidates = [rt for (g, _, p), rt in self._by_gvr.items() if g == group and p == plural]
        for rt in candidates:
            if rt.storage_version:
                return rt
        return candidates[0] if candidates else None

    def group_versions(self) -> dict[str, list[str]]:
        """group -> versions, preferred (first registered storage version) first."""
        out: dict[str, list[str]] = {}
        for rt in self._by_gvr.values():
            versions = out.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        for group, versions in out.items():
            versions.sort(key=_version_priority, reverse=True)
            out[group] = versions
        return out

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return sorted(
            (rt for (g, v, _), rt in self._by_gvr.items() if g == group and v == version),
            key=lambda rt: rt.plural,
        )

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(list(self._by_gvr.values()))


def _version_priority(version: str) -> tuple[int, int, int]:
    """Kubernetes' version ordering: GA > beta > alpha, then by numbers (v2 > v1, v1beta2 > v1beta1)."""
    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not match:
        return (0, 0, 0)
    major = int(match.group(1))
    stage = {"alpha": 1, "beta": 2, None: 3}[match.group(2)]
    minor = int(match.group(3) or 0)
    return (stage, major, minor)


def _cols(*cols: tuple[str, str, str] | tuple[str, str, str, int]) -> tuple[PrinterColumn, ...]:
    out = []
    for col in cols:
        name, typ, path = col[0], col[1], col[2]
        priority = col[3] if len(col) > 3 else 0
        out.append(PrinterColumn(name=name, type=typ, json_path=path, priority=priority))
    return tuple(out)


def builtin_types() -> Iterable[ResourceType]:
    """The built-in kinds: those kwake needs with behaviour, and common ones stored as they are."""
    core = ""
    yield ResourceType(
        core,
        "v1",
        "namespaces",
        "Namespace",
        False,
        "namespace",
        ("ns",),
        status=True,
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
        extra_subresources=("finalize",),
        printer_columns=_cols(("Status", "string", ".status.phase")),
    )
    yield ResourceType(core, "v1", "configmaps", "ConfigMap", True, "configmap", ("cm",))
    yield ResourceType(core, "v1", "secrets", "Secret", True, "secret")
    yield ResourceType(
        core,
        "v1",
        "services",
        "Service",
        True,
        "service",
        ("svc",),
        ("all",),
        status=True,
        printer_columns=_cols(
            ("Type", "string", ".spec.type"),
            ("Cluster-IP", "string", ".spec.clusterIP"),
            ("Ports", "string", ".spec.ports[*].port"),
        ),
    )
    yield ResourceType(
        core,
        "v1",
        "endpoints",
        "Endpoints",
        True,
        "endpoints",
        ("ep",),
        printer_columns=_cols(("Endpoints", "string", ".subsets[*].addresses[*].ip")),
    )
    yield ResourceType(
        core,
        "v1",
        "pods",
        "Pod",
        True,
        "pod",
        ("po",),
        ("all",),
        status=True,
        extra_subresources=("binding", "log", "eviction"),
        printer_columns=_cols(
            ("Status", "string", ".status.phase"),
            ("Restarts", "integer", ".status.containerStatuses[*].restartCount"),
            ("IP", "string", ".status.podIP", 1),
            ("Node", "string", ".spec.nodeName", 1),
        ),
    )
    yield ResourceType(
        core,
        "v1",
        "events",
        "Event",
        True,
        "event",
        ("ev",),
        printer_columns=_cols(
            ("Type", "string", ".type"),
            ("Reason", "string", ".reason"),
            ("Object", "string", ".involvedObject.name"),
            ("Message", "string", ".message"),
        ),
    )
    yield ResourceType(core, "v1", "serviceaccounts", "ServiceAccount", True, "serviceaccount", ("sa",))
    yield ResourceType(
        core,
        "v1",
        "nodes",
        "Node",
        False,
        "node",
        ("no",),
        status=True,
        printer_columns=_cols(
            ("Status", "string", '.status.conditions[?(@.type=="Ready")].type'),
            ("Version", "string", ".status.nodeInfo.kubeletVersion"),
        ),
    )
    yield ResourceType(
        core,
        "v1",
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        True,
        "persistentvolumeclaim",
        ("pvc",),
        status=True,
    )
    yield ResourceType(
        core, "v1", "resourcequotas", "ResourceQuota", True, "resourcequota", ("quota",), status=True
    )
    yield ResourceType(core, "v1", "limitranges", "LimitRange", True, "limitrange", ("limits",))
    deploy_cols = _cols(
        ("Ready", "string", ".status.readyReplicas"),
        ("Up-to-date", "integer", ".status.updatedReplicas"),
        ("Available", "integer", ".status.availableReplicas"),
    )
    yield ResourceType(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        True,
        "deployment",
        ("deploy",),
        ("all",),
        status=True,
        scale=ScalePaths(),
        printer_columns=deploy_cols,
    )
    yield ResourceType(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        True,
        "replicaset",
        ("rs",),
        ("all",),
        status=True,
        scale=ScalePaths(),
    )
    yield ResourceType(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        True,
        "statefulset",
        ("sts",),
        ("all",),
        status=True,
        scale=ScalePaths(),
    )
    yield ResourceType(
        "apps", "v1", "daemonsets", "DaemonSet", True, "daemonset", ("ds",), ("all",), status=True
    )
    yield ResourceType("batch", "v1", "jobs", "Job", True, "job", (), ("all",), status=True)
    yield ResourceType("batch", "v1", "cronjobs", "CronJob", True, "cronjob", ("cj",), ("all",), status=True)
    yield ResourceType("coordination.k8s.io", "v1", "leases", "Lease", True, "lease")
    yield ResourceType(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        "customresourcedefinition",
        ("crd", "crds"),
        status=True,
        printer_columns=_cols(("Created At", "date", ".metadata.creationTimestamp")),
    )
    for plural, kind in (
        ("validatingwebhookconfigurations", "ValidatingWebhookConfiguration"),
        ("mutatingwebhookconfigurations", "MutatingWebhookConfiguration"),
    ):
        yield ResourceType("admissionregistration.k8s.io", "v1", plural, kind, False, kind.lower())
    rbac = "rbac.authorization.k8s.io"
    yield ResourceType(rbac, "v1", "roles", "Role", True, "role")
    yield ResourceType(rbac, "v1", "rolebindings", "RoleBinding", True, "rolebinding")
    yield ResourceType(rbac, "v1", "clusterroles", "ClusterRole", False, "clusterrole")
    yield ResourceType(rbac, "v1", "clusterrolebindings", "ClusterRoleBinding", False, "clusterrolebinding")
    yield ResourceType(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        True,
        "poddisruptionbudget",
        ("pdb",),
        status=True,
    )
    yield ResourceType(
        "networking.k8s.io", "v1", "ingresses", "Ingress", True, "ingress", ("ing",), status=True
    )
    yield ResourceType("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False, "ingressclass")
    yield ResourceType(
        "networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, "networkpolicy", ("netpol",)
    )
    yield ResourceType(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        True,
        "horizontalpodautoscaler",
        ("hpa",),
        ("all",),
        status=True,
    )
    yield ResourceType(
        "autoscaling",
        "v1",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        True,
        "horizontalpodautoscaler",
        ("hpa",),
        ("all",),
        status=True,
        storage_version=False,
    )
    yield ResourceType("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True, "endpointslice")
    yield ResourceType(
        "scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, "priorityclass", ("pc",)
    )
    yield ResourceType(
        "storage.k8s.io", "v1", "storageclasses", "StorageClass", False, "storageclass", ("sc",)
    )
    yield ResourceType("events.k8s.io", "v1", "events", "Event", True, "event", ("ev",))


def crd_types(crd: Mapping[str, Any]) -> list[ResourceType]:
    """The resource types a CustomResourceDefinition serves (one per served version)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    namespaced = spec.get("scope", "Namespaced") == "Namespaced"
    out: list[ResourceType] = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or {}
        scale_spec = subresources.get("scale")
        scale = None
        if isinstance(scale_spec, Mapping):
            scale = ScalePaths(
                spec_replicas=scale_spec.get("specReplicasPath", ".spec.replicas"),
                status_replicas=scale_spec.get("statusReplicasPath", ".status.replicas"),
                label_selector=scale_spec.get("labelSelectorPath"),
            )
        columns = None
        if version.get("additionalPrinterColumns") is not None:
            columns = tuple(
                PrinterColumn(
                    name=c.get("name", ""),
                    type=c.get("type", "string"),
                    json_path=c.get("jsonPath", ""),
                    description=c.get("description", ""),
                    priority=int(c.get("priority", 0) or 0),
                    format=c.get("format", ""),
                )
                for c in version["additionalPrinterColumns"]
            )
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        out.append(
            ResourceType(
                group=group,
                version=version.get("name", "v1"),
                plural=names.get("plural", ""),
                kind=names.get("kind", ""),
                namespaced=namespaced,
                singular=names.get("singular", "") or names.get("kind", "").lower(),
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                status="status" in subresources,
                scale=scale,
                printer_columns=columns,
                schema=schema,
                from_crd=True,
                storage_version=bool(version.get("storage", True)),
            )
        )
    return out
