"""Route -> KIngress (knative/serving pkg/reconciler/route/resources/ingress.go).

One rule per traffic group ("" and each tag) and visibility: ClusterLocal always (hosts
`name.ns`, `name.ns.svc`, `name.ns.svc.cluster.local`), ExternalIP unless the route is
cluster-local (the domain-template host). Each split names the revision's Kubernetes Service,
carries the revision's percent and appends Knative-Serving-Revision/-Namespace. With
tag-header-based-routing enabled, the default rule first matches `Knative-Serving-Tag: <tag>`
for every tag and marks the rest with Knative-Serving-Default-Route: true; tag rules append
their tag. Targets at 0% get no split.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from serving.api import keys
from serving.api.config import Config
from serving.api.config.features import TAG_HEADER_BASED_ROUTING
from serving.api.types import Route
from serving.reconciler import names
from serving.reconciler.kmeta import LAST_APPLIED_ANNOTATION, owner, spec_hash, without
from serving.reconciler.revision.resources.k8s_service import service_port
from serving.reconciler.route import domains
from serving.reconciler.route.rollout import Rollout
from serving.reconciler.route.traffic import DEFAULT_TARGET, ResolvedTraffic, RevisionTarget

VISIBILITY_EXTERNAL = "ExternalIP"
VISIBILITY_CLUSTER_LOCAL = "ClusterLocal"


def _split(namespace: str, revision_name: str, percent: int, protocol: str) -> dict[str, Any]:
    return {
        "serviceNamespace": namespace,
        "serviceName": names.k8s_service(revision_name),
        "servicePort": service_port(protocol),
        "percent": percent,
        "appendHeaders": {keys.REVISION_HEADER: revision_name, keys.NAMESPACE_HEADER: namespace},
    }


def _splits(
    namespace: str, tag: str, targets: Sequence[RevisionTarget], rollout: Rollout | None
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for t in targets:
        if t.percent == 0:
            continue
        ro = rollout.for_target(tag, t.configuration_name) if rollout and t.latest_revision else None
        if ro is not None and ro.in_progress and ro.percent == t.percent:
            out.extend(
                _split(namespace, r.revision_name, r.percent, t.protocol) for r in ro.revisions if r.percent
            )
        else:
            out.append(_split(namespace, t.revision_name, t.percent, t.protocol))
    return out


def _hosts(route: Route, cfg: Config, tag: str, visibility: str) -> list[str]:
    if visibility == VISIBILITY_CLUSTER_LOCAL:
        return sorted(domains.expanded_cluster_local_hosts(route, cfg, tag))
    return [domains.external_host(route, cfg, tag)]


def make_ingress_spec(
    route: Route, resolved: ResolvedTraffic, cfg: Config, rollout: Rollout | None = None
) -> dict[str, Any]:
    ns = route.meta.namespace
    header_routing = cfg.features.enabled(TAG_HEADER_BASED_ROUTING)
    visibilities = [VISIBILITY_CLUSTER_LOCAL]
    if not domains.is_cluster_local(route, cfg):
        visibilities.append(VISIBILITY_EXTERNAL)
    tags = sorted(resolved.targets)  # "" sorts first
    rules = []
    for tag in tags:
        for visibility in visibilities:
            path: dict[str, Any] = {"splits": _splits(ns, tag, resolved.targets[tag], rollout)}
            paths = [path]
            if header_routing:
                if tag == DEFAULT_TARGET:
                    path["appendHeaders"] = {keys.DEFAULT_ROUTE_HEADER: "true"}
                    tagged = [
                        {
                            "headers": {keys.TAG_HEADER: {"exact": t}},
                            "splits": _splits(ns, t, resolved.targets[t], rollout),
                        }
                        for t in tags
                        if t != DEFAULT_TARGET
                    ]
                    paths = [*tagged, path]
                else:
                    path["appendHeaders"] = {keys.TAG_HEADER: tag}
            rules.append(
                {
                    "hosts": _hosts(route, cfg, tag, visibility),
                    "visibility": visibility,
                    "http": {"paths": paths},
                }
            )
    return {"rules": rules, "httpOption": "Enabled"}


def make_ingress(
    route: Route, resolved: ResolvedTraffic, cfg: Config, rollout: Rollout | None = None
) -> dict[str, Any]:
    """The KIngress `{route}`; the rollout state rides along in its rollout annotation."""
    spec = make_ingress_spec(route, resolved, cfg, rollout)
    annotations = {
        keys.INGRESS_CLASS_ANNOTATION: cfg.network.ingress_class,
        **without(route.meta.annotations, [LAST_APPLIED_ANNOTATION]),
    }
    annotations[keys.ROLLOUT_ANNOTATION] = (rollout or Rollout()).to_json()
    annotations[keys.SPEC_HASH_ANNOTATION] = spec_hash(spec)
    labels = {
        **without(route.meta.labels, [keys.ROUTE_LABEL]),
        keys.ROUTE_LABEL: route.meta.name,
        keys.ROUTE_NAMESPACE_LABEL: route.meta.namespace,
    }
    return {
        "apiVersion": keys.NETWORKING_INTERNAL_API_VERSION,
        "kind": keys.INGRESS,
        "metadata": {
            "name": names.ingress(route.meta.name),
            "namespace": route.meta.namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": owner(keys.SERVING_API_VERSION, keys.ROUTE, route.meta),
        },
        "spec": spec,
    }


def route_status_fields(
    route: Route, resolved: ResolvedTraffic, cfg: Config, rollout: Rollout | None = None
) -> dict[str, Any]:
    """url, address and traffic (with tag URLs) for the Route's status.

    While a gradual rollout runs, a latestRevision target is shown as the split actually
    served (older Revisions with their shares, the newest one flagged latestRevision).
    """
    tag_urls = {tag: domains.url(route, cfg, tag) for tag in resolved.tags()}
    traffic: list[dict[str, Any]] = []
    for t in resolved.revision_targets:
        url = tag_urls.get(t.tag, "")
        ro = (
            rollout.for_target(DEFAULT_TARGET, t.configuration_name)
            if rollout and t.latest_revision
            else None
        )
        if ro is not None and ro.in_progress and ro.percent == t.percent:
            for r in ro.revisions:
                newest = r.revision_name == ro.revisions[-1].revision_name
                shown = RevisionTarget(
                    r.revision_name, r.percent, t.tag, t.configuration_name, newest, t.protocol
                )
                traffic.append(shown.status_body(url))
        else:
            traffic.append(t.status_body(url))
    return {
        "url": domains.url(route, cfg),
        "address": {"url": domains.address_url(route, cfg)},
        "traffic": traffic,
    }
