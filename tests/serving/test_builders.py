"""Golden tests for the Service, Configuration and Revision builders and the names."""

from __future__ import annotations

from typing import Any

from serving.api.config import Config
from serving.api.types import Configuration, Revision, Service
from serving.reconciler import names
from serving.reconciler.configuration.resources.revision import make_revision
from serving.reconciler.revision.resources.deployment import make_deployment
from serving.reconciler.revision.resources.k8s_service import make_k8s_service
from serving.reconciler.revision.resources.pod_autoscaler import make_pod_autoscaler
from serving.reconciler.service.resources.configuration import make_configuration
from serving.reconciler.service.resources.route import make_route

from .fixtures import CFG, NOW, NOW_TEXT, defaulted_service, revision_body

SVC_OWNER = [
    {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "name": "hello",
        "uid": "svc-uid",
        "controller": True,
        "blockOwnerDeletion": True,
    }
]
REV_OWNER = [
    {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Revision",
        "name": "hello-00001",
        "uid": "hello-00001-uid",
        "controller": True,
        "blockOwnerDeletion": True,
    }
]


def test_names() -> None:
    assert names.revision("hello", 1) == "hello-00001"
    assert names.revision("hello", 123456) == "hello-123456"
    long = names.revision("a" * 60, 2)
    assert len(long) == 63 and long.endswith("-00002")
    assert names.deployment("hello-00001") == "hello-00001-deployment"
    assert names.k8s_service("hello-00001") == names.pod_autoscaler("hello-00001") == "hello-00001"
    assert names.configuration("hello") == names.route("hello") == names.ingress("hello") == "hello"


def test_make_configuration() -> None:
    svc = Service.from_body(defaulted_service())
    assert make_configuration(svc) == {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Configuration",
        "metadata": {
            "name": "hello",
            "namespace": "default",
            "labels": {
                "team": "a",
                "serving.knative.dev/service": "hello",
                "serving.knative.dev/serviceUID": "svc-uid",
            },
            "annotations": {
                "serving.knative.dev/creator": "alice",
                "serving.knative.dev/lastModifier": "alice",
                "serving.knative.dev/routes": "hello",
            },
            "ownerReferences": SVC_OWNER,
        },
        "spec": {"template": defaulted_service()["spec"]["template"]},
    }


def test_make_route_fills_configuration_name() -> None:
    body = defaulted_service(
        traffic=[
            {"tag": "current", "revisionName": "hello-00001", "percent": 80},
            {"tag": "latest", "percent": 20},
        ]
    )
    route = make_route(Service.from_body(body))
    assert route["spec"] == {
        "traffic": [
            {"tag": "current", "revisionName": "hello-00001", "latestRevision": False, "percent": 80},
            {"tag": "latest", "configurationName": "hello", "latestRevision": True, "percent": 20},
        ]
    }
    assert route["metadata"]["name"] == "hello"
    assert route["metadata"]["labels"]["serving.knative.dev/service"] == "hello"
    assert "kubectl.kubernetes.io/last-applied-configuration" not in route["metadata"]["annotations"]
    assert route["metadata"]["ownerReferences"] == SVC_OWNER


def _configuration(generation: int = 3, template_name: str = "") -> Configuration:
    svc = Service.from_body(defaulted_service())
    body = make_configuration(svc)
    body["metadata"].update({"uid": "cfg-uid", "generation": generation})
    body["metadata"]["annotations"]["serving.knative.dev/lastModifier"] = "bob"
    if template_name:
        body["spec"]["template"]["metadata"] = {"name": template_name}
    return Configuration.from_body(body)


