"""Table tests for the controllers' pure parts: pod plans, Deployment status, Endpoints subsets."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from localkube.controllers import pods as podutil
from localkube.controllers.deployment_plan import (
    POD_TEMPLATE_HASH,
    DeploymentSpec,
    plan_pods,
    template_hash,
)
from localkube.controllers.deployment_status import compute_status, status_patch
from localkube.controllers.endpoints_plan import desired_subsets, endpoints_patch
from localkube.controllers.endpointslice_plan import desired_slices, slice_patch

Obj = dict[str, Any]

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)


def ago(seconds: float) -> str:
    return podutil.format_time(NOW - datetime.timedelta(seconds=seconds))


def deployment(
    replicas: int = 3,
    *,
    surge: Any = 1,
    unavailable: Any = 0,
    image: str = "v1",
    status: Obj | None = None,
    **spec: Any,
) -> Obj:
    labels = {"app": "web"}
    body: Obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ns", "uid": "dep-uid", "generation": 4},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
            },
            "progressDeadlineSeconds": 600,
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
            **spec,
        },
    }
    if status is not None:
        body["status"] = status
    return body


def pod(
    name: str,
    dep: Obj,
    *,
    ready_for: float | None = None,
    created: float = 100,
    current: bool = True,
    terminating: bool = False,
    phase: str = "Running",
) -> Obj:
    template_hash_value = template_hash(dep["spec"]["template"]) if current else "old"
    conditions = []
    if ready_for is not None:
        conditions.append({"type": "Ready", "status": "True", "lastTransitionTime": ago(ready_for)})
    else:
        conditions.append({"type": "Ready", "status": "False", "lastTransitionTime": ago(created)})
    meta: Obj = {
        "name": name,
        "namespace": "ns",
        "uid": f"uid-{name}",
        "creationTimestamp": ago(created),
        "labels": {"app": "web", POD_TEMPLATE_HASH: template_hash_value},
        "ownerReferences": [{"kind": "Deployment", "name": "web", "uid": "dep-uid", "controller": True}],
    }
    if terminating:
        meta["deletionTimestamp"] = ago(0)
    return {
        "metadata": meta,
        "spec": {"nodeName": "local"},
        "status": {"phase": phase, "conditions": conditions, "podIP": "127.0.0.1"},
    }


def names(pods: tuple[Obj, ...]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


# --- plan_pods -------------------------------------------------------------------------------


def test_new_deployment_creates_pods_owned_and_labelled() -> None:
    dep = deployment(3)
    actions = plan_pods(dep, [], NOW)
    assert len(actions.creates) == 3 and not actions.deletes
    created = actions.creates[0]
    hash_value = template_hash(dep["spec"]["template"])
    assert created["metadata"]["generateName"] == f"web-{hash_value}-"
    assert created["metadata"]["labels"] == {"app": "web", POD_TEMPLATE_HASH: hash_value}
    owner = created["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("Deployment", "dep-uid", True)
    assert created["spec"] == dep["spec"]["template"]["spec"]
    assert created["spec"] is not dep["spec"]["template"]["spec"]


def test_template_hash_is_stable_and_kube_shaped() -> None:
    template = deployment()["spec"]["template"]
    assert template_hash(template) == template_hash(dict(reversed(list(template.items()))))
    assert template_hash(template) != template_hash(deployment(image="v2")["spec"]["template"])
    assert set(template_hash(template)) <= set("bcdfghjklmnpqrstvwxz2456789")


@pytest.mark.parametrize(
    ("replicas", "expected_deleted"),
    [
        (2, ["starting"]),  # not ready goes first
        (1, ["starting", "young"]),  # then the most recently ready
        (0, ["starting", "young", "old"]),
    ],
)
def test_scale_down_removes_not_ready_then_youngest(replicas: int, expected_deleted: list[str]) -> None:
    dep = deployment(replicas)
    pods = [
        pod("old", dep, ready_for=300, created=400),
        pod("young", dep, ready_for=10, created=20),
        pod("starting", dep, created=500),
    ]
    assert names(plan_pods(dep, pods, NOW).deletes) == expected_deleted


def test_terminating_and_failed_pods_do_not_count() -> None:
    dep = deployment(2)
    pods = [
        pod("gone", dep, ready_for=5, terminating=True),
        pod("dead", dep, phase="Failed"),
        pod("ok", dep, ready_for=5),
    ]
    actions = plan_pods(dep, pods, NOW)
    assert len(actions.creates) == 1 and not actions.deletes


def test_deleted_deployment_is_left_to_the_garbage_collector() -> None:
    dep = deployment(3)
    dep["metadata"]["deletionTimestamp"] = ago(1)
    assert plan_pods(dep, [], NOW).empty


@pytest.mark.parametrize(
    ("pods_spec", "creates", "deleted"),
    [
        # two old ready pods, template changed: surge one new pod, delete nothing yet
        ([("o1", False, 100), ("o2", False, 90)], 1, []),
        # the new pod is not ready: still delete nothing (maxUnavailable 0)
        ([("o1", False, 100), ("o2", False, 90), ("n1", True, None)], 0, []),
        # the new pod is ready: one old pod may go, and no extra surge while three run
        ([("o1", False, 100), ("o2", False, 90), ("n1", True, 5)], 0, ["o2"]),
        # one old left beside one ready new pod: surge the second new pod
        ([("o1", False, 100), ("n1", True, 5)], 1, []),
        # both new pods ready: the last old pod goes
        ([("o1", False, 100), ("n1", True, 5), ("n2", True, 1)], 0, ["o1"]),
    ],
)
def test_rolling_update_with_max_unavailable_zero(
    pods_spec: list[tuple[str, bool, float | None]], creates: int, deleted: list[str]
) -> None:
    dep = deployment(2, surge=1, unavailable=0, image="v2")
    pods = [pod(n, dep, current=cur, ready_for=ready) for n, cur, ready in pods_spec]
    actions = plan_pods(dep, pods, NOW)
    assert (len(actions.creates), names(actions.deletes)) == (creates, deleted)


def test_rolling_update_removes_unhealthy_old_pods_first() -> None:
    dep = deployment(2, surge=1, unavailable=0, image="v2")
    pods = [
        pod("o-ready", dep, current=False, ready_for=100),
        pod("o-broken", dep, current=False),
        pod("n1", dep, ready_for=3),
    ]
    assert names(plan_pods(dep, pods, NOW).deletes) == ["o-broken"]


def test_recreate_deletes_old_pods_before_creating_new_ones() -> None:
    dep = deployment(2, image="v2", strategy={"type": "Recreate"})
    old = [pod("o1", dep, current=False, ready_for=5), pod("o2", dep, current=False, ready_for=5)]
    first = plan_pods(dep, old, NOW)
    assert (len(first.creates), names(first.deletes)) == (0, ["o1", "o2"])
    dying = [pod("o1", dep, current=False, terminating=True)]
    assert plan_pods(dep, dying, NOW).empty
    assert len(plan_pods(dep, [], NOW).creates) == 2


def test_percentages_resolve_as_kube_does() -> None:
    spec = DeploymentSpec.from_body(deployment(10, surge="25%", unavailable="25%"))
    assert (spec.max_surge, spec.max_unavailable) == (3, 2)
    spec = DeploymentSpec.from_body(deployment(1, surge="25%", unavailable="25%"))
    assert (spec.max_surge, spec.max_unavailable) == (1, 0)


# --- compute_status --------------------------------------------------------------------------


def conditions(status: Obj) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status.get("conditions", [])}


def test_status_of_a_new_deployment_without_pods() -> None:
    result = compute_status(deployment(1), [], NOW)
    assert result.status["observedGeneration"] == 4
    assert result.status["unavailableReplicas"] == 1
    assert "replicas" not in result.status  # zero counts are omitted, as the Go API does
    assert conditions(result.status) == {
        "Available": ("False", "MinimumReplicasUnavailable"),
        "Progressing": ("True", "NewReplicaSetCreated"),
    }
    assert result.requeue_after == pytest.approx(600.5)


def test_status_when_every_pod_is_available() -> None:
    dep = deployment(2)
    pods = [pod("a", dep, ready_for=5), pod("b", dep, ready_for=5)]
    status = compute_status(dep, pods, NOW).status
    assert {
        k: status.get(k) for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
    } == {
        "replicas": 2,
        "updatedReplicas": 2,
        "readyReplicas": 2,
        "availableReplicas": 2,
    }
    assert "unavailableReplicas" not in status
    assert conditions(status) == {
        "Available": ("True", "MinimumReplicasAvailable"),
        "Progressing": ("True", "NewReplicaSetAvailable"),
    }
    rs = f"web-{template_hash(dep['spec']['template'])}"
    progressing = status["conditions"][1]
    assert progressing["message"] == f'ReplicaSet "{rs}" has successfully progressed.'


def test_progress_resets_the_deadline_and_no_progress_exceeds_it() -> None:
    dep = deployment(1)
    rs = f"web-{template_hash(dep['spec']['template'])}"
    stuck = {
        "type": "Progressing",
        "status": "True",
        "reason": "ReplicaSetUpdated",
        "message": f'ReplicaSet "{rs}" is progressing.',
        "lastUpdateTime": ago(601),
        "lastTransitionTime": ago(700),
    }
    dep["status"] = {"replicas": 1, "updatedReplicas": 1, "conditions": [stuck]}
    pods = [pod("a", dep)]
    timed_out = compute_status(dep, pods, NOW)
    assert conditions(timed_out.status)["Progressing"] == ("False", "ProgressDeadlineExceeded")
    assert timed_out.requeue_after is None
    # 599 s without progress: not yet, and look again just after the deadline.
    stuck["lastUpdateTime"] = ago(599)
    pending = compute_status(dep, pods, NOW)
    assert conditions(pending.status)["Progressing"] == ("True", "ReplicaSetUpdated")
    assert pending.requeue_after == pytest.approx(1.5)
    # the pod turned ready: progress, so lastUpdateTime moves to now
    progressed = compute_status(dep, [pod("a", dep, ready_for=0)], NOW)
    assert conditions(progressed.status)["Progressing"] == ("True", "NewReplicaSetAvailable")


def test_scaled_to_zero_is_available_and_complete() -> None:
    status = compute_status(deployment(0), [], NOW).status
    assert conditions(status) == {
        "Available": ("True", "MinimumReplicasAvailable"),
        "Progressing": ("True", "NewReplicaSetAvailable"),
    }
    assert set(status) == {"observedGeneration", "conditions"}


def test_min_ready_seconds_delays_availability() -> None:
    dep = deployment(1, minReadySeconds=10)
    result = compute_status(dep, [pod("a", dep, ready_for=4)], NOW)
    assert result.status["readyReplicas"] == 1
    assert "availableReplicas" not in result.status
    assert result.requeue_after == pytest.approx(6.05)


def test_recomputing_an_unchanged_status_writes_nothing() -> None:
    dep = deployment(2)
    pods = [pod("a", dep, ready_for=5), pod("b", dep)]
    first = compute_status(dep, pods, NOW).status
    dep["status"] = first
    later = NOW + datetime.timedelta(seconds=30)
    assert status_patch(first, compute_status(dep, pods, later).status) is None


def test_status_patch_nulls_what_went_away() -> None:
    assert status_patch({"readyReplicas": 1, "replicas": 1}, {"replicas": 1}) == {"readyReplicas": None}
    assert status_patch({"replicas": 1}, {"replicas": 1}) is None


# --- endpoints -------------------------------------------------------------------------------


def service(target_port: Any = "http", **spec: Any) -> Obj:
    return {
        "metadata": {"name": "web", "namespace": "ns", "labels": {"team": "a"}},
        "spec": {
            "selector": {"app": "web"},
            "ports": [{"name": "main", "port": 80, "targetPort": target_port, "protocol": "TCP"}],
            **spec,
        },
    }


def served_pod(name: str, port: int, *, ready: bool = True, **extra: Any) -> Obj:
    body: Obj = {
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", "labels": {"app": "web"}},
        "spec": {
            "nodeName": "local",
            "containers": [{"name": "c", "ports": [{"name": "http", "containerPort": port}]}],
        },
        "status": {
            "phase": "Running",
            "podIP": "127.0.0.1",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }
    body["metadata"].update(extra.pop("metadata", {}))
    body.update(extra)
    return body


def address(name: str) -> Obj:
    ref = {"kind": "Pod", "namespace": "ns", "name": name, "uid": f"uid-{name}"}
    return {"ip": "127.0.0.1", "targetRef": ref, "nodeName": "local"}


def test_named_target_ports_resolve_per_pod_into_subsets() -> None:
    pods = [served_pod("a", 9001), served_pod("b", 9002, ready=False), served_pod("c", 9001)]
    assert desired_subsets(service(), pods) == [
        {
            "addresses": [address("a"), address("c")],
            "ports": [{"port": 9001, "protocol": "TCP", "name": "main"}],
        },
        {"notReadyAddresses": [address("b")], "ports": [{"port": 9002, "protocol": "TCP", "name": "main"}]},
    ]


def test_excluded_pods_terminating_unaddressed_unselected_finished_unresolvable() -> None:
    pods = [
        served_pod("leaving", 9001, metadata={"deletionTimestamp": ago(0)}),
        served_pod("no-ip", 9001, status={"phase": "Pending"}),
        served_pod("other", 9001, metadata={"labels": {"app": "other"}}),
        served_pod("done", 9001, status={"phase": "Succeeded", "podIP": "127.0.0.1"}),
        served_pod("unnamed", 9001, spec={"containers": [{"name": "c", "ports": [{"containerPort": 9001}]}]}),
        served_pod("kept", 9003),
    ]
    subsets = desired_subsets(service(), pods)
    assert [a["targetRef"]["name"] for s in subsets for a in s.get("addresses", [])] == ["kept"]


def test_numeric_and_defaulted_target_ports() -> None:
    pods = [served_pod("a", 9001)]
    assert desired_subsets(service(8080), pods)[0]["ports"][0]["port"] == 8080
    defaulted = service()
    del defaulted["spec"]["ports"][0]["targetPort"]
    assert desired_subsets(defaulted, pods)[0]["ports"][0]["port"] == 80


def test_publish_not_ready_addresses_and_selectorless_services() -> None:
    pods = [served_pod("a", 9001, ready=False)]
    assert "addresses" in desired_subsets(service(publishNotReadyAddresses=True), pods)[0]
    assert desired_subsets(service(selector=None), pods) == []


def test_endpoints_patch_writes_only_differences() -> None:
    svc = service()
    subsets = desired_subsets(svc, [served_pod("a", 9001)])
    current: Obj = {"metadata": {"name": "web", "labels": {"team": "a"}}, "subsets": subsets}
    assert endpoints_patch(current, svc, subsets) is None
    current["metadata"]["labels"] = {"stale": "x"}
    assert endpoints_patch(current, svc, []) == {
        "subsets": [],
        "metadata": {"labels": {"stale": None, "team": "a"}},
    }


def test_a_refused_create_is_a_replica_failure_until_creates_work() -> None:
    dep = deployment(1)
    failed = compute_status(dep, [], NOW, create_failure='pods "web-x-" is forbidden: quota').status
    assert conditions(failed)["ReplicaFailure"] == ("True", "FailedCreate")
    assert failed["conditions"][2]["message"] == 'pods "web-x-" is forbidden: quota'
    dep["status"] = failed
    assert "ReplicaFailure" not in conditions(compute_status(dep, [pod("a", dep)], NOW).status)


# --- endpoint slices -------------------------------------------------------------------------


def test_slices_group_endpoints_by_port_and_keep_terminating_pods() -> None:
    svc = service()
    svc["metadata"]["uid"] = "svc-uid"
    pods = [
        served_pod("a", 9001),
        served_pod("b", 9002, ready=False),
        served_pod("leaving", 9001, metadata={"deletionTimestamp": ago(0)}),
    ]
    slices = desired_slices(svc, pods)
    assert [[p["port"] for p in s["ports"]] for s in slices] == [[9001], [9002]]
    first = slices[0]
    assert first["metadata"]["labels"]["kubernetes.io/service-name"] == "web"
    assert first["metadata"]["ownerReferences"][0]["uid"] == "svc-uid"
    assert first["addressType"] == "IPv4"
    assert [(e["targetRef"]["name"], e["conditions"]) for e in first["endpoints"]] == [
        ("a", {"ready": True, "serving": True, "terminating": False}),
        ("leaving", {"ready": False, "serving": True, "terminating": True}),
    ]
    assert slices[1]["endpoints"][0]["conditions"]["ready"] is False
    assert len({s["metadata"]["name"] for s in slices}) == 2


def test_a_service_without_endpoints_keeps_one_empty_slice() -> None:
    slices = desired_slices(service(), [])
    assert [(s["endpoints"], s["ports"]) for s in slices] == [([], [])]
    assert slice_patch(slices[0], slices[0]) is None
