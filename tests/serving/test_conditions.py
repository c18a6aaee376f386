"""Condition sets behave as knative.dev/pkg's, and the named transitions say what Knative says."""

from __future__ import annotations

from typing import Any

from serving.api.conditions import ConditionSet, get
from serving.api.lifecycle import configuration, ingress, podautoscaler, revision, route, service
from serving.api.meta import format_time

T0, T1, T2 = 1000.0, 2000.0, 3000.0
SET = ConditionSet("Ready", ("A", "B"))


def _state(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c.get("reason", "")) for c in status["conditions"]}


def test_initialize_adds_unknown_conditions_once() -> None:
    s = SET.initialize({}, T0)
    assert _state(s) == {"A": ("Unknown", ""), "B": ("Unknown", ""), "Ready": ("Unknown", "")}
    assert all(c["lastTransitionTime"] == format_time(T0) for c in s["conditions"])
    assert SET.initialize(s, T1) == s


def test_ready_needs_every_dependent() -> None:
    s = SET.initialize({}, T0)
    s = SET.mark_true(s, "A", T1)
    assert _state(s)["Ready"][0] == "Unknown"
    s = SET.mark_true(s, "B", T2)
    assert _state(s)["Ready"] == ("True", "")


def test_false_dependent_propagates_and_trumps_unknown() -> None:
    s = SET.initialize({}, T0)
    s = SET.mark_false(s, "A", "Broken", "it broke", T1)
    ready = get(s, "Ready")
    assert ready is not None and (ready.status, ready.reason, ready.message) == (
        "False",
        "Broken",
        "it broke",
    )
    s = SET.mark_unknown(s, "B", "Waiting", "", T2)
    assert _state(s)["Ready"] == ("False", "Broken")
    # Marking the other one true leaves Ready reflecting the failed dependent.
    s = SET.mark_true(s, "B", T2)
    assert _state(s)["Ready"] == ("False", "Broken")


def test_transition_time_changes_only_on_change() -> None:
    s = SET.mark_false(SET.initialize({}, T0), "A", "R", "m", T1)
    again = SET.mark_false(s, "A", "R", "m", T2)
    assert again == s
    changed = SET.mark_false(s, "A", "R", "other", T2)
    a = get(changed, "A")
    assert a is not None and a.last_transition_time == format_time(T2)


def test_conditions_outside_the_set_are_info_and_do_not_touch_ready() -> None:
    s = revision.initialize({}, T0)
    s = revision.mark_active_false(s, "NoTraffic", "scaled to zero", T1)
    active = get(s, "Active")
    assert active is not None and active.severity == "Info"
    assert _state(s)["Ready"][0] == "Unknown"


def _ready_revision() -> dict[str, Any]:
    s = revision.initialize({}, T0)
    s = revision.mark_resources_available_true(s, T0)
    return revision.mark_container_healthy_true(s, T0)


def test_revision_deployment_propagation() -> None:
    progressing_false = {
        "conditions": [
            {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": "too slow",
            }
        ]
    }
    s = revision.propagate_deployment_status(revision.initialize({}, T0), progressing_false, T1)
    assert _state(s)["Ready"] == ("False", "ProgressDeadlineExceeded")
    available = {
        "conditions": [{"type": "Available", "status": "True"}, {"type": "Progressing", "status": "True"}]
    }
    s = revision.propagate_deployment_status(revision.initialize({}, T0), available, T1)
    assert _state(s)["ResourcesAvailable"][0] == "True"
    s = revision.propagate_deployment_status(revision.initialize({}, T0), {}, T1)
    assert _state(s)["ResourcesAvailable"] == ("Unknown", "Deploying")


def test_revision_autoscaler_propagation() -> None:
    pa = {
        "actualScale": 2,
        "desiredScale": 3,
        "conditions": [
            {"type": "Ready", "status": "True"},
            {"type": "Active", "status": "True"},
            {"type": "ScaleTargetInitialized", "status": "True"},
        ],
    }
    s = revision.propagate_autoscaler_status(revision.initialize({}, T0), pa, T1)
    assert s["actualReplicas"] == 2 and s["desiredReplicas"] == 3
    assert _state(s)["Ready"][0] == "True"
    assert _state(s)["Active"][0] == "True"
    inactive = {
        "actualScale": 0,
        "conditions": [
            {"type": "Ready", "status": "False", "reason": "NoTraffic"},
            {"type": "ScaleTargetInitialized", "status": "True"},
        ],
    }
    s = revision.propagate_autoscaler_status(_ready_revision(), inactive, T2)
    assert _state(s)["Ready"][0] == "True"  # scaled to zero is still Ready
    assert _state(s)["Active"] == ("False", "NoTraffic")
    never = {"conditions": [{"type": "Ready", "status": "False", "reason": "TimedOut"}]}
    s = revision.propagate_autoscaler_status(revision.initialize({}, T0), never, T2)
    ready = get(s, "Ready")
    assert ready is not None
    assert (ready.status, ready.reason, ready.message) == (
        "False",
        "ProgressDeadlineExceeded",
        "Initial scale was never achieved",
    )
    s = revision.propagate_autoscaler_status(revision.initialize({}, T0), {}, T1)
    assert _state(s)["Active"] == ("Unknown", "Deploying")


