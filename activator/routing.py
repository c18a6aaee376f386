"""The routing table: which revision serves a request, built from KIngress objects.

A KIngress (networking.internal.knative.dev/v1alpha1 Ingress) lists rules; each rule names hosts
and ordered paths; each path may require exact header values and splits its traffic by percent
between revisions. The table maps a normalised host to the ordered paths of every rule that
names it (the first ingress and rule naming a host win, as in Knative), so a lookup is one dict
access plus a short scan.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any

from activator.config import INGRESS_CLASS

REVISION_HEADER = "Knative-Serving-Revision"
NAMESPACE_HEADER = "Knative-Serving-Namespace"
INGRESS_CLASS_ANNOTATION = "networking.knative.dev/ingress.class"
SERVICE_LABEL = "serving.knative.dev/service"
ROUTE_LABEL = "serving.knative.dev/route"


@dataclasses.dataclass(frozen=True)
class RevisionKey:
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclasses.dataclass(frozen=True)
class Split:
    revision: RevisionKey
    # The Kubernetes Service (and so Endpoints) that fronts the revision's pods.
    service_name: str
    percent: int
    # Headers to add upstream, routing headers already removed.
    append_headers: tuple[tuple[str, str], ...]

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Split:
        namespace = str(body.get("serviceNamespace", ""))
        service_name = str(body.get("serviceName", ""))
        headers: Mapping[str, str] = body.get("appendHeaders") or {}
        revision = headers.get(REVISION_HEADER, service_name)
        namespace = headers.get(NAMESPACE_HEADER, namespace)
        kept = tuple((k, str(v)) for k, v in headers.items() if k.lower() not in _ROUTING_HEADERS_LOWER)
        return cls(
            revision=RevisionKey(namespace, revision),
            service_name=service_name,
            percent=int(body.get("percent") or 0),
            append_headers=kept,
        )


_ROUTING_HEADERS_LOWER = frozenset({REVISION_HEADER.lower(), NAMESPACE_HEADER.lower()})


@dataclasses.dataclass(frozen=True)
class Path:
    """One `paths[]` entry: its match conditions and its weighted splits."""

    # Ingress-level labels, for metrics and logs.
    service: str
    path_regex: re.Pattern[str] | None
    header_matches: tuple[tuple[str, str], ...]
    splits: tuple[Split, ...]
    # Cumulative percents of `splits`, so a pick is one scan over a few ints.
    cumulative: tuple[int, ...]
    append_headers: tuple[tuple[str, str], ...]

    @classmethod
    def from_body(cls, body: Mapping[str, Any], service: str) -> Path:
        splits = [Split.from_body(s) for s in body.get("splits") or ()]
        if len(splits) == 1 and splits[0].percent == 0:
            # Knative defaults a lone split to 100%.
            splits[0] = dataclasses.replace(splits[0], percent=100)
        splits = [s for s in splits if s.percent > 0]
        running, cumulative = 0, []
        for split in splits:
            running += split.percent
            cumulative.append(running)
        matches: Mapping[str, Mapping[str, str]] = body.get("headers") or {}
        raw_path = body.get("path") or ""
        return cls(
            service=service,
            path_regex=re.compile(raw_path) if raw_path else None,
            header_matches=tuple((k, str(v.get("exact", ""))) for k, v in matches.items()),
            splits=tuple(splits),
            cumulative=tuple(cumulative),
            append_headers=tuple(
                (k, str(v))
                for k, v in (body.get("appendHeaders") or {}).items()
                if k.lower() not in _ROUTING_HEADERS_LOWER
            ),
        )

    def matches(self, path: str, headers: Mapping[str, str]) -> bool:
        if self.path_regex is not None and self.path_regex.match(path) is None:
            return False
        return all(headers.get(name) == value for name, value in self.header_matches)

    def pick(self, roll: float) -> Split | None:
        """The split for a uniform `roll` in [0, 1): weighted by percent."""
        if not self.splits:
            return None
        point = roll * self.cumulative[-1]
        for split, bound in zip(self.splits, self.cumulative, strict=True):
            if point < bound:
                return split
        return self.splits[-1]


def normalize_host(host: str) -> str:
    """Lower-case, port dropped, trailing dot tolerated; IPv6 literals keep their brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end >= 0 else host
    colon = host.rfind(":")
    if colon >= 0:
        host = host[:colon]
    return host.rstrip(".")


@dataclasses.dataclass(frozen=True)
class RoutingTable:
    hosts: Mapping[str, tuple[Path, ...]]
    # (namespace, ingress name, generation) of every ingress the table serves.
    generations: Mapping[tuple[str, str], int]

    @classmethod
    def empty(cls) -> RoutingTable:
        return cls(hosts={}, generations={})

    @classmethod
    def from_ingresses(
        cls, ingresses: Iterable[Mapping[str, Any]], ingress_class: str = INGRESS_CLASS
    ) -> RoutingTable:
        hosts: dict[str, tuple[Path, ...]] = {}
        generations: dict[tuple[str, str], int] = {}
        ordered = sorted(ingresses, key=_ingress_sort_key)
        for ingress in ordered:
            meta = ingress.get("metadata") or {}
            annotations = meta.get("annotations") or {}
            if annotations.get(INGRESS_CLASS_ANNOTATION, ingress_class) != ingress_class:
                continue
            if meta.get("deletionTimestamp"):
                continue
            labels = meta.get("labels") or {}
            service = str(labels.get(SERVICE_LABEL) or labels.get(ROUTE_LABEL) or meta.get("name", ""))
            generations[(str(meta.get("namespace", "")), str(meta.get("name", "")))] = int(
                meta.get("generation") or 0
            )
            for rule in (ingress.get("spec") or {}).get("rules") or ():
                paths = tuple(
                    Path.from_body(p, service) for p in ((rule.get("http") or {}).get("paths") or ())
                )
                for host in rule.get("hosts") or ():
                    hosts.setdefault(normalize_host(str(host)), paths)
        return cls(hosts=hosts, generations=generations)

    def lookup(self, host: str, path: str, headers: Mapping[str, str]) -> Path | None:
        """The first path of the host's rule whose conditions the request meets."""
        paths = self.hosts.get(normalize_host(host))
        if paths is None:
            return None
        for candidate in paths:
            if candidate.matches(path, headers):
                return candidate
        return None

    def revisions(self) -> dict[RevisionKey, str]:
        """Every revision the table routes to, with the Service fronting its pods."""
        found: dict[RevisionKey, str] = {}
        for paths in self.hosts.values():
            for path in paths:
                for split in path.splits:
                    found.setdefault(split.revision, split.service_name)
        return found


def _ingress_sort_key(ingress: Mapping[str, Any]) -> tuple[str, str, str]:
    # Oldest first so an older ingress keeps a host a newer one also claims, as in Knative.
    meta = ingress.get("metadata") or {}
    return (
        str(meta.get("creationTimestamp", "")),
        str(meta.get("namespace", "")),
        str(meta.get("name", "")),
    )
