"""Sample objects for the serving tests, as the API server would hand them over."""

from __future__ import annotations

import copy
from typing import Any

from serving.api.config import Config
from serving.api.defaults import default_service

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z
NOW_TEXT = "2023-11-14T22:13:20Z"
CFG = Config()


def service_body(**spec_overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "template": {
            "spec": {
                "containers": [
                    {
                        "image": "ghcr.io/kwake/kwake:0.1.0",
                        "command": ["python3", "-m", "loadtests.apps.hello"],
                        "env": [{"name": "TARGET", "value": "kwake"}],
                    }
                ]
            }
        }
    }
    spec.update(spec_overrides)
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {
            "name": "hello",
            "namespace": "default",
            "uid": "svc-uid",
            "generation": 1,
            "labels": {"team": "a"},
            "annotations": {
                "serving.knative.dev/creator": "alice",
                "serving.knative.dev/lastModifier": "alice",
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
            },
        },
        "spec": spec,
    }


def defaulted_service(**spec_overrides: Any) -> dict[str, Any]:
    return default_service(service_body(**spec_overrides), CFG)


def revision_body(
    name: str = "hello-00001",
    *,
    spec: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
    routing_state: str = "active",
    ready: str | None = None,
) -> dict[str, Any]:
    svc = defaulted_service()
    body: dict[str, Any] = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Revision",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"{name}-uid",
            "generation": 1,
            "creationTimestamp": NOW_TEXT,
            "labels": {
                "team": "a",
                "serving.knative.dev/configuration": "hello",
                "serving.knative.dev/configurationGeneration": "1",
                "serving.knative.dev/configurationUID": "cfg-uid",
                "serving.knative.dev/service": "hello",
                "serving.knative.dev/serviceUID": "svc-uid",
                "serving.knative.dev/routingState": routing_state,
            },
            "annotations": {
                "serving.knative.dev/creator": "alice",
                "serving.knative.dev/routes": "hello",
                "serving.knative.dev/routingStateModified": NOW_TEXT,
                **(annotations or {}),
            },
        },
        "spec": copy.deepcopy(spec if spec is not None else svc["spec"]["template"]["spec"]),
    }
    if ready is not None:
        body["status"] = {"conditions": [{"type": "Ready", "status": ready}]}
    return body
