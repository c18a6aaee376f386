"""localkube.client: a small asyncio Kubernetes API client, shared by every kwake component.

Works against localkube and a real cluster (kubeconfig or in-cluster service account). Import
what you need from here:

    from localkube.client import (
        ApiClient, load_connection, Connection,              # connect
        Resource, PODS, SERVICES, ENDPOINTS, DEPLOYMENTS,    # what to talk about
        ApiError, NotFound, Conflict, AlreadyExists, Gone,   # what went wrong
        WatchEvent, Informer, object_key,                    # watch and cache
        EventRecorder,                                       # post core v1 Events
    )

    connection = load_connection("/path/to/kubeconfig")      # or load_connection() to search
    async with ApiClient(connection) as client:
        created = await client.create(PODS, {"metadata": {"name": "p"}, "spec": {...}}, namespace="ns")
        pods = await client.list(PODS, namespace="ns", label_selector="app=web")  # items + RV
        await client.patch(PODS, "p", {"status": {...}}, namespace="ns", subresource="status")
        await client.patch(DEPLOYMENTS, "d", {"spec": {"replicas": 3}}, namespace="ns", subresource="scale")
        await client.delete(PODS, "p", namespace="ns", grace_period_seconds=0)

        async with Informer(client, PODS, on_add=..., on_update=..., on_delete=...) as pods_informer:
            await pods_informer.wait_synced()
            pod = pods_informer.get("p", "ns")

Modules: `config` (Connection, load_connection), `resources` (Resource + constants), `errors`,
`api` (ApiClient), `watch` (WatchEvent, stream decoding), `informer` (Informer, object_key,
Backoff), `events` (EventRecorder, build_event), `tasks` (create_guarded_task, cancel_and_wait),
`workqueue` (WorkQueue: deduplicating keyed queue for level-based controllers), `leader`
(LeaderElector, LeaseTimings, default_identity: leader election on a coordination Lease).
"""

from localkube.client.api import PATCH_CONTENT_TYPES, ApiClient, PatchType
from localkube.client.config import ConfigError, Connection, in_cluster_connection, load_connection
from localkube.client.errors import AlreadyExists, ApiError, Conflict, Gone, Invalid, NotFound
from localkube.client.events import EventRecorder, build_event, format_micro_time, format_time
from localkube.client.informer import Backoff, Informer, object_key
from localkube.client.leader import LeaderElector, LeaseTimings, default_identity
from localkube.client.resources import (
    CONFIGMAPS,
    CRDS,
    DEPLOYMENTS,
    ENDPOINT_SLICES,
    ENDPOINTS,
    EVENTS,
    LEASES,
    MUTATING_WEBHOOKS,
    NAMESPACES,
    NODES,
    PODS,
    REPLICASETS,
    SECRETS,
    SERVICE_ACCOUNTS,
    SERVICES,
    VALIDATING_WEBHOOKS,
    Resource,
)
from localkube.client.tasks import cancel_and_wait, create_guarded_task
from localkube.client.watch import WatchEvent
from localkube.client.workqueue import WorkQueue

__all__ = [
    "CONFIGMAPS",
    "CRDS",
    "DEPLOYMENTS",
    "ENDPOINTS",
    "ENDPOINT_SLICES",
    "EVENTS",
    "LEASES",
    "MUTATING_WEBHOOKS",
    "NAMESPACES",
    "NODES",
    "PATCH_CONTENT_TYPES",
    "PODS",
    "REPLICASETS",
    "SECRETS",
    "SERVICES",
    "SERVICE_ACCOUNTS",
    "VALIDATING_WEBHOOKS",
    "AlreadyExists",
    "ApiClient",
    "ApiError",
    "Backoff",
    "ConfigError",
    "Conflict",
    "Connection",
    "EventRecorder",
    "Gone",
    "Informer",
    "Invalid",
    "LeaderElector",
    "LeaseTimings",
    "NotFound",
    "PatchType",
    "Resource",
    "WatchEvent",
    "WorkQueue",
    "build_event",
    "cancel_and_wait",
    "create_guarded_task",
    "default_identity",
    "format_micro_time",
    "format_time",
    "in_cluster_connection",
    "load_connection",
    "object_key",
]
