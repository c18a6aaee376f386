"""What every reconcile step is handed: the API client, the Config, events, references, a clock."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from localkube.client import ApiClient, EventRecorder, NotFound
from localkube.client.resources import Resource
from serving.operator.config_holder import ConfigHolder

log = logging.getLogger("kwake.operator")

Key = tuple[str, str]  # (namespace, name)
Ref = tuple[str, str, str]  # (kind, namespace, name)


class Tracker:
    """Which Routes refer to which Configurations and Revisions, so a change there wakes them."""

    def __init__(self) -> None:
        self._refs: dict[Key, set[Ref]] = {}

    def track(self, route: Key, refs: set[Ref]) -> None:
        if refs:
            self._refs[route] = set(refs)
        else:
            self._refs.pop(route, None)

    def routes_for(self, ref: Ref) -> list[Key]:
        return sorted(route for route, refs in self._refs.items() if ref in refs)


@dataclass
class OperatorContext:
    client: ApiClient
    config: ConfigHolder = field(default_factory=ConfigHolder)
    recorder: EventRecorder | None = None
    tracker: Tracker = field(default_factory=Tracker)
    clock: Callable[[], float] = time.time

    async def event(
        self, obj: Mapping[str, Any], reason: str, message: str, kind: Literal["Normal", "Warning"] = "Normal"
    ) -> None:
        if self.recorder is not None:
            await self.recorder.record(obj, reason, message, type=kind)

    async def write_status(
        self, resource: Resource, body: Mapping[str, Any], status: Mapping[str, Any]
    ) -> None:
        """Patch the status subresource when it changed; fields no longer present are removed."""
        old = dict(body.get("status") or {})
        if dict(status) == old:
            return
        patch: dict[str, Any] = {k: None for k in old if k not in status}
        patch.update(status)
        meta = body["metadata"]
        try:
            await self.client.patch(
                resource, meta["name"], {"status": patch}, meta.get("namespace"), subresource="status"
            )
        except NotFound:
            log.debug(
                "%s %s/%s vanished before its status was written",
                resource.kind,
                meta.get("namespace"),
                meta["name"],
            )
