"""Validation rules with Knative's messages and field paths, as a table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from serving.api.config import Config
from serving.api.validation import validate_configuration, validate_revision, validate_route, validate_service

from .fixtures import CFG, defaulted_service, revision_body

Mutation = Callable[[dict[str, Any]], object]


def _container(b: dict[str, Any]) -> dict[str, Any]:
    c: dict[str, Any] = b["spec"]["template"]["spec"]["containers"][0]
    return c


def _tspec(b: dict[str, Any]) -> dict[str, Any]:
    s: dict[str, Any] = b["spec"]["template"]["spec"]
    return s


def _anns(b: dict[str, Any]) -> dict[str, str]:
    a: dict[str, str] = b["spec"]["template"].setdefault("metadata", {}).setdefault("annotations", {})
    return a


def _set(target: Callable[[dict[str, Any]], dict[str, Any]], **values: Any) -> Mutation:
    return lambda b: target(b).update(values)


def _traffic(*targets: dict[str, Any]) -> Mutation:
    return lambda b: b["spec"].__setitem__("traffic", list(targets))


DNS1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
ANN = "spec.template.metadata.annotations"
CASES: list[tuple[str, Mutation, list[str]]] = [
    ("valid", lambda b: None, []),
    (
        "traffic sum",
        _traffic({"latestRevision": True, "percent": 90}),
        ["spec.traffic: Traffic targets sum to 90, want 100"],
    ),
    (
        "duplicate tags",
        _traffic(
            {"tag": "a", "latestRevision": True, "percent": 50},
            {"tag": "a", "revisionName": "hello-00001", "latestRevision": False, "percent": 50},
        ),
        [
            'spec.traffic[0].tag: Multiple definitions for "a"',
            'spec.traffic[1].tag: Multiple definitions for "a"',
        ],
    ),
    (
        "tag not DNS-1035",
        _traffic({"tag": "Canary", "latestRevision": True, "percent": 100}),
        [f"spec.traffic.tag[0]: invalid value: not a DNS 1035 label: [{DNS1035}]"],
    ),
    (
        "percent out of range",
        _traffic(
            {"latestRevision": True, "percent": 101},
            {"revisionName": "x", "latestRevision": False, "percent": -1},
        ),
        [
            "spec.traffic[0].percent: expected 0 <= 101 <= 100",
            "spec.traffic[1].percent: expected 0 <= -1 <= 100",
        ],
    ),
    (
        "latestRevision true with revisionName",
        _traffic({"revisionName": "hello-00001", "latestRevision": True, "percent": 100}),
        [
            "spec.traffic[0].latestRevision: "
            'may not set revisionName "hello-00001" when latestRevision is true'
        ],
    ),
    (
        "latestRevision false without revisionName",
        _traffic({"latestRevision": False, "percent": 100}),
        ['spec.traffic[0].latestRevision: may not set revisionName "" when latestRevision is false'],
    ),
    (
        "configurationName disallowed in a Service",
        _traffic({"configurationName": "other", "latestRevision": True, "percent": 100}),
        ["spec.traffic[0].configurationName: must not set the field(s)"],
    ),
    (
        "url disallowed in spec",
        _traffic({"tag": "a", "latestRevision": True, "percent": 100, "url": "http://x"}),
        ["spec.traffic[0].url: must not set the field(s)"],
    ),
    (
        "timeoutSeconds too large",
        _set(_tspec, timeoutSeconds=601),
        ["spec.template.spec.timeoutSeconds: expected 0 <= 601 <= 600"],
    ),
    (
        "containerConcurrency too large",
        _set(_tspec, containerConcurrency=1001),
        ["spec.template.spec.containerConcurrency: expected 0 <= 1001 <= 1000"],
    ),
    (
        "no containers",
        _set(_tspec, containers=[]),
        ["spec.template.spec.containers: missing field(s)"],
    ),
    (
        "no image and no command",
        lambda b: [_container(b).pop("image"), _container(b).pop("command")],
        ["spec.template.spec.containers[0].image: missing field(s)"],
    ),
    ("command without image is fine for localkube", lambda b: _container(b).pop("image"), []),
    (
        "reserved env var",
        _set(_container, env=[{"name": "K_SERVICE", "value": "x"}]),
        ['spec.template.spec.containers[0].env[0].name: "K_SERVICE" is a reserved environment variable'],
    ),
    (
        "two ports",
        _set(_container, ports=[{"containerPort": 8080}, {"containerPort": 9000}]),
        ["spec.template.spec.containers[0].ports: More than one container port is set"],
    ),
    (
        "reserved port",
        _set(_container, ports=[{"containerPort": 8012}]),
        ["spec.template.spec.containers[0].ports.containerPort: invalid value: 8012"],
    ),
    (
        "port out of range",
        _set(_container, ports=[{"containerPort": 70000}]),
        ["spec.template.spec.containers[0].ports.containerPort: expected 1 <= 70000 <= 65535"],
    ),
    (
        "bad port name",
        _set(_container, ports=[{"name": "grpc", "containerPort": 8080}]),
        ["spec.template.spec.containers[0].ports: Port name grpc is not allowed"],
    ),
    ("h2c port name", _set(_container, ports=[{"name": "h2c", "containerPort": 8080}]), []),
    (
        "reserved container name",
        _set(_container, name="queue-proxy"),
        ['spec.template.spec.containers[0].name: "queue-proxy" is a reserved container name'],
    ),
    (
        "reserved mount path",
        lambda b: [
            _tspec(b).update(volumes=[{"name": "v", "emptyDir": {}}]),
            _container(b).update(volumeMounts=[{"name": "v", "mountPath": "/dev"}]),
        ],
        ['spec.template.spec.containers[0].volumeMounts[0].mountPath: mountPath "/dev" is a reserved path'],
    ),
    (
        "gated podspec field",
        _set(_tspec, nodeSelector={"disk": "ssd"}),
        ["spec.template.spec.nodeSelector: must not set the field(s)"],
    ),
    (
        "multi-container needs exactly one port",
        _set(_tspec, containers=[{"image": "a", "name": "a"}, {"image": "b", "name": "b"}]),
        ["spec.template.spec.containers[*].ports: missing field(s)"],
    ),
    (
        "BYO name without the parent prefix",
        lambda b: b["spec"]["template"].setdefault("metadata", {}).__setitem__("name", "other-v1"),
        ['spec.template.metadata.name: invalid value: "other-v1" must have prefix "hello-"'],
    ),
    (
        "BYO name with the prefix",
        lambda b: b["spec"]["template"].setdefault("metadata", {}).__setitem__("name", "hello-v1"),
        [],
    ),
    (
        "service name not DNS-1035",
        lambda b: b["metadata"].__setitem__("name", "1hello"),
        [f"metadata.name: invalid value: not a DNS 1035 label: [{DNS1035}]"],
    ),
    (
        "visibility label",
        lambda b: b["metadata"]["labels"].__setitem__("networking.knative.dev/visibility", "public"),
        ["metadata.labels.networking.knative.dev/visibility: invalid value: public"],
    ),
    (
        "rollout-duration annotation",
        lambda b: b["metadata"]["annotations"].__setitem__("serving.knative.dev/rollout-duration", "soon"),
        ["metadata.annotations.serving.knative.dev/rollout-duration: invalid value: soon"],
    ),
    (
        "autoscaling annotation in the template",
        lambda b: _anns(b).update({"autoscaling.knative.dev/min-scale": "-1"}),
        [f"{ANN}.autoscaling.knative.dev/min-scale: expected 0 <= -1 <= 2147483647"],
    ),
]


@pytest.mark.parametrize(("name", "mutate", "want"), CASES, ids=[c[0] for c in CASES])
def test_service_validation(name: str, mutate: Mutation, want: list[str]) -> None:
    body = defaulted_service()
    mutate(body)
    assert sorted(validate_service(body, CFG).messages()) == sorted(want)


def test_container_concurrency_zero_can_be_disallowed() -> None:
    cfg = Config.from_configmaps({"config-defaults": {"allow-container-concurrency-zero": "false"}})
    errs = validate_service(defaulted_service(), cfg)
    assert errs.messages() == ["spec.template.spec.containerConcurrency: expected 1 <= 0 <= 1000"]


def test_byo_name_must_change_with_the_template() -> None:
    old = defaulted_service()
    old["spec"]["template"]["metadata"] = {"name": "hello-v1"}
    new = defaulted_service()
    new["spec"]["template"]["metadata"] = {"name": "hello-v1"}
    assert not validate_service(new, CFG, old)
    _container(new)["env"] = [{"name": "TARGET", "value": "changed"}]
    errs = validate_service(new, CFG, old)
    assert errs.messages() == [
        "spec.template.metadata.name: Saw the following changes without a name change (-old +new)"
    ]
    assert "changed" in next(iter(errs)).details


def test_byo_name_disallowed_with_generate_name() -> None:
    body = defaulted_service()
    body["metadata"] = {"generateName": "hello-"}
    body["spec"]["template"]["metadata"] = {"name": "hello-v1"}
    assert validate_service(body, CFG).messages() == [
        "spec.template.metadata.name: must not set the field(s)"
    ]


def test_route_needs_a_target_kind() -> None:
    body = {"metadata": {"name": "r"}, "spec": {"traffic": [{"percent": 100, "latestRevision": True}]}}
    assert validate_route(body, CFG).messages() == [
        "spec.traffic[0].configurationName: expected exactly one, got neither",
        "spec.traffic[0].revisionName: expected exactly one, got neither",
    ]
    both = {
        "metadata": {"name": "r"},
        "spec": {"traffic": [{"percent": 100, "revisionName": "a", "configurationName": "b"}]},
    }
    assert validate_route(both, CFG).messages() == [
        "spec.traffic[0].configurationName: expected exactly one, got both",
        "spec.traffic[0].revisionName: expected exactly one, got both",
    ]
    empty = {"metadata": {"name": "r"}, "spec": {}}
    assert validate_route(empty, CFG).messages() == ["spec.traffic: Traffic targets sum to 0, want 100"]


def test_configuration_validation() -> None:
    svc = defaulted_service()
    body: dict[str, Any] = {"metadata": {"name": "cfg"}, "spec": {"template": svc["spec"]["template"]}}
    assert not validate_configuration(body, CFG)
    body["spec"]["template"]["spec"]["timeoutSeconds"] = -1
    assert validate_configuration(body, CFG).messages() == [
        "spec.template.spec.timeoutSeconds: expected 0 <= -1 <= 600"
    ]


def test_revision_is_immutable() -> None:
    old = revision_body()
    new = revision_body()
    assert not validate_revision(new, CFG, old)
    new["spec"]["containerConcurrency"] = 5
    errs = validate_revision(new, CFG, old)
    assert errs.messages() == ["spec: Immutable fields changed (-old +new)"]
    assert "containerConcurrency" in next(iter(errs)).details
    # Metadata (labels, routing state) may change: the labeler and GC rely on that.
    relabelled = revision_body(routing_state="reserve")
    assert not validate_revision(relabelled, CFG, old)


def test_revision_create_checks_spec_and_annotations() -> None:
    body = revision_body(annotations={"autoscaling.knative.dev/window": "2s"})
    body["spec"]["timeoutSeconds"] = 9999
    assert sorted(validate_revision(body, CFG).messages()) == [
        "metadata.annotations.autoscaling.knative.dev/window: expected 6s <= 2s <= 1h0m0s",
        "spec.timeoutSeconds: expected 0 <= 9999 <= 600",
    ]
