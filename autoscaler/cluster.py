"""What the cluster tells the autoscaler: informers on PodAutoscalers, their Deployments and the
system ConfigMaps, feeding `AutoscalerService`.

* PodAutoscaler added or its spec/annotations changed -> `upsert_podautoscaler` (with the ready
  pods of its Deployment), then `reconcile` at once, as Knative's PA reconciler runs on the event;
  deleted -> `remove_revision`. Updates that only touch the status (our own writes) are skipped.
* Deployment (of a revision) ready pods changed -> `observe`, then `reconcile` at once, so the
  status shows the new actual scale and an activation ends without waiting for the 2 s tick; its
  spec.replicas tells the service what is applied (a hand-made `kubectl scale` is undone at the
  next tick). Deleted -> the revision is forgotten; re-created -> taken up again.
* `config-autoscaler` and `config-deployment` in the system namespace -> `set_config` and
  `set_deployment_config` (bad data is logged and the previous config kept; a deleted ConfigMap
  means the defaults).

During the first list nothing is reconciled per event: the first tick decides for all at once.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from autoscaler.kube import PODAUTOSCALERS
from autoscaler.podautoscaler import InvalidBody, PodAutoscalerInfo, deployment_counts
from autoscaler.service import AutoscalerService
from localkube.client import CONFIGMAPS, DEPLOYMENTS, ApiClient, Informer
from serving.api.config import SYSTEM_NAMESPACE

logger = logging.getLogger(__name__)

CONFIG_AUTOSCALER: Final = "config-autoscaler"
CONFIG_DEPLOYMENT: Final = "config-deployment"
# The revision reconciler labels every Deployment it makes with its revision; only those are
# scaled by a PodAutoscaler, so the cache stays small on a cluster with many other Deployments.
REVISION_DEPLOYMENTS: Final = "serving.knative.dev/revision"

Obj = dict[str, Any]


def _meta(obj: Obj) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _ns_name(obj: Obj) -> tuple[str, str]:
    meta = _meta(obj)
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _spec_view(pa: Obj) -> tuple[Any, ...]:
    """What of a PodAutoscaler the autoscaler reads; a change elsewhere (status) is not news."""
    meta = _meta(pa)
    return (meta.get("generation"), meta.get("annotations"), pa.get("spec"))


class ClusterWatcher:
    """Keeps `service` in step with the cluster. `async with` starts and stops the informers."""

    def __init__(
        self,
        client: ApiClient,
        service: AutoscalerService,
        *,
        system_namespace: str = SYSTEM_NAMESPACE,
        deployment_selector: str | None = REVISION_DEPLOYMENTS,
    ) -> None:
        self._service = service
        self._live = False
        # (namespace, deployment) -> PodAutoscaler name, from the PAs' scaleTargetRef.
        self._targets: dict[tuple[str, str], str] = {}
        self._deployment_of: dict[tuple[str, str], str] = {}
        self.configmaps = Informer(
            client,
            CONFIGMAPS,
            namespace=system_namespace,
            on_add=self._configmap_changed,
            on_update=lambda _old, new: self._configmap_changed(new),
            on_delete=self._configmap_deleted,
            name="autoscaler:configmaps",
        )
        self.deployments = Informer(
            client,
            DEPLOYMENTS,
            label_selector=deployment_selector,
            on_add=self._deployment_added,
            on_update=self._deployment_updated,
            on_delete=self._deployment_deleted,
            name="autoscaler:deployments",
        )
        self.podautoscalers = Informer(
            client,
            PODAUTOSCALERS,
            on_add=self._pa_added,
            on_update=self._pa_updated,
            on_delete=self._pa_deleted,
            name="autoscaler:podautoscalers",
        )

    async def start(self) -> None:
        """Start the informers and wait for their first lists: config first, so revisions are
        added under the cluster's config, then Deployments, so they are added with their pods."""
        for informer in (self.configmaps, self.deployments, self.podautoscalers):
            informer.start()
            await informer.wait_synced()
        self._live = True

    async def stop(self) -> None:
        self._live = False
        for informer in (self.podautoscalers, self.deployments, self.configmaps):
            await informer.stop()

    async def __aenter__(self) -> ClusterWatcher:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------ config

    async def _configmap_changed(self, cm: Obj) -> None:
        _, name = _ns_name(cm)
        data = cm.get("data") or {}
        if not isinstance(data, dict):
            data = {}
        if name == CONFIG_AUTOSCALER:
            self._service.set_config(data)
        elif name == CONFIG_DEPLOYMENT:
            self._service.set_deployment_config(data)

    async def _configmap_deleted(self, cm: Obj) -> None:
        await self._configmap_changed({"metadata": _meta(cm), "data": {}})

    # ------------------------------------------------------------ PodAutoscalers

    async def _pa_added(self, pa: Obj) -> None:
        await self._take_up(pa)

    async def _pa_updated(self, old: Obj, new: Obj) -> None:
        namespace, name = _ns_name(new)
        if _spec_view(old) == _spec_view(new) and self._service.has_revision(namespace, name):
            return
        await self._take_up(new)

    async def _pa_deleted(self, pa: Obj) -> None:
        namespace, name = _ns_name(pa)
        self._forget_target(namespace, name)
        self._service.remove_revision(namespace, name)

    async def _take_up(self, pa: Obj) -> None:
        try:
            info = PodAutoscalerInfo.from_body(pa)
        except InvalidBody as err:
            logger.warning("ignoring PodAutoscaler: %s", err)
            namespace, name = _ns_name(pa)
            self._forget_target(namespace, name)
            self._service.remove_revision(namespace, name)
            return
        self._forget_target(info.namespace, info.name)
        self._targets[(info.namespace, info.deployment)] = info.name
        self._deployment_of[(info.namespace, info.name)] = info.deployment
        deployment = self.deployments.get(info.deployment, info.namespace)
        ready, replicas = deployment_counts(deployment) if deployment is not None else (0, None)
        self._service.upsert_podautoscaler(pa, ready=ready)
        if replicas is not None:
            self._service.observe(info.namespace, info.name, replicas=replicas)
        await self._reconcile(info.namespace, info.name)

    def _forget_target(self, namespace: str, name: str) -> None:
        deployment = self._deployment_of.pop((namespace, name), None)
        if deployment is not None and self._targets.get((namespace, deployment)) == name:
            del self._targets[(namespace, deployment)]

    # ------------------------------------------------------------ Deployments

    async def _deployment_added(self, deployment: Obj) -> None:
        await self._deployment_changed(None, deployment)

    async def _deployment_updated(self, old: Obj, new: Obj) -> None:
        await self._deployment_changed(old, new)

    async def _deployment_changed(self, old: Obj | None, new: Obj) -> None:
        namespace, name = _ns_name(new)
        pa_name = self._targets.get((namespace, name))
        if pa_name is None:
            return  # no PodAutoscaler scales it (yet); a PA added later reads it from the cache
        if not self._service.has_revision(namespace, pa_name):
            # Forgotten when its Deployment went away; the Deployment is back.
            pa = self.podautoscalers.get(pa_name, namespace)
            if pa is not None:
                await self._take_up(pa)
            return
        ready, replicas = deployment_counts(new)
        old_ready = deployment_counts(old)[0] if old is not None else None
        self._service.observe(namespace, pa_name, ready=ready, replicas=replicas)
        if ready != old_ready:
            await self._reconcile(namespace, pa_name)

    async def _deployment_deleted(self, deployment: Obj) -> None:
        namespace, name = _ns_name(deployment)
        pa_name = self._targets.get((namespace, name))
        if pa_name is not None:
            logger.info("deployment %s/%s deleted; forgetting revision %s", namespace, name, pa_name)
            self._service.remove_revision(namespace, pa_name)

    # ------------------------------------------------------------ reconciling

    async def _reconcile(self, namespace: str, name: str) -> None:
        if self._live:
            await self._service.reconcile(namespace, name)
