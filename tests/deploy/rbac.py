"""Kubernetes RBAC, small: the attributes of an API request, and whether rendered Roles allow it.

`request_attributes` turns a method and URL into what the authorizer checks (verb, API group,
resource, subresource, namespace, name), as kube-apiserver's request-info resolver does.
`grants_of` expands the rules bound to one ServiceAccount into atoms (group, resource, verb,
namespace or "*", resourceName or "*"), so two RBAC setups compare as sets and a request is
allowed when some atom covers it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ALL = "*"


@dataclass(frozen=True)
class RequestAttributes:
    verb: str
    group: str
    resource: str  # "deployments" or "deployments/scale"
    namespace: str  # "" for cluster-scoped objects and all-namespace collections
    name: str  # "" for collections and creates


@dataclass(frozen=True)
class Grant:
    group: str
    resource: str
    verb: str
    namespace: str  # ALL for a ClusterRoleBinding
    name: str  # ALL unless the rule lists resourceNames

    def allows(self, request: RequestAttributes) -> bool:
        if (self.group, self.resource, self.verb) != (request.group, request.resource, request.verb):
            return False
        if self.namespace not in (ALL, request.namespace):
            return False
        # A named rule never matches a create or a collection: the name is not known then.
        return self.name in (ALL, request.name)


# Paths every authenticated user may GET (the default system:discovery and
# system:public-info-viewer ClusterRoles): discovery, versions, OpenAPI.
_NON_RESOURCE_PREFIXES = ("/version", "/openapi", "/healthz", "/livez", "/readyz")


def request_attributes(method: str, path: str, query: Mapping[str, str]) -> RequestAttributes | None:
    """None for a non-resource (discovery) request; else what RBAC decides on."""
    parts = [p for p in path.split("/") if p]
    if path.startswith(_NON_RESOURCE_PREFIXES) or not parts:
        return None
    if parts[0] == "api":
        group, rest = "", parts[2:]
    elif parts[0] == "apis" and len(parts) > 1:
        group, rest = parts[1], parts[3:]
    else:
        return None
    if not rest:
        return None  # /api, /api/v1, /apis, /apis/g, /apis/g/v: discovery
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    resource, name = rest[0], rest[1] if len(rest) > 1 else ""
    if len(rest) > 2:
        resource = f"{resource}/{rest[2]}"
    if resource == "namespaces" and name:
        namespace = name
    return RequestAttributes(_verb(method, name, query), group, resource, namespace, name)


def _verb(method: str, name: str, query: Mapping[str, str]) -> str:
    if method == "GET":
        if query.get("watch") in ("true", "1"):
            return "watch"
        return "get" if name else "list"
    if method == "DELETE" and not name:
        return "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]


def grants_of(objects: Iterable[Mapping[str, Any]], namespace: str, account: str) -> frozenset[Grant]:
    """Everything the rendered Roles/ClusterRoles bound to ServiceAccount namespace/account allow."""
    objects = list(objects)
    roles = {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in objects}
    out: set[Grant] = set()
    for binding in objects:
        if binding["kind"] not in ("ClusterRoleBinding", "RoleBinding"):
            continue
        if not any(
            s.get("kind") == "ServiceAccount" and s.get("name") == account and s.get("namespace") == namespace
            for s in binding.get("subjects", [])
        ):
            continue
        ref = binding["roleRef"]
        bound_ns = binding["metadata"].get("namespace", "")
        role_ns = bound_ns if ref["kind"] == "Role" else ""
        role = roles[(ref["kind"], role_ns, ref["name"])]
        scope = ALL if binding["kind"] == "ClusterRoleBinding" else bound_ns
        for rule in role.get("rules", []):
            out.update(expand(rule, scope))
    return frozenset(out)


def expand(rule: Mapping[str, Any], scope: str) -> set[Grant]:
    names = rule.get("resourceNames") or [ALL]
    return {
        Grant(group, resource, verb, scope, name)
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
        for name in names
    }
