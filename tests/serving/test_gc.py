"""Revision GC selection (fact sheet §6) and routing-state labelling, with `now` passed in."""

from __future__ import annotations

from serving.api.config.gc import DISABLED, GCConfig
from serving.api.meta import format_time
from serving.api.types import Revision
from serving.reconciler.gc.collect import select_revisions_to_delete
from serving.reconciler.labeler.routing_state import desired_routing_state, routing_state_patch

from .fixtures import revision_body

HOUR = 3600.0
NOW = 1_000_000_000.0


def _rev(
    i: int, *, age_h: float, active_h: float | None = None, state: str = "reserve", no_gc: bool = False
) -> Revision:
    body = revision_body(f"hello-{i:05d}", routing_state=state)
    body["metadata"]["creationTimestamp"] = format_time(NOW - age_h * HOUR)
    anns = body["metadata"]["annotations"]
    anns["serving.knative.dev/routingStateModified"] = format_time(
        NOW - (active_h if active_h is not None else age_h) * HOUR
    )
    if no_gc:
        anns["serving.knative.dev/no-gc"] = "true"
    return Revision.from_body(body)


def test_defaults_keep_twenty() -> None:
    revs = [_rev(i, age_h=100) for i in range(1, 26)]
    doomed = select_revisions_to_delete("hello-00025", revs, GCConfig(), NOW)
    # 24 non-active (00025 is latest ready), all stale: delete down to 20.
    assert doomed == ["hello-00001", "hello-00002", "hello-00003", "hello-00004"]


def test_active_pinned_and_recent_revisions_are_kept() -> None:
    cfg = GCConfig(
        retain_since_create_time=HOUR, retain_since_last_active_time=HOUR, min_non_active_revisions=0
    )
    revs = [
        _rev(1, age_h=10),  # stale
        _rev(2, age_h=10, no_gc=True),  # pinned
        _rev(3, age_h=10, state="active"),  # routed
        _rev(4, age_h=10, state="pending"),  # not yet routed
        _rev(5, age_h=0.5),  # created recently
        _rev(6, age_h=10, active_h=0.5),  # active recently
        _rev(7, age_h=10),  # latest ready
    ]
    assert select_revisions_to_delete("hello-00007", revs, cfg, NOW) == ["hello-00001"]


def test_max_non_active_deletes_oldest_extra() -> None:
    cfg = GCConfig(
        retain_since_create_time=DISABLED,
        retain_since_last_active_time=DISABLED,
        min_non_active_revisions=0,
        max_non_active_revisions=2,
    )
    revs = [_rev(i, age_h=10 - i) for i in range(1, 6)]
    assert select_revisions_to_delete("", revs, cfg, NOW) == ["hello-00001", "hello-00002", "hello-00003"]


def test_all_disabled_deletes_nothing() -> None:
    cfg = GCConfig(DISABLED, DISABLED, 0, DISABLED)
    assert select_revisions_to_delete("", [_rev(i, age_h=100) for i in range(1, 5)], cfg, NOW) == []


def test_routing_state() -> None:
    pending = _rev(1, age_h=1, state="pending")
    assert desired_routing_state(pending, ["hello"], latest_created=True) == "active"
    assert desired_routing_state(pending, [], latest_created=True) == "pending"
    assert desired_routing_state(pending, [], latest_created=False) == "reserve"
    assert desired_routing_state(_rev(2, age_h=1, state="active"), [], latest_created=True) == "reserve"


def test_routing_state_patch() -> None:
    active = _rev(1, age_h=1, state="active")  # fixture has routes=hello
    assert routing_state_patch(active, ["hello"], latest_created=True, now=NOW) is None
    assert routing_state_patch(active, [], latest_created=True, now=NOW) == {
        "metadata": {
            "labels": {"serving.knative.dev/routingState": "reserve"},
            "annotations": {
                "serving.knative.dev/routingStateModified": format_time(NOW),
                "serving.knative.dev/routes": None,
            },
        }
    }
    assert routing_state_patch(active, ["b", "hello"], latest_created=True, now=NOW) == {
        "metadata": {"annotations": {"serving.knative.dev/routes": "b,hello"}}
    }
