"""Gradual rollout (fact sheet §5) stepped with a synthetic clock."""

from __future__ import annotations

from typing import Any

from serving.api.config import Config
from serving.api.types import Route, traffic_of
from serving.reconciler.route.resources.ingress import make_ingress, route_status_fields
from serving.reconciler.route.rollout import (
    ConfigurationRollout,
    RevisionRollout,
    Rollout,
    StepParams,
    goal_rollout,
    observe_ready,
    rollout_duration,
    step,
)
from serving.reconciler.route.traffic import ResolvedTraffic, RevisionTarget

T0 = 1_000.0


def _goal(rev: str, percent: int = 100, tag: str = "") -> Rollout:
    resolved = ResolvedTraffic(targets={tag: (RevisionTarget(rev, percent, tag, "hello", True),)})
    return goal_rollout(resolved)


def _shares(r: Rollout) -> list[tuple[str, int]]:
    (c,) = r.configurations
    return [(x.revision_name, x.percent) for x in c.revisions]


def test_goal_only_covers_latest_revision_targets() -> None:
    resolved = ResolvedTraffic(
        targets={
            "": (RevisionTarget("a", 60, "", "hello", False), RevisionTarget("b", 40, "", "hello", True)),
            "t": (RevisionTarget("b", 100, "t", "hello", True),),
        }
    )
    goal = goal_rollout(resolved)
    assert [(c.tag, c.configuration_name, c.percent) for c in goal.configurations] == [
        ("", "hello", 40),
        ("t", "hello", 100),
    ]


def test_first_rollout_is_the_goal() -> None:
    assert step(None, _goal("hello-00001"), T0) == _goal("hello-00001")


def test_full_rollout_over_time() -> None:
    prev = _goal("hello-00001")
    r = step(prev, _goal("hello-00002"), T0)
    assert _shares(r) == [("hello-00001", 99), ("hello-00002", 1)]
    assert r.in_progress
    assert r.configurations[0].step_params == StepParams(start_time=T0)
    # Nothing moves before the ingress has served the 1%.
    assert step(r, _goal("hello-00002"), T0 + 100) == r
    # Ingress ready after 2 s; duration 60 s: min_step 2, 29 steps of 3.41%, every 2 s.
    r = observe_ready(r, T0 + 2, 60)
    p = r.configurations[0].step_params
    assert (p.step_size, p.step_duration, p.next_step_time) == (3, 2.0, T0 + 4)
    assert r.next_step_time() == T0 + 4
    assert step(r, _goal("hello-00002"), T0 + 3) == r
    r = step(r, _goal("hello-00002"), T0 + 4)
    assert _shares(r) == [("hello-00001", 96), ("hello-00002", 4)]
    now = T0 + 4
    while r.in_progress:
        now += 2
        r = step(r, _goal("hello-00002"), now)
        assert now < T0 + 200
    assert _shares(r) == [("hello-00002", 100)]
    assert r == _goal("hello-00002")


def test_another_revision_mid_rollout_takes_from_the_newest_older_one() -> None:
    r = step(_goal("a"), _goal("b"), T0)
    r = observe_ready(r, T0 + 1, 10)
    r = step(r, _goal("b"), r.next_step_time() or 0)
    before = dict(_shares(r))
    r = step(r, _goal("c"), T0 + 5)
    assert _shares(r) == [("a", before["a"]), ("b", before["b"] - 1), ("c", 1)]


def test_changed_percent_drops_the_rollout() -> None:
    r = step(_goal("a", 100), _goal("b", 100), T0)
    assert step(r, _goal("b", 50), T0 + 1) == _goal("b", 50)


def test_short_duration_completes_in_one_step() -> None:
    r = observe_ready(step(_goal("a"), _goal("b"), T0), T0 + 5, 3)
    r = step(r, _goal("b"), T0 + 5)
    assert r == _goal("b")


def test_json_round_trip_and_damaged_annotation() -> None:
    r = Rollout(
        (
            ConfigurationRollout(
                "hello", "", 100, (RevisionRollout("a", 90), RevisionRollout("b", 10)), StepParams(1, 2, 3, 4)
            ),
        )
    )
    assert Rollout.from_json(r.to_json()) == r
    assert Rollout.from_json("{not json") is None
    assert Rollout.from_json(None) is None


def test_duration_from_annotation_or_config() -> None:
    def route(annotations: dict[str, str]) -> Route:
        return Route.from_body({"metadata": {"name": "r", "annotations": annotations}})

    cfg = Config.from_configmaps({"config-network": {"rollout-duration": "120"}})
    assert rollout_duration(route({}), cfg) == 120
    assert rollout_duration(route({"serving.knative.dev/rollout-duration": "90s"}), cfg) == 90
    assert rollout_duration(route({}), Config()) == 0


def test_ingress_splits_follow_the_rollout() -> None:
    traffic: list[dict[str, Any]] = [{"configurationName": "hello", "latestRevision": True, "percent": 100}]
    route = Route.from_body(
        {"metadata": {"name": "hello", "namespace": "default"}, "spec": {"traffic": traffic}}
    )
    assert traffic_of(traffic)
    resolved = ResolvedTraffic(targets={"": (RevisionTarget("hello-00002", 100, "", "hello", True),)})
    rollout = step(_goal("hello-00001"), goal_rollout(resolved), T0)
    ing = make_ingress(route, resolved, Config(), rollout)
    splits = ing["spec"]["rules"][0]["http"]["paths"][0]["splits"]
    assert [(s["serviceName"], s["percent"]) for s in splits] == [("hello-00001", 99), ("hello-00002", 1)]
    assert (
        Rollout.from_json(ing["metadata"]["annotations"]["networking.internal.knative.dev/rollout"])
        == rollout
    )


def test_route_status_shows_the_split_actually_served() -> None:
    route = Route.from_body({"metadata": {"name": "hello", "namespace": "default"}})
    resolved = ResolvedTraffic(
        targets={"": (RevisionTarget("hello-00002", 100, "", "hello", True),)},
        revision_targets=(RevisionTarget("hello-00002", 100, "", "hello", True),),
    )
    rollout = step(_goal("hello-00001"), goal_rollout(resolved), T0)
    status = route_status_fields(route, resolved, Config(), rollout)
    assert status["traffic"] == [
        {"revisionName": "hello-00001", "latestRevision": False, "percent": 99},
        {"revisionName": "hello-00002", "latestRevision": True, "percent": 1},
    ]
    done = route_status_fields(route, resolved, Config(), goal_rollout(resolved))
    assert done["traffic"] == [{"revisionName": "hello-00002", "latestRevision": True, "percent": 100}]
