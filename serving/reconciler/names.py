"""Every name the reconcilers derive, in one place (Knative's resources/names packages)."""

from __future__ import annotations

from serving.api.kmeta import child_name


def configuration(service_name: str) -> str:
    return service_name


def route(service_name: str) -> str:
    return service_name


def revision(configuration_name: str, generation: int) -> str:
    """`{config}-{generation:05d}`, shortened and hashed past 63 characters."""
    return child_name(configuration_name, f"-{generation:05d}")


def deployment(revision_name: str) -> str:
    return child_name(revision_name, "-deployment")


def k8s_service(revision_name: str) -> str:
    """The Kubernetes Service in front of a revision's pods (Knative's SKS public service)."""
    return revision_name


def pod_autoscaler(revision_name: str) -> str:
    return revision_name


def ingress(route_name: str) -> str:
    return route_name
