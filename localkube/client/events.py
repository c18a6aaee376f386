"""Posting core v1 Events about objects, as every Kubernetes component does.

    recorder = EventRecorder(client, component="kwake-kubelet", host="localhost")
    await recorder.record(pod, "Started", "Started container app")
    await recorder.record(pod, "BackOff", "Back-off restarting failed container", type="Warning")

With `EventRecorder(..., aggregate_window=timedelta(minutes=10))`, repeats of one event about
one object bump its `count` and `lastTimestamp` (client-go's aggregation) rather than piling up
objects (off by default). `record` never raises: an event that cannot be posted is logged at
warning level and dropped (events are informational; failing to post one must not break a
reconcile).
`build_event` is the pure part (object + reason + message + time -> Event body).
"""

from __future__ import annotations

import datetime
import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from localkube.client.api import ApiClient
from localkube.client.errors import AlreadyExists
from localkube.client.resources import EVENTS

log = logging.getLogger(__name__)

EventKind = Literal["Normal", "Warning"]


def format_time(moment: datetime.datetime) -> str:
    """RFC 3339 with a `Z`, seconds precision (metav1.Time)."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_micro_time(moment: datetime.datetime) -> str:
    """RFC 3339 with microseconds and a `Z` (metav1.MicroTime)."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _unix_nanos(moment: datetime.datetime) -> int:
    delta = moment - datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def involved_object(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The ObjectReference an Event points at."""
    meta = obj.get("metadata") or {}
    ref: dict[str, Any] = {
        "kind": obj.get("kind", ""),
        "apiVersion": obj.get("apiVersion", ""),
        "name": meta.get("name", ""),
    }
    for source, target in (
        ("namespace", "namespace"),
        ("uid", "uid"),
        ("resourceVersion", "resourceVersion"),
    ):
        if meta.get(source):
            ref[target] = meta[source]
    return ref


def build_event(
    obj: Mapping[str, Any],
    reason: str,
    message: str,
    *,
    type: EventKind = "Normal",
    component: str,
    host: str | None = None,
    now: datetime.datetime,
    action: str | None = None,
) -> dict[str, Any]:
    """A core v1 Event about `obj`, named `{object}.{unix nanoseconds in hex}` as client-go names them."""
    ref = involved_object(obj)
    namespace = ref.get("namespace") or "default"
    source: dict[str, str] = {"component": component}
    if host:
        source["host"] = host
    event: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": {"name": f"{ref['name'] or 'object'}.{_unix_nanos(now):x}", "namespace": namespace},
        "involvedObject": ref,
        "reason": reason,
        "message": message[:1024],
        "type": type,
        "source": source,
        "firstTimestamp": format_time(now),
        "lastTimestamp": format_time(now),
        "eventTime": format_micro_time(now),
        "count": 1,
        "reportingComponent": component,
        "reportingInstance": host or component,
        "action": action or reason,
    }
    return event


class EventRecorder:
    """Posts Events through `client` on behalf of `component` (e.g. `deployment-controller`)."""

    def __init__(
        self,
        client: ApiClient,
        component: str,
        host: str | None = None,
        *,
        aggregate_window: datetime.timedelta | None = None,
        max_remembered: int = 4096,
    ) -> None:
        self._client = client
        self._component = component
        self._host = host
        self._window = aggregate_window
        self._max_remembered = max_remembered
        # (object uid or name, reason, type, message) -> the posted Event and when it was first seen
        self._recent: OrderedDict[tuple[str, str, str, str], _Seen] = OrderedDict()

    async def record(
        self,
        obj: Mapping[str, Any],
        reason: str,
        message: str,
        *,
        type: EventKind = "Normal",
        now: datetime.datetime | None = None,
    ) -> dict[str, Any] | None:
        """Post one Event; returns the Event, or None when posting failed (logged).

        With an `aggregate_window`, the same event about the same object again within it bumps
        the first one's `count` and `lastTimestamp` (as client-go's correlator does: `kubectl
        describe` then shows "x5 over 2m") instead of adding another object.
        """
        moment = now or datetime.datetime.now(datetime.UTC)
        ref = involved_object(obj)
        key = (str(ref.get("uid") or f"{ref.get('namespace')}/{ref.get('name')}"), reason, type, message)
        seen = self._recent.get(key)
        if seen is not None and self._window is not None and moment - seen.first < self._window:
            bumped = await self._bump(seen, moment)
            if bumped is not None:
                return bumped
        created = await self._create(obj, reason, message, type, moment)
        if created is not None and self._window is not None:
            self._remember(key, _Seen(created, moment))
        return created

    async def _bump(self, seen: _Seen, moment: datetime.datetime) -> dict[str, Any] | None:
        meta = seen.event["metadata"]
        count = int(seen.event.get("count") or 1) + 1
        try:
            patched = await self._client.patch(
                EVENTS,
                meta["name"],
                {"count": count, "lastTimestamp": format_time(moment)},
                namespace=meta["namespace"],
            )
        except Exception:  # gone (events expire) or unreachable: post a fresh one instead
            return None
        seen.event = patched
        return patched

    def _remember(self, key: tuple[str, str, str, str], seen: _Seen) -> None:
        self._recent[key] = seen
        self._recent.move_to_end(key)
        while len(self._recent) > self._max_remembered:
            self._recent.popitem(last=False)

    async def _create(
        self, obj: Mapping[str, Any], reason: str, message: str, type: EventKind, moment: datetime.datetime
    ) -> dict[str, Any] | None:
        for attempt in range(3):
            body = build_event(
                obj,
                reason,
                message,
                type=type,
                component=self._component,
                host=self._host,
                now=moment + datetime.timedelta(microseconds=attempt),
            )
            try:
                return await self._client.create(EVENTS, body, namespace=body["metadata"]["namespace"])
            except AlreadyExists:
                continue  # two events in the same microsecond: the name is the time, so shift it
            except Exception as exc:  # events are best effort by design
                log.warning(
                    "could not post event %s for %s: %s", reason, involved_object(obj).get("name"), exc
                )
                return None
        return None


@dataclass
class _Seen:
    event: dict[str, Any]
    first: datetime.datetime