def test_make_revision() -> None:
    rev = make_revision(_configuration(), NOW)
    assert rev == {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Revision",
        "metadata": {
            "name": "hello-00003",
            "namespace": "default",
            "labels": {
                "serving.knative.dev/configuration": "hello",
                "serving.knative.dev/service": "hello",
                "serving.knative.dev/configurationGeneration": "3",
                "serving.knative.dev/configurationUID": "cfg-uid",
                "serving.knative.dev/serviceUID": "svc-uid",
                "serving.knative.dev/routingState": "pending",
            },
            "annotations": {
                "serving.knative.dev/routingStateModified": NOW_TEXT,
                "serving.knative.dev/creator": "bob",
                "serving.knative.dev/routes": "hello",
            },
            "ownerReferences": [
                {
                    "apiVersion": "serving.knative.dev/v1",
                    "kind": "Configuration",
                    "name": "hello",
                    "uid": "cfg-uid",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": defaulted_service()["spec"]["template"]["spec"],
    }


def test_make_revision_byo_name() -> None:
    assert make_revision(_configuration(template_name="hello-v2"), NOW)["metadata"]["name"] == "hello-v2"


def _revision(**kwargs: Any) -> Revision:
    return Revision.from_body(revision_body(**kwargs))


POD_LABELS = {
    "team": "a",
    "serving.knative.dev/configuration": "hello",
    "serving.knative.dev/configurationGeneration": "1",
    "serving.knative.dev/configurationUID": "cfg-uid",
    "serving.knative.dev/service": "hello",
    "serving.knative.dev/serviceUID": "svc-uid",
    "serving.knative.dev/revision": "hello-00001",
    "serving.knative.dev/revisionUID": "hello-00001-uid",
    "app": "hello-00001",
}


def test_make_deployment_golden() -> None:
    dep = make_deployment(_revision(), CFG)
    spec_hash = dep["metadata"]["annotations"].pop("serving.kwake.dev/spec-hash")
    assert len(spec_hash) == 16
    assert dep == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "hello-00001-deployment",
            "namespace": "default",
            "labels": POD_LABELS,
            "annotations": {"serving.knative.dev/creator": "alice"},
            "ownerReferences": REV_OWNER,
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"serving.knative.dev/revisionUID": "hello-00001-uid"}},
            "progressDeadlineSeconds": 600,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
            "template": {
                "metadata": {"labels": POD_LABELS, "annotations": {"serving.knative.dev/creator": "alice"}},
                "spec": {
                    "containers": [
                        {
                            "name": "user-container",
                            "image": "ghcr.io/kwake/kwake:0.1.0",
                            "command": ["python3", "-m", "loadtests.apps.hello"],
                            "env": [
                                {"name": "TARGET", "value": "kwake"},
                                {"name": "PORT", "value": "8080"},
                                {"name": "K_REVISION", "value": "hello-00001"},
                                {"name": "K_CONFIGURATION", "value": "hello"},
                                {"name": "K_SERVICE", "value": "hello"},
                            ],
                            "ports": [{"name": "user-port", "containerPort": 8080, "protocol": "TCP"}],
                            "readinessProbe": {
                                "tcpSocket": {"port": "user-port"},
                                "successThreshold": 1,
                                "periodSeconds": 1,
                            },
                            "terminationMessagePolicy": "FallbackToLogsOnError",
                        }
                    ],
                    "enableServiceLinks": False,
                    "terminationGracePeriodSeconds": 300,
                },
            },
        },
    }


def test_deployment_follows_annotations_config_and_ports() -> None:
    spec = revision_body()["spec"]
    spec["timeoutSeconds"] = 45
    spec["containers"][0]["ports"] = [{"name": "h2c", "containerPort": 9000}]
    spec["containers"][0]["readinessProbe"] = {"httpGet": {"path": "/healthz"}, "periodSeconds": 5}
    rev = _revision(
        spec=spec,
        annotations={
            "autoscaling.knative.dev/initial-scale": "3",
            "serving.knative.dev/progress-deadline": "2m",
        },
    )
    cfg = Config.from_configmaps({"config-deployment": {"progress-deadline": "30s"}})
    dep = make_deployment(rev, cfg)
    pod = dep["spec"]["template"]["spec"]
    assert dep["spec"]["replicas"] == 3
    assert dep["spec"]["progressDeadlineSeconds"] == 120
    assert pod["terminationGracePeriodSeconds"] == 45
    c = pod["containers"][0]
    assert c["ports"] == [{"name": "user-port", "containerPort": 9000, "protocol": "TCP"}]
    assert {"name": "PORT", "value": "9000"} in c["env"]
    assert c["readinessProbe"] == {
        "httpGet": {"path": "/healthz", "port": "user-port"},
        "periodSeconds": 5,
        "successThreshold": 1,
    }
    assert "timeoutSeconds" not in pod and "containerConcurrency" not in pod
    assert (
        make_deployment(_revision(), Config.from_configmaps({"config-autoscaler": {"initial-scale": "2"}}))[
            "spec"
        ]["replicas"]
        == 2
    )


