"""The Kubernetes `ScaleWriter`: decisions to the Deployment's scale subresource and the
PodAutoscaler's status subresource, through the shared `localkube.client`.

Both writes are merge patches of the one field the autoscaler owns, so they never conflict with
the operator (which owns the PodAutoscaler's spec and the Deployment's template) and need no
resourceVersion. A 404 means the object is gone: `TargetGone`, and the service forgets the
revision until the cluster tells of it again.
"""

from __future__ import annotations

from typing import Final

from autoscaler.podautoscaler import KIND
from autoscaler.writer import PodAutoscalerStatus, TargetGone
from localkube.client import DEPLOYMENTS, ApiClient, NotFound, Resource

GROUP: Final = "autoscaling.internal.knative.dev"
VERSION: Final = "v1alpha1"
PODAUTOSCALERS: Final = Resource.custom(GROUP, VERSION, "podautoscalers", KIND)
FIELD_MANAGER: Final = "kwake-autoscaler"


class KubeScaleWriter:
    """`ScaleWriter` against an API server (localkube or a real cluster)."""

    def __init__(self, client: ApiClient) -> None:
        self._client = client

    async def set_scale(self, namespace: str, deployment: str, replicas: int) -> None:
        try:
            await self._client.patch(
                DEPLOYMENTS,
                deployment,
                {"spec": {"replicas": replicas}},
                namespace,
                subresource="scale",
                field_manager=FIELD_MANAGER,
            )
        except NotFound as err:
            raise TargetGone(f"deployment {namespace}/{deployment} not found") from err

    async def write_status(self, namespace: str, name: str, status: PodAutoscalerStatus) -> None:
        try:
            await self._client.patch(
                PODAUTOSCALERS,
                name,
                {"status": status.to_body()},
                namespace,
                subresource="status",
                field_manager=FIELD_MANAGER,
            )
        except NotFound as err:
            raise TargetGone(f"podautoscaler {namespace}/{name} not found") from err
