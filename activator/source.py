"""The seam between the data path and wherever routing facts come from.

A `RoutingSource` hands the gateway full snapshots of the objects it routes by (KIngresses,
the Endpoints of revision Services, Revisions, and this gateway's replica slot) whenever they
change. The gateway is level-based: each snapshot replaces the last one entirely.

Two sources exist today: `StaticRoutingSource` (objects held in memory, replaced by calling
`replace`, used by tests and benchmarks) and `FileRoutingSource` (a YAML or JSON file of those
objects, re-read when it changes). The cluster watcher (KIngress class kwake + Endpoints +
Revisions + the gateway's own Endpoints for the replica slot) plugs in here once the shared
Kubernetes client exists.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import yaml

from activator.subsetting import ReplicaSlot

log = logging.getLogger("kwake.gateway.source")


@dataclasses.dataclass(frozen=True)
class ClusterSnapshot:
    ingresses: tuple[Mapping[str, Any], ...] = ()
    endpoints: tuple[Mapping[str, Any], ...] = ()
    revisions: tuple[Mapping[str, Any], ...] = ()
    slot: ReplicaSlot = dataclasses.field(default_factory=ReplicaSlot)

    @classmethod
    def from_objects(
        cls, objects: Iterable[Mapping[str, Any]], slot: ReplicaSlot | None = None
    ) -> ClusterSnapshot:
        """Sort a mixed bag of objects by kind; other kinds are ignored."""
        ingresses, endpoints, revisions = [], [], []
        for obj in objects:
            kind = obj.get("kind")
            if kind == "Ingress" and str(obj.get("apiVersion", "")).startswith("networking.internal"):
                ingresses.append(obj)
            elif kind == "Endpoints":
                endpoints.append(obj)
            elif kind == "Revision":
                revisions.append(obj)
        return cls(tuple(ingresses), tuple(endpoints), tuple(revisions), slot or ReplicaSlot())


Apply = Callable[[ClusterSnapshot], None]


class RoutingSource(Protocol):
    async def run(self, apply: Apply) -> None:
        """Call `apply` with the current snapshot, then again on every change, until cancelled."""
        ...


class StaticRoutingSource:
    """Snapshots given in code; `replace` applies a new one at once (synchronously)."""

    def __init__(self, snapshot: ClusterSnapshot | None = None) -> None:
        self._snapshot = snapshot or ClusterSnapshot()
        self._apply: Apply | None = None

    @property
    def snapshot(self) -> ClusterSnapshot:
        return self._snapshot

    def replace(self, snapshot: ClusterSnapshot) -> None:
        self._snapshot = snapshot
        if self._apply is not None:
            self._apply(snapshot)

    async def run(self, apply: Apply) -> None:
        self._apply = apply
        apply(self._snapshot)
        try:
            await asyncio.Event().wait()
        finally:
            self._apply = None


def parse_objects(text: str) -> list[Mapping[str, Any]]:
    """Objects from JSON or (multi-document) YAML: single objects, lists, or `kind: List`."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        docs: list[Any] = [json.loads(text)]
    else:
        docs = list(yaml.safe_load_all(text))
    objects: list[Mapping[str, Any]] = []
    for doc in docs:
        if doc is None:
            continue
        if isinstance(doc, list):
            objects.extend(doc)
        elif isinstance(doc, dict) and isinstance(doc.get("items"), list):
            objects.extend(doc["items"])
        elif isinstance(doc, dict):
            objects.append(doc)
        else:
            raise ValueError(f"not a Kubernetes object: {doc!r:.80}")
    return objects


class FileRoutingSource:
    """A file of KIngress, Endpoints and Revision objects, re-read when its mtime changes."""

    def __init__(self, path: Path, slot: ReplicaSlot | None = None, poll_s: float = 1.0) -> None:
        self._path = path
        self._slot = slot or ReplicaSlot()
        self._poll_s = poll_s

    def load(self) -> ClusterSnapshot:
        return ClusterSnapshot.from_objects(parse_objects(self._path.read_text()), self._slot)

    async def run(self, apply: Apply) -> None:
        last_mtime = self._path.stat().st_mtime_ns
        apply(await asyncio.to_thread(self.load))
        while True:
            await asyncio.sleep(self._poll_s)
            try:
                mtime = self._path.stat().st_mtime_ns
                if mtime == last_mtime:
                    continue
                last_mtime = mtime
                snapshot = await asyncio.to_thread(self.load)
            except (OSError, ValueError, yaml.YAMLError) as exc:
                log.warning("cannot reload %s, keeping the last routes: %s", self._path, exc)
                continue
            apply(snapshot)
