"""The Deployment controller: keeps each Deployment's pods and status as its spec says.

Level-based: every change to a Deployment or one of its pods queues the Deployment; a worker
then reads what is (informer caches), plans with the pure `plan_pods` / `compute_status`, and
writes the difference. Pods it just created or deleted may not be in the pod cache yet; it
remembers them ("expectations", as kube's controllers do) so it never creates a pod twice.
Garbage collection of a deleted Deployment's pods is the API server's job (ownerReferences).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from localkube.client import (
    DEPLOYMENTS,
    PODS,
    AlreadyExists,
    ApiClient,
    ApiError,
    EventRecorder,
    Informer,
    NotFound,
    object_key,
)
from localkube.controllers import pods as podutil
from localkube.controllers.deployment_plan import POD_TEMPLATE_HASH, DeploymentSpec, plan_pods, random_suffix
from localkube.controllers.deployment_status import compute_status, status_patch
from localkube.controllers.runtime import KeyIndex, ReconcileLoop

Obj = dict[str, Any]
Clock = Callable[[], datetime.datetime]

log = logging.getLogger(__name__)

_EXPECTATION_TTL = 30.0  # seconds: after this a missed watch event no longer blocks progress
_CREATE_ATTEMPTS = 3
STATUS_BATCH_SECONDS = 0.05


def _status_only_change(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Only the pod's status changed (not its labels, owners, deletion): no pod action hinges
    on it at once, except a rollout step, which can wait a few tens of milliseconds."""
    old_meta, new_meta = podutil.meta(old), podutil.meta(new)
    return all(old_meta.get(f) == new_meta.get(f) for f in ("labels", "ownerReferences", "deletionTimestamp"))


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def owner_deployment_key(pod: Mapping[str, Any]) -> str | None:
    """`namespace/name` of the Deployment controlling `pod`, if one does."""
    ref = podutil.controller_ref(pod)
    if (
        ref is None
        or ref.get("kind") != "Deployment"
        or not str(ref.get("apiVersion", "")).startswith("apps/")
    ):
        return None
    return f"{podutil.meta(pod).get('namespace')}/{ref.get('name')}"


def _is_refusal(error: BaseException) -> bool:
    """An error the API answered (kube's ReplicaFailure/FailedCreate shows any such error)."""
    return isinstance(error, ApiError)


class _Expectations:
    """Pods created or deleted by us whose watch events have not arrived yet, per Deployment."""

    def __init__(self) -> None:
        self.created: dict[str, dict[str, tuple[Obj, float]]] = {}
        self.deleted: dict[str, dict[str, float]] = {}

    def forget(self, deployment_key: str) -> None:
        self.created.pop(deployment_key, None)
        self.deleted.pop(deployment_key, None)

    def observed_pod(self, deployment_key: str, pod: Mapping[str, Any]) -> None:
        meta = podutil.meta(pod)
        created = self.created.get(deployment_key)
        if created is not None:
            created.pop(str(meta.get("name")), None)
        if podutil.is_terminating(pod):
            self.observed_deletion(deployment_key, pod)

    def observed_deletion(self, deployment_key: str, pod: Mapping[str, Any]) -> None:
        deleted = self.deleted.get(deployment_key)
        if deleted is not None:
            deleted.pop(str(podutil.meta(pod).get("uid")), None)

    def overlay(self, deployment_key: str, pods: list[Obj], now: float) -> list[Obj]:
        """`pods` as they will be once our pending creations and deletions show up."""
        names = {str(podutil.meta(p).get("name")) for p in pods}
        created = self.created.get(deployment_key, {})
        for name, (pod, at) in list(created.items()):
            if name in names or now - at > _EXPECTATION_TTL:
                del created[name]
            else:
                pods.append(pod)
        deleted = self.deleted.get(deployment_key, {})
        for uid, at in list(deleted.items()):
            if now - at > _EXPECTATION_TTL:
                del deleted[uid]
        if deleted:
            # Only a marker that the pod is on its way out; its value is never read.
            stamp = "1970-01-01T00:00:00Z"
            pods = [
                {**p, "metadata": {**p["metadata"], "deletionTimestamp": stamp}}
                if str(podutil.meta(p).get("uid")) in deleted and not podutil.is_terminating(p)
                else p
                for p in pods
            ]
        return pods


