"""Reconcile a Revision: its Deployment, Kubernetes Service and PodAutoscaler, and its status.

Ready = ResourcesAvailable (the Deployment) + ContainerHealthy; Active and the replica counts come
from the PodAutoscaler. While the Revision is not yet ready, its pods are read for a reason a
person can act on: a container that exited (ExitCode<N> with its message), or one waiting on
something other than being created (a missing command on localkube, an image pull error).
Source of the behaviour: knative/serving pkg/reconciler/revision.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from serving.api import keys
from serving.api.defaults import default_revision
from serving.api.lifecycle import revision as lifecycle
from serving.api.types import Revision
from serving.operator.children import ensure
from serving.operator.context import OperatorContext
from serving.operator.resources import DEPLOYMENTS, PODAUTOSCALERS, PODS, REVISIONS, SERVICES
from serving.reconciler import names
from serving.reconciler.revision.resources.deployment import make_deployment
from serving.reconciler.revision.resources.k8s_service import make_k8s_service
from serving.reconciler.revision.resources.pod_autoscaler import make_pod_autoscaler

_BENIGN_WAITING = frozenset({"", "ContainerCreating", "PodInitializing"})


async def reconcile(ctx: OperatorContext, namespace: str, name: str) -> float | None:
    body = await ctx.client.get_or_none(REVISIONS, name, namespace)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return None
    rev = Revision.from_body(default_revision(body, ctx.config.current))
    cfg = ctx.config.current
    now = ctx.clock()
    status: dict[str, Any] = lifecycle.initialize(body.get("status"), now)

    dep = await ensure(ctx.client, DEPLOYMENTS, make_deployment(rev, cfg), rev.meta.uid, keep_replicas=True)
    if not dep.owned:
        status = lifecycle.mark_not_owned(status, "Deployment", names.deployment(name), now)
    else:
        if dep.created:
            await ctx.event(body, "Created", f'Created Deployment "{names.deployment(name)}"')
        status = lifecycle.propagate_deployment_status(status, dep.live.get("status"), now)

    svc = await ensure(
        ctx.client, SERVICES, make_k8s_service(rev), rev.meta.uid, preserve_spec=("clusterIP", "clusterIPs")
    )
    if not svc.owned:
        status = lifecycle.mark_not_owned(status, "Service", names.k8s_service(name), now)

    pa = await ensure(ctx.client, PODAUTOSCALERS, make_pod_autoscaler(rev, cfg), rev.meta.uid)
    if not pa.owned:
        status = lifecycle.mark_not_owned(status, "PodAutoscaler", names.pod_autoscaler(name), now)
    elif dep.owned:
        status = lifecycle.propagate_autoscaler_status(status, pa.live.get("status"), now)

    if dep.owned:
        dep_spec, dep_status = dep.live.get("spec") or {}, dep.live.get("status") or {}
        if int(dep_status.get("readyReplicas") or 0) > 0:
            # A pod passed its readiness probe: the container is healthy (Knative does the same).
            status = lifecycle.mark_container_healthy_true(status, now)
        elif int(dep_spec.get("replicas") or 0) > 0 and int(dep_status.get("availableReplicas") or 0) == 0:
            # Pods are wanted and none is up: say why, from the pods themselves.
            pods = await ctx.client.list(
                PODS, namespace, label_selector=f"{keys.REVISION_UID_LABEL}={rev.meta.uid}"
            )
            status = _surface_container_failures(status, pods["items"], now)

    status["observedGeneration"] = rev.meta.generation
    await ctx.write_status(REVISIONS, body, status)
    return None


def _surface_container_failures(
    status: dict[str, Any], pods: list[Mapping[str, Any]], now: float
) -> dict[str, Any]:
    for pod in pods:
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            state = cs.get("state") or {}
            last = (cs.get("lastState") or {}).get("terminated")
            terminated = state.get("terminated") or last
            if terminated and int(terminated.get("exitCode") or 0) != 0:
                message = terminated.get("message") or terminated.get("reason") or ""
                return lifecycle.mark_container_exiting(status, int(terminated["exitCode"]), message, now)
            waiting = state.get("waiting") or {}
            reason = waiting.get("reason") or ""
            if reason not in _BENIGN_WAITING and reason != "CrashLoopBackOff":
                return lifecycle.mark_resources_available_false(
                    status, reason, waiting.get("message") or "", now
                )
    return status