def test_routing_state_does_not_change_the_deployment() -> None:
    active = make_deployment(_revision(routing_state="active"), CFG)
    reserve = make_deployment(_revision(routing_state="reserve"), CFG)
    assert active == reserve


def test_spec_hash_tracks_the_pod_spec() -> None:
    spec = revision_body()["spec"]
    spec["containers"][0]["env"] = [{"name": "TARGET", "value": "other"}]
    a = make_deployment(_revision(), CFG)["metadata"]["annotations"]["serving.kwake.dev/spec-hash"]
    b = make_deployment(_revision(spec=spec), CFG)["metadata"]["annotations"]["serving.kwake.dev/spec-hash"]
    assert a != b


def test_make_k8s_service_golden() -> None:
    svc = make_k8s_service(_revision())
    svc["metadata"]["annotations"].pop("serving.kwake.dev/spec-hash")
    assert svc == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "hello-00001",
            "namespace": "default",
            "labels": POD_LABELS,
            "annotations": {"serving.knative.dev/creator": "alice"},
            "ownerReferences": REV_OWNER,
        },
        "spec": {
            "type": "ClusterIP",
            "selector": {"serving.knative.dev/revisionUID": "hello-00001-uid"},
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "user-port"}],
        },
    }


def test_k8s_service_for_h2c() -> None:
    spec = revision_body()["spec"]
    spec["containers"][0]["ports"] = [{"name": "h2c", "containerPort": 8080}]
    port = make_k8s_service(_revision(spec=spec))["spec"]["ports"][0]
    assert port == {
        "name": "http2",
        "port": 81,
        "protocol": "TCP",
        "targetPort": "user-port",
        "appProtocol": "kubernetes.io/h2c",
    }


def test_make_pod_autoscaler_golden() -> None:
    spec = revision_body()["spec"]
    spec["containerConcurrency"] = 10
    pa = make_pod_autoscaler(_revision(spec=spec, annotations={"autoscaling.knative.dev/target": "7"}), CFG)
    pa["metadata"]["annotations"].pop("serving.kwake.dev/spec-hash")
    assert pa == {
        "apiVersion": "autoscaling.internal.knative.dev/v1alpha1",
        "kind": "PodAutoscaler",
        "metadata": {
            "name": "hello-00001",
            "namespace": "default",
            "labels": POD_LABELS,
            "annotations": {
                "serving.knative.dev/creator": "alice",
                "autoscaling.knative.dev/target": "7",
                "autoscaling.knative.dev/class": "kpa.autoscaling.knative.dev",
                "autoscaling.knative.dev/metric": "concurrency",
            },
            "ownerReferences": REV_OWNER,
        },
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": "hello-00001-deployment",
            },
            "protocolType": "http1",
            "reachability": "Reachable",
            "containerConcurrency": 10,
        },
    }


def test_pod_autoscaler_reachability() -> None:
    def reach(**kwargs: Any) -> str:
        return str(make_pod_autoscaler(_revision(**kwargs), CFG)["spec"]["reachability"])

    assert reach(routing_state="active") == "Reachable"
    assert reach(routing_state="reserve") == "Unreachable"
    assert reach(routing_state="pending") == ""
    assert reach(routing_state="active", ready="False") == "Unreachable"
