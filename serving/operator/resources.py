"""The REST resources the operator reads and writes."""

from __future__ import annotations

from localkube.client import resources as k8s
from serving.api import keys

KSERVICES = k8s.Resource.custom(keys.SERVING_GROUP, "v1", "services", keys.SERVICE)
CONFIGURATIONS = k8s.Resource.custom(keys.SERVING_GROUP, "v1", "configurations", keys.CONFIGURATION)
ROUTES = k8s.Resource.custom(keys.SERVING_GROUP, "v1", "routes", keys.ROUTE)
REVISIONS = k8s.Resource.custom(keys.SERVING_GROUP, "v1", "revisions", keys.REVISION)
PODAUTOSCALERS = k8s.Resource.custom(
    keys.AUTOSCALING_INTERNAL_GROUP, "v1alpha1", "podautoscalers", keys.POD_AUTOSCALER
)
INGRESSES = k8s.Resource.custom(keys.NETWORKING_INTERNAL_GROUP, "v1alpha1", "ingresses", keys.INGRESS)
DEPLOYMENTS = k8s.DEPLOYMENTS
SERVICES = k8s.SERVICES
PODS = k8s.PODS
CONFIGMAPS = k8s.CONFIGMAPS