def test_revision_failure_reasons() -> None:
    s = revision.mark_container_exiting(revision.initialize({}, T0), 1, "ModuleNotFoundError: nope", T1)
    ready = get(s, "Ready")
    assert ready is not None and ready.reason == "ExitCode1"
    assert ready.message == "Container failed with: ModuleNotFoundError: nope"
    s = revision.mark_not_owned(revision.initialize({}, T0), "Deployment", "x-deployment", T1)
    ready = get(s, "Ready")
    assert (
        ready is not None
        and ready.message == 'There is an existing Deployment "x-deployment" that we do not own.'
    )


def test_configuration_latest_revisions() -> None:
    s = configuration.initialize({}, T0)
    s = configuration.set_latest_created_revision_name(s, "hello-00001", T0)
    assert _state(s)["Ready"][0] == "Unknown"
    s = configuration.set_latest_ready_revision_name(s, "hello-00001", T1)
    assert _state(s)["Ready"][0] == "True"
    s = configuration.set_latest_created_revision_name(s, "hello-00002", T2)
    assert _state(s)["Ready"][0] == "Unknown"
    s = configuration.mark_latest_created_failed(s, "hello-00002", "boom", T2)
    ready = get(s, "Ready")
    assert ready is not None and ready.message == 'Revision "hello-00002" failed with message: boom.'
    assert ready.reason == "RevisionFailed"
    s = configuration.mark_latest_ready_deleted(s, T2)
    assert "latestReadyRevisionName" not in s
    ready = get(s, "Ready")
    assert ready is not None and ready.message == 'Revision "hello-00001" was deleted.'


def test_service_propagates_from_its_children() -> None:
    cfg_status = configuration.set_latest_ready_revision_name(
        configuration.set_latest_created_revision_name({}, "hello-00001", T0), "hello-00001", T0
    )
    route_status = {
        "url": "http://hello.default.localhost",
        "address": {"url": "http://hello.default.svc.cluster.local"},
        "traffic": [{"revisionName": "hello-00001", "percent": 100, "latestRevision": True}],
        "conditions": [{"type": "Ready", "status": "Unknown", "reason": "IngressNotConfigured"}],
    }
    s = service.initialize({}, T0)
    s = service.propagate_configuration_status(s, cfg_status, T1)
    s = service.propagate_route_status(s, route_status, T1)
    assert s["latestReadyRevisionName"] == "hello-00001"
    assert s["url"] == "http://hello.default.localhost"
    assert _state(s) == {
        "ConfigurationsReady": ("True", ""),
        "RoutesReady": ("Unknown", "IngressNotConfigured"),
        "Ready": ("Unknown", "IngressNotConfigured"),
    }
    route_status["conditions"] = [{"type": "Ready", "status": "True"}]
    s = service.propagate_route_status(s, route_status, T2)
    assert _state(s)["Ready"][0] == "True"
    s = service.mark_revision_name_taken(s, "hello-v1", T2)
    assert _state(s)["Ready"] == ("False", "RevisionNameTaken")


def test_route_transitions() -> None:
    s = route.initialize({}, T0)
    s = route.mark_traffic_assigned(s, T1)
    s = route.mark_tls_not_enabled(s, "kwake serves plain HTTP", T1)
    s = route.mark_ingress_not_configured(s, T1)
    assert _state(s)["Ready"] == ("Unknown", "IngressNotConfigured")
    s = route.propagate_ingress_status(s, {"conditions": [{"type": "Ready", "status": "True"}]}, T2)
    assert _state(s)["Ready"][0] == "True"
    s = route.mark_missing_traffic_target(s, "Revision", "nope", T2)
    ready = get(s, "Ready")
    assert ready is not None and (ready.reason, ready.message) == (
        "RevisionMissing",
        'Revision "nope" referenced in traffic not found.',
    )


def test_pod_autoscaler_and_ingress_sets() -> None:
    s = podautoscaler.initialize({}, T0)
    s = podautoscaler.mark_scale_target_initialized(s, T0)
    s = podautoscaler.mark_activating(s, podautoscaler.REASON_QUEUED, podautoscaler.MESSAGE_QUEUED, T0)
    assert _state(s)["Ready"] == ("Unknown", "Queued")
    s = podautoscaler.mark_active(s, T1)
    assert _state(s)["Ready"][0] == "True"
    s = podautoscaler.set_scales(s, 3, 1)
    assert (s["desiredScale"], s["actualScale"]) == (3, 1)
    g = ingress.initialize({}, T0)
    g = ingress.mark_network_configured(g, T0)
    g = ingress.mark_load_balancer_ready(g, [{"domainInternal": "gw.kwake-system.svc.cluster.local"}], [], T1)
    assert _state(g)["Ready"][0] == "True"
    assert g["publicLoadBalancer"] == {"ingress": [{"domainInternal": "gw.kwake-system.svc.cluster.local"}]}
