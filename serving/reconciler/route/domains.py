"""Host names and URLs of a Route and its tags (knative/serving pkg/reconciler/route/domains).

External host: domain-template over {name or tag-template(tag, name)}, namespace and the domain
config-domain picks for the route's labels. A route labelled cluster-local, or whose domain is
`svc.<cluster-domain>`, has no external host and its URL is the cluster-local one.
"""

from __future__ import annotations

from serving.api.config import Config
from serving.api.types import Route


def domain(route: Route, cfg: Config) -> str:
    return cfg.domain.lookup(route.meta.labels)


def is_cluster_local(route: Route, cfg: Config) -> bool:
    return route.is_cluster_local or domain(route, cfg) == f"svc.{cfg.network.cluster_domain}"


def host_name(route: Route, cfg: Config, tag: str = "") -> str:
    """The name part before namespace and domain: the route's name, or the tag's via tag-template."""
    return cfg.network.tag_name(tag, route.meta.name) if tag else route.meta.name


def external_host(route: Route, cfg: Config, tag: str = "") -> str:
    return cfg.network.domain_for(
        host_name(route, cfg, tag), route.meta.namespace, domain(route, cfg), route.meta.annotations
    )


def cluster_local_host(route: Route, cfg: Config, tag: str = "") -> str:
    return f"{host_name(route, cfg, tag)}.{route.meta.namespace}.svc.{cfg.network.cluster_domain}"


def expanded_cluster_local_hosts(route: Route, cfg: Config, tag: str = "") -> list[str]:
    """`name.ns`, `name.ns.svc`, `name.ns.svc.cluster.local`: the forms a client in the cluster uses."""
    full = cluster_local_host(route, cfg, tag)
    short = full.removesuffix(f".svc.{cfg.network.cluster_domain}")
    return [short, f"{short}.svc", full]


def url(route: Route, cfg: Config, tag: str = "") -> str:
    scheme = cfg.network.default_external_scheme
    if is_cluster_local(route, cfg):
        return f"http://{cluster_local_host(route, cfg, tag)}"
    return f"{scheme}://{external_host(route, cfg, tag)}"


def address_url(route: Route, cfg: Config) -> str:
    return f"http://{cluster_local_host(route, cfg)}"


VISIBILITY_EXTERNAL = "ExternalIP"
VISIBILITY_CLUSTER_LOCAL = "ClusterLocal"