class DeploymentController:
    """Reconciles Deployments; register before the informers start, then `start()` once synced."""

    def __init__(
        self,
        client: ApiClient,
        deployments: Informer,
        pods: Informer,
        *,
        workers: int = 4,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
        recorder: EventRecorder | None = None,
    ) -> None:
        self._client = client
        self._deployments = deployments
        self._pods = pods
        self._clock = clock
        self._rng = rng or random.Random()
        self._recorder = recorder or EventRecorder(client, "deployment-controller")
        self._owned = KeyIndex()  # deployment key -> pod keys
        self._expectations = _Expectations()
        self.loop = ReconcileLoop("deployment-controller", self.reconcile, workers=workers, logger=log)
        deployments.add_handlers(
            on_add=self._on_deployment, on_update=self._on_deployment_update, on_delete=self._on_deployment
        )
        pods.add_handlers(on_add=self._on_pod, on_update=self._on_pod_update, on_delete=self._on_pod_delete)

    def start(self) -> None:
        self.loop.start()

    async def stop(self) -> None:
        await self.loop.stop()

    # --- event handlers: index and enqueue, nothing else ---------------------------------------

    async def _on_deployment(self, deployment: Obj) -> None:
        self.loop.queue.add(object_key(deployment))

    async def _on_deployment_update(self, old: Obj, new: Obj) -> None:
        self.loop.queue.add(object_key(new))

    async def _on_pod(self, pod: Obj) -> None:
        key = owner_deployment_key(pod)
        self._owned.set(object_key(pod), key)
        if key is not None:
            self._expectations.observed_pod(key, pod)
            self.loop.queue.add(key)

    async def _on_pod_update(self, old: Obj, new: Obj) -> None:
        previous = owner_deployment_key(old)
        key = owner_deployment_key(new)
        self._owned.set(object_key(new), key)
        if key is not None:
            self._expectations.observed_pod(key, new)
            if _status_only_change(old, new):
                # Readiness flips come in bursts (a scale-up): gather them into one status write
                # rather than one per pod, leaving the API server to the Endpoints writes.
                self.loop.queue.add_after(key, STATUS_BATCH_SECONDS)
            else:
                self.loop.queue.add(key)
        if previous is not None and previous != key:
            self.loop.queue.add(previous)

    async def _on_pod_delete(self, pod: Obj) -> None:
        self._owned.set(object_key(pod), None)
        key = owner_deployment_key(pod)
        if key is not None:
            self._expectations.observed_pod(key, pod)
            self._expectations.observed_deletion(key, pod)
            self.loop.queue.add(key)

    # --- reconcile -----------------------------------------------------------------------------

    def owned_pods(self, deployment: Mapping[str, Any]) -> list[Obj]:
        """The cached pods whose controlling owner is `deployment` (same uid)."""
        uid = podutil.meta(deployment).get("uid")
        found = []
        for key in self._owned.get(object_key(deployment)):
            pod = self._pods.get_by_key(key)
            if pod is not None and podutil.controller_uid(pod) == uid:
                found.append(pod)
        return found

    async def reconcile(self, key: str) -> float | None:
        deployment = self._deployments.get_by_key(key)
        if deployment is None:
            self._expectations.forget(key)
            return None
        if podutil.is_terminating(deployment):
            return None
        now = self._clock()
        pods = self._expectations.overlay(key, self.owned_pods(deployment), time.monotonic())
        actions = plan_pods(deployment, pods, now)
        errors: list[BaseException] = []
        created: list[Obj] = []
        deleted: list[Obj] = []
        if not actions.empty:
            created, deleted, errors = await self._apply(key, actions.creates, actions.deletes)
            pods = self._expectations.overlay(key, self.owned_pods(deployment), time.monotonic())
        refused = next((e for e in errors if _is_refusal(e)), None)
        failure = str(refused.message) if isinstance(refused, ApiError) else None
        result = compute_status(deployment, pods, now, create_failure=failure)
        # Status first-class, events alongside: neither waits for the other.
        await asyncio.gather(
            self._write_status(deployment, result.status),
            self._record_scaling(deployment, pods, created, deleted),
            self._record_failure(deployment, failure),
        )
        if errors:
            raise errors[0]
        return result.requeue_after

    async def _record_failure(self, deployment: Obj, failure: str | None) -> None:
        if failure is not None:
            await self._recorder.record(
                deployment, "FailedCreate", f"Error creating: {failure}", type="Warning"
            )

    async def _write_status(self, deployment: Obj, status: Obj) -> None:
        patch = status_patch(deployment.get("status") or {}, status)
        if patch is None:
            return
        meta = podutil.meta(deployment)
        with contextlib.suppress(NotFound):  # deleted meanwhile: nothing to report on
            await self._client.patch(
                DEPLOYMENTS,
                str(meta["name"]),
                {"status": patch},
                str(meta["namespace"]),
                subresource="status",
            )

    async def _apply(
        self, key: str, creates: tuple[Obj, ...], deletes: tuple[Obj, ...]
    ) -> tuple[list[Obj], list[Obj], list[BaseException]]:
        outcomes = await asyncio.gather(
            *(self._create(key, pod) for pod in creates),
            *(self._delete(key, pod) for pod in deletes),
            return_exceptions=True,
        )
        created = [o for o in outcomes[: len(creates)] if isinstance(o, dict)]
        deleted = [o for o in outcomes[len(creates) :] if isinstance(o, dict)]
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        for error in errors:
            if isinstance(error, asyncio.CancelledError):
                raise error
        return created, deleted, errors

    async def _create(self, key: str, pod: Obj) -> Obj:
        meta = pod["metadata"]
        for attempt in range(_CREATE_ATTEMPTS):
            body = {**pod, "metadata": {**meta, "name": meta["generateName"] + random_suffix(self._rng)}}
            body["metadata"].pop("generateName", None)
            try:
                created = await self._client.create(PODS, body, namespace=str(meta["namespace"]))
            except AlreadyExists:
                if attempt == _CREATE_ATTEMPTS - 1:
                    raise
                continue
            name = str(podutil.meta(created).get("name"))
            if self._pods.get(name, str(meta["namespace"])) is None:
                self._expectations.created.setdefault(key, {})[name] = (created, time.monotonic())
            return created
        raise AssertionError("unreachable")

    async def _delete(self, key: str, pod: Obj) -> Obj:
        meta = podutil.meta(pod)
        uid = str(meta.get("uid"))
        self._expectations.deleted.setdefault(key, {})[uid] = time.monotonic()
        try:
            await self._client.delete(
                PODS, str(meta["name"]), str(meta["namespace"]), preconditions={"uid": uid}
            )
        except NotFound:
            self._expectations.deleted.get(key, {}).pop(uid, None)
        return pod

    async def _record_scaling(
        self, deployment: Obj, pods: list[Obj], created: list[Obj], deleted: list[Obj]
    ) -> None:
        """kube's ScalingReplicaSet events, one per pod-template revision touched."""
        if not created and not deleted:
            return
        spec = DeploymentSpec.from_body(deployment)
        active = [p for p in pods if podutil.is_active(p)]

        def count(template_hash: str) -> int:
            return sum(
                1
                for p in active
                if (podutil.meta(p).get("labels") or {}).get(POD_TEMPLATE_HASH) == template_hash
            )

        messages: list[str] = []
        if created:
            messages.append(f"Scaled up replica set {spec.revision_name} to {count(spec.template_hash)}")
        for template_hash in sorted(
            {str((podutil.meta(p).get("labels") or {}).get(POD_TEMPLATE_HASH)) for p in deleted}
        ):
            messages.append(f"Scaled down replica set {spec.name}-{template_hash} to {count(template_hash)}")
        await asyncio.gather(*(self._recorder.record(deployment, "ScalingReplicaSet", m) for m in messages))
