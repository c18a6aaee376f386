"""Defaulting matches Knative's webhook, and never mutates its input."""

from __future__ import annotations

import copy

from serving.api.config import Config
from serving.api.defaults import (
    default_configuration,
    default_revision_spec,
    default_route,
    default_service,
    default_traffic,
    set_user_info,
)

from .fixtures import CFG, service_body


def test_service_golden() -> None:
    body = service_body()
    before = copy.deepcopy(body)
    out = default_service(body, CFG)
    assert body == before
    assert out["spec"] == {
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "user-container",
                        "image": "ghcr.io/kwake/kwake:0.1.0",
                        "command": ["python3", "-m", "loadtests.apps.hello"],
                        "env": [{"name": "TARGET", "value": "kwake"}],
                        "readinessProbe": {"tcpSocket": {"port": 0}, "successThreshold": 1},
                    }
                ],
                "timeoutSeconds": 300,
                "containerConcurrency": 0,
                "enableServiceLinks": False,
            }
        },
        "traffic": [{"latestRevision": True, "percent": 100}],
    }


def test_defaulting_is_idempotent() -> None:
    once = default_service(service_body(), CFG)
    assert default_service(once, CFG) == once


def test_user_values_are_kept() -> None:
    spec = {
        "timeoutSeconds": 30,
        "containerConcurrency": 4,
        "enableServiceLinks": True,
        "containers": [{"name": "app", "image": "x", "readinessProbe": {"httpGet": {"path": "/ready"}}}],
    }
    out = default_revision_spec(spec, CFG)
    assert out["timeoutSeconds"] == 30
    assert out["containerConcurrency"] == 4
    assert out["enableServiceLinks"] is True
    assert out["containers"][0]["name"] == "app"
    assert out["containers"][0]["readinessProbe"] == {"httpGet": {"path": "/ready"}, "successThreshold": 1}


def test_multi_container_names_and_probe_on_the_serving_container() -> None:
    spec = {"containers": [{"image": "sidecar"}, {"image": "app", "ports": [{"containerPort": 9000}]}]}
    out = default_revision_spec(spec, CFG)
    assert [c["name"] for c in out["containers"]] == ["user-container-0", "user-container-1"]
    assert "readinessProbe" not in out["containers"][0]
    assert out["containers"][1]["readinessProbe"] == {"tcpSocket": {"port": 0}, "successThreshold": 1}


def test_timeouts_from_config_defaults() -> None:
    cfg = Config.from_configmaps(
        {
            "config-defaults": {
                "revision-timeout-seconds": "100",
                "revision-response-start-timeout-seconds": "50",
                "revision-idle-timeout-seconds": "200",
            }
        }
    )
    out = default_revision_spec({"containers": [{"image": "x"}]}, cfg)
    assert out["timeoutSeconds"] == 100
    assert out["responseStartTimeoutSeconds"] == 50
    assert "idleTimeoutSeconds" not in out  # not smaller than timeoutSeconds


def test_traffic_defaults() -> None:
    assert default_traffic([], in_service=True) == [{"latestRevision": True, "percent": 100}]
    assert default_traffic([], in_service=False) == []
    assert default_traffic([{"revisionName": "a", "percent": 50}, {"percent": 50}], in_service=True) == [
        {"revisionName": "a", "percent": 50, "latestRevision": False},
        {"percent": 50, "latestRevision": True},
    ]


def test_route_and_configuration_defaulting() -> None:
    route = default_route({"spec": {"traffic": [{"configurationName": "c", "percent": 100}]}}, CFG)
    assert route["spec"]["traffic"] == [{"configurationName": "c", "percent": 100, "latestRevision": True}]
    config = default_configuration({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}, CFG)
    assert config["spec"]["template"]["spec"]["timeoutSeconds"] == 300


def test_user_info() -> None:
    created = set_user_info({"spec": {"a": 1}}, None, "alice")
    assert created["metadata"]["annotations"] == {
        "serving.knative.dev/creator": "alice",
        "serving.knative.dev/lastModifier": "alice",
    }
    same = set_user_info({"spec": {"a": 1}}, created, "bob")
    assert same["metadata"]["annotations"]["serving.knative.dev/lastModifier"] == "alice"
    changed = set_user_info({"spec": {"a": 2}}, created, "bob")
    assert changed["metadata"]["annotations"] == {
        "serving.knative.dev/creator": "alice",
        "serving.knative.dev/lastModifier": "bob",
    }
