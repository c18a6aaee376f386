"""Every invalid Service field is refused with its field path, as Knative's webhook does it.

One table of (change to a valid Service, the `message: path` the refusal must contain). Every
row goes through the webhook's own steps (`admission.mutate` then `admission.validate`, the
functions kopf calls); a sample of rows also goes through localkube with the operator's
webhooks registered, by ApiClient and by kubectl. Knative prints a port error without the
port's index (`ports.containerPort`): so does kwake.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localkube.client import ApiError
from localkube.server.runner import ThreadedApiServer
from serving.api.config import Config
from serving.api.validation import validate_configuration, validate_service
from serving.operator import admission
from serving.operator.resources import KSERVICES

from ..conftest import Kubectl
from .operator_harness import running_operator

CFG = Config()
Change = Callable[[dict[str, Any]], object]

# Where junk goes in the hypothesis test, and under which names.
_CONTAINER0 = ("spec", "template", "spec", "containers", 0)
_PLACES: list[tuple[Any, ...]] = [
    (),
    ("metadata",),
    ("spec",),
    ("spec", "template"),
    ("spec", "template", "metadata"),
    ("spec", "template", "spec"),
    _CONTAINER0,
    (*_CONTAINER0, "readinessProbe"),
    (*_CONTAINER0, "env", 0),
    ("spec", "traffic", 0),
]
_FIELD_NAMES = [
    "name",
    "annotations",
    "labels",
    "traffic",
    "percent",
    "tag",
    "revisionName",
    "latestRevision",
    "containers",
    "image",
    "ports",
    "containerPort",
    "env",
    "value",
    "valueFrom",
    "readinessProbe",
    "livenessProbe",
    "httpGet",
    "tcpSocket",
    "port",
    "periodSeconds",
    "resources",
    "limits",
    "requests",
    "cpu",
    "securityContext",
    "volumeMounts",
    "volumes",
    "mountPath",
    "timeoutSeconds",
    "containerConcurrency",
]

VALID: dict[str, Any] = {
    "apiVersion": "serving.knative.dev/v1",
    "kind": "Service",
    "metadata": {"name": "hello", "namespace": "default"},
    "spec": {
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
    },
}

C = "spec.template.spec.containers[0]"
A = "spec.template.metadata.annotations.autoscaling.knative.dev"


def _c(b: dict[str, Any]) -> dict[str, Any]:
    c: dict[str, Any] = b["spec"]["template"]["spec"]["containers"][0]
    return c


def _ts(b: dict[str, Any]) -> dict[str, Any]:
    s: dict[str, Any] = b["spec"]["template"]["spec"]
    return s


def _tmeta(b: dict[str, Any]) -> dict[str, Any]:
    m: dict[str, Any] = b["spec"]["template"].setdefault("metadata", {})
    return m


def _tann(b: dict[str, Any]) -> dict[str, Any]:
    a: dict[str, Any] = _tmeta(b).setdefault("annotations", {})
    return a


def _container(**fields: Any) -> Change:
    return lambda b: _c(b).update(fields)


def _spec(**fields: Any) -> Change:
    return lambda b: _ts(b).update(fields)


def _template_annotations(**values: str) -> Change:
    return lambda b: _tann(b).update(
        {f"autoscaling.knative.dev/{k.replace('_', '-')}": v for k, v in values.items()}
    )


def _traffic(*targets: dict[str, Any]) -> Change:
    return lambda b: b["spec"].__setitem__("traffic", list(targets))


def _readiness(**probe: Any) -> Change:
    return lambda b: _c(b).__setitem__("readinessProbe", probe)


# (id, change, fragment of the refusal: Knative's message, then its full field path)
CASES: list[tuple[str, Change, str]] = [
    # metadata
    ("name not DNS-1035", lambda b: b["metadata"].__setitem__("name", "Hello_World"), "metadata.name"),
    (
        "autoscaling annotation on the Service itself",
        lambda b: (
            b["metadata"].setdefault("annotations", {}).__setitem__("autoscaling.knative.dev/min-scale", "1")
        ),
        'invalid key name "autoscaling.knative.dev/min-scale": metadata.annotations',
    ),
    (
        "visibility label",
        lambda b: (
            b["metadata"].setdefault("labels", {}).__setitem__("networking.knative.dev/visibility", "x")
        ),
        "invalid value: x: metadata.labels.networking.knative.dev/visibility",
    ),
    (
        "rollout duration",
        lambda b: (
            b["metadata"]
            .setdefault("annotations", {})
            .__setitem__("serving.knative.dev/rollout-duration", "-5s")
        ),
        "metadata.annotations.serving.knative.dev/rollout-duration",
    ),
    # template metadata
    (
        "template name without the Service's prefix",
        lambda b: _tmeta(b).__setitem__("name", "other-v1"),
        'invalid value: "other-v1" must have prefix "hello-": spec.template.metadata.name',
    ),
    (
        "template name not DNS-1035",
        lambda b: _tmeta(b).__setitem__("name", "hello-V1"),
        "spec.template.metadata.name",
    ),
    (
        "min-scale negative",
        _template_annotations(min_scale="-1"),
        f"expected 0 <= -1 <= 2147483647: {A}/min-scale",
    ),
    (
        "min-scale not a number",
        _template_annotations(min_scale="lots"),
        "invalid value: lots: spec.template.metadata.annotations.autoscaling.knative.dev/min-scale",
    ),
    (
        "max-scale below min-scale",
        _template_annotations(min_scale="5", max_scale="2"),
        f"max-scale=2 is less than min-scale=5: {A}/max-scale",
    ),
    (
        "autoscaling class unknown",
        _template_annotations(**{"class": "nope.autoscaling.knative.dev"}),
        "spec.template.metadata.annotations.autoscaling.knative.dev/class",
    ),
    (
        "target below the minimum",
        _template_annotations(target="0"),
        "spec.template.metadata.annotations.autoscaling.knative.dev/target",
    ),
    (
        "window out of range",
        _template_annotations(window="1s"),
        "spec.template.metadata.annotations.autoscaling.knative.dev/window",
    ),
    # revision spec
    (
        "timeoutSeconds over the max",
        _spec(timeoutSeconds=601),
        "expected 0 <= 601 <= 600: spec.template.spec.timeoutSeconds",
    ),
    (
        "timeoutSeconds negative",
        _spec(timeoutSeconds=-1),
        "expected 0 <= -1 <= 600: spec.template.spec.timeoutSeconds",
    ),
    (
        "responseStartTimeoutSeconds over the max",
        _spec(responseStartTimeoutSeconds=601),
        "spec.template.spec.responseStartTimeoutSeconds",
    ),
    (
        "idleTimeoutSeconds over the max",
        _spec(idleTimeoutSeconds=601),
        "spec.template.spec.idleTimeoutSeconds",
    ),
    (
        "containerConcurrency over the max",
        _spec(containerConcurrency=1001),
        "expected 0 <= 1001 <= 1000: spec.template.spec.containerConcurrency",
    ),
    (
        "containerConcurrency negative",
        _spec(containerConcurrency=-1),
        "expected 0 <= -1 <= 1000: spec.template.spec.containerConcurrency",
    ),
    (
        "gated PodSpec field",
        _spec(nodeSelector={"a": "b"}),
        "must not set the field(s): spec.template.spec.nodeSelector",
    ),
    ("no containers", _spec(containers=[]), "missing field(s): spec.template.spec.containers"),
    (
        "two containers without the multi-container ports rule",
        _spec(containers=[{"image": "a", "name": "a"}, {"image": "b", "name": "b"}]),
        "spec.template.spec.containers[*].ports",
    ),
    # container
    (
        "no image and no command",
        lambda b: [_c(b).pop("image"), _c(b).pop("command")],
        f"missing field(s): {C}.image",
    ),
    (
        "reserved container name",
        _container(name="queue-proxy"),
        f'"queue-proxy" is a reserved container name: {C}.name',
    ),
    (
        "container name not DNS-1123",
        _container(name="User_Container"),
        f"invalid value: User_Container: {C}.name",
    ),
    # ports
    (
        "port out of range",
        _container(ports=[{"containerPort": 70000}]),
        f"expected 1 <= 70000 <= 65535: {C}.ports.containerPort",
    ),
    (
        "port zero",
        _container(ports=[{"containerPort": 0}]),
        f"expected 1 <= 0 <= 65535: {C}.ports.containerPort",
    ),
    (
        "reserved port",
        _container(ports=[{"containerPort": 8012}]),
        f"invalid value: 8012: {C}.ports.containerPort",
    ),
    (
        "two ports",
        _container(ports=[{"containerPort": 1}, {"containerPort": 2}]),
        f"More than one container port is set: {C}.ports",
    ),
    (
        "port name",
        _container(ports=[{"containerPort": 8080, "name": "grpc"}]),
        f"Port name grpc is not allowed: {C}.ports",
    ),
    (
        "port protocol",
        _container(ports=[{"containerPort": 8080, "protocol": "UDP"}]),
        f"invalid value: UDP: {C}.ports.protocol",
    ),
    (
        "hostPort",
        _container(ports=[{"containerPort": 8080, "hostPort": 80}]),
        f"must not set the field(s): {C}.ports.hostPort",
    ),
    # env
    ("env without a name", _container(env=[{"value": "x"}]), f"missing field(s): {C}.env[0].name"),
    (
        "reserved env name",
        _container(env=[{"name": "K_REVISION", "value": "x"}]),
        f'"K_REVISION" is a reserved environment variable: {C}.env[0].name',
    ),
    (
        "env name with =",
        _container(env=[{"name": "A", "value": "1"}, {"name": "A=B", "value": "x"}]),
        f"invalid value: A=B: {C}.env[1].name",
    ),
    (
        "env name starting with a digit",
        _container(env=[{"name": "1A", "value": "x"}]),
        f"invalid value: 1A: {C}.env[0].name",
    ),
    (
        "env value and valueFrom",
        _container(
            env=[{"name": "A", "value": "x", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
        ),
        f"expected exactly one, got both: {C}.env[0].value, {C}.env[0].valueFrom",
    ),
    # probes
    (
        "two probe handlers",
        _readiness(httpGet={"path": "/"}, tcpSocket={"port": 8080}),
        f"expected exactly one, got both: {C}.readinessProbe.httpGet, {C}.readinessProbe.tcpSocket",
    ),
    (
        "liveness probe without a handler",
        _container(livenessProbe={"periodSeconds": 5}),
        f"{C}.livenessProbe.exec",
    ),
    (
        "readiness period negative",
        _readiness(periodSeconds=-1),
        f"expected 0 <= -1 <= 2147483647: {C}.readinessProbe.periodSeconds",
    ),
    (
        "readiness failureThreshold with period zero",
        _readiness(failureThreshold=3),
        f"failureThreshold is disallowed when periodSeconds is zero: {C}.readinessProbe.failureThreshold",
    ),
    (
        "readiness timeoutSeconds with period zero",
        _readiness(timeoutSeconds=3),
        f"timeoutSeconds is disallowed when periodSeconds is zero: {C}.readinessProbe.timeoutSeconds",
    ),
    (
        "readiness initialDelaySeconds negative",
        _readiness(initialDelaySeconds=-2),
        f"expected 0 <= -2 <= 2147483647: {C}.readinessProbe.initialDelaySeconds",
    ),
    (
        "probe on another port",
        _container(ports=[{"containerPort": 8080}], readinessProbe={"httpGet": {"path": "/", "port": 9000}}),
        f"may not be set to a port different from the container port: {C}.readinessProbe.httpGet.port",
    ),
    (
        "liveness period negative",
        _container(livenessProbe={"tcpSocket": {}, "periodSeconds": -3}),
        f"expected 0 <= -3 <= 2147483647: {C}.livenessProbe.periodSeconds",
    ),
    # resources and security context
    (
        "quantity that is not one",
        _container(resources={"limits": {"cpu": "lots"}}),
        f"invalid value: lots: {C}.resources.limits.cpu",
    ),
    (
        "negative quantity",
        _container(resources={"requests": {"memory": "-1Mi"}}),
        f"invalid value: -1Mi: {C}.resources.requests.memory",
    ),
    (
        "request over the limit",
        _container(resources={"limits": {"memory": "64Mi"}, "requests": {"memory": "1Gi"}}),
        f"invalid value: 1Gi: {C}.resources.requests.memory",
    ),
    (
        "resource claims",
        _container(resources={"claims": [{"name": "gpu"}]}),
        f"must not set the field(s): {C}.resources.claims",
    ),
    (
        "privileged",
        _container(securityContext={"privileged": True}),
        f"must not set the field(s): {C}.securityContext.privileged",
    ),
    # volumes
    (
        "mount without a volume",
        _container(volumeMounts=[{"name": "v", "mountPath": "/data", "readOnly": True}]),
        f"volumeMount has no matching volume: {C}.volumeMounts[0].name",
    ),
    (
        "reserved mount path",
        lambda b: [
            _spec(volumes=[{"name": "v", "emptyDir": {}}])(b),
            _container(volumeMounts=[{"name": "v", "mountPath": "/dev/"}])(b),
        ],
        f'mountPath "/dev" is a reserved path: {C}.volumeMounts[0].mountPath',
    ),
    (
        "relative mount path",
        lambda b: [
            _spec(volumes=[{"name": "v", "emptyDir": {}}])(b),
            _container(volumeMounts=[{"name": "v", "mountPath": "data"}])(b),
        ],
        f"invalid value: data: {C}.volumeMounts[0].mountPath",
    ),
    (
        "volume name",
        _spec(volumes=[{"name": "Bad_Name", "emptyDir": {}}]),
        "invalid value: Bad_Name: spec.template.spec.volumes[0].name",
    ),
    # traffic
    (
        "traffic sum",
        _traffic({"latestRevision": True, "percent": 90}),
        "Traffic targets sum to 90, want 100: spec.traffic",
    ),
    (
        "second target's percent",
        _traffic(
            {"latestRevision": True, "percent": 50},
            {"revisionName": "hello-00001", "latestRevision": False, "percent": 150},
        ),
        "expected 0 <= 150 <= 100: spec.traffic[1].percent",
    ),
    (
        "duplicate tags",
        _traffic(
            {"tag": "a", "latestRevision": True, "percent": 50},
            {"tag": "a", "revisionName": "hello-00001", "latestRevision": False, "percent": 50},
        ),
        'Multiple definitions for "a": spec.traffic[0].tag, spec.traffic[1].tag',
    ),
    (
        "tag not DNS-1035",
        _traffic({"tag": "Canary", "latestRevision": True, "percent": 100}),
        "spec.traffic.tag[0]",
    ),
    (
        "configurationName in a Service",
        _traffic({"configurationName": "x", "latestRevision": True, "percent": 100}),
        "must not set the field(s): spec.traffic[0].configurationName",
    ),
    (
        "latestRevision false without a revision",
        _traffic({"latestRevision": False, "percent": 100}),
        "spec.traffic[0].latestRevision",
    ),
    (
        "revisionName not a qualified name",
        _traffic({"revisionName": "bad name!", "latestRevision": False, "percent": 100}),
        'invalid key name "bad name!": spec.traffic[0].revisionName',
    ),
    (
        "url in spec",
        _traffic({"latestRevision": True, "percent": 100, "url": "http://x"}),
        "must not set the field(s): spec.traffic[0].url",
    ),
]

# Values of the wrong kind, which Go's decoder would refuse before Knative's rules run.
SHAPES: list[tuple[str, Change, str]] = [
    ("env entry a string", _container(env=["A=B"]), f"invalid value: 'A=B': {C}.env[0]\nexpected an object"),
    (
        "containerPort a string",
        _container(ports=[{"containerPort": "8080"}]),
        f"{C}.ports[0].containerPort\nexpected an integer",
    ),
    ("containers a map", _spec(containers={"image": "x"}), "spec.template.spec.containers\nexpected a list"),
    (
        "percent a string",
        _traffic({"latestRevision": True, "percent": "100"}),
        "spec.traffic[0].percent\nexpected an integer",
    ),
    ("a null traffic entry", _traffic(None), "spec.traffic[0]\nexpected an object"),  # type: ignore[arg-type]
    (
        "annotation value a number",
        lambda b: _tann(b).__setitem__("autoscaling.knative.dev/min-scale", 3),
        "spec.template.metadata.annotations\nexpected a string map",
    ),
    ("name a list", lambda b: b["metadata"].__setitem__("name", ["a"]), "metadata.name\nexpected a string"),
    (
        "probe period a string",
        _readiness(tcpSocket={}, periodSeconds="5"),
        f"{C}.readinessProbe.periodSeconds\nexpected an integer",
    ),
]

# Valid inputs that look close to the refused ones: each must be admitted.
ADMITTED: list[tuple[str, Change]] = [
    ("as it is", lambda b: None),
    ("readiness with a period gets Kubernetes' defaults", _readiness(periodSeconds=5)),
    (
        "probe on the container's own port",
        _container(ports=[{"containerPort": 9000}], readinessProbe={"tcpSocket": {"port": 9000}}),
    ),
    ("probe by port name", _container(readinessProbe={"httpGet": {"path": "/", "port": "http1"}})),
    (
        "quantities",
        _container(
            resources={
                "limits": {"cpu": "1", "memory": "1Gi"},
                "requests": {"cpu": "100m", "memory": "512Mi"},
            }
        ),
    ),
    (
        "env names with dots and dashes",
        _container(env=[{"name": "my.env-name", "value": "x"}, {"name": "_A1", "value": "y"}]),
    ),
    ("allowed security context", _container(securityContext={"runAsNonRoot": True, "privileged": False})),
    ("autoscaling annotations in the template", _template_annotations(min_scale="1", max_scale="3")),
    ("timeouts at the max", _spec(timeoutSeconds=600, responseStartTimeoutSeconds=600)),
]


def _path_in(fragment: str) -> str:
    """The field path of a `message: path\ndetails` fragment."""
    return fragment.split("\n", maxsplit=1)[0].rsplit(": ", 1)[-1]


def _changed(change: Change) -> dict[str, Any]:
    body = copy.deepcopy(VALID)
    change(body)
    return body


def _refusal(body: dict[str, Any]) -> str | None:
    """What the webhook answers: kopf calls mutate, then (on the mutated object) validate."""
    mutated = admission.mutate("Service", body, None, "alice", CFG)
    try:
        admission.validate("Service", mutated, None, CFG)
    except admission.Refused as refused:
        return str(refused)
    return None


@pytest.mark.parametrize(("change", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_invalid_field_is_refused_with_its_path(change: Change, fragment: str) -> None:
    refusal = _refusal(_changed(change))
    assert refusal is not None, "admitted"
    assert refusal.startswith("validation failed: ")
    assert fragment in refusal, refusal


@pytest.mark.parametrize(("change", "fragment"), [c[1:] for c in SHAPES], ids=[c[0] for c in SHAPES])
def test_values_of_the_wrong_kind_are_refused_with_their_path(change: Change, fragment: str) -> None:
    # Through the API the CRD schema refuses these first (see below); the webhook's own steps
    # must still refuse them with their path, never fail with a Python error.
    refusal = _refusal(_changed(change))
    assert refusal is not None and fragment in refusal, refusal


_JUNK = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 70_000) | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_FIELD_NAMES), inner, max_size=3)
    ),
    max_leaves=10,
)


# A loaded machine makes generation slow; that is not a failure of the code under test.
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.sampled_from(_PLACES), st.sampled_from(_FIELD_NAMES), _JUNK), max_size=3))
def test_junk_anywhere_is_refused_or_admitted_never_raised(
    edits: list[tuple[tuple[Any, ...], str, Any]],
) -> None:
    body = copy.deepcopy(VALID)
    for place, field, value in edits:
        node: Any = body
        for step in place:
            present = step in node if isinstance(node, dict) else isinstance(node, list) and len(node) > step
            if not present:
                break
            node = node[step]
        else:
            if isinstance(node, dict):
                node[field] = value
    # The webhook's own steps, defaulting included: a refusal or an admission, never a raise.
    refusal = _refusal(body)
    assert refusal is None or refusal.startswith("validation failed: ")
    for validate in (validate_service, validate_configuration):
        assert all(isinstance(e.message, str) for e in validate(body, CFG))


@pytest.mark.parametrize("change", [a[1] for a in ADMITTED], ids=[a[0] for a in ADMITTED])
def test_near_misses_are_admitted(change: Change) -> None:
    assert _refusal(_changed(change)) is None


def test_an_update_is_checked_like_a_create() -> None:
    old = admission.mutate("Service", copy.deepcopy(VALID), None, "alice", CFG)
    new = copy.deepcopy(old)
    _container(ports=[{"containerPort": 70000}])(new)
    with pytest.raises(admission.Refused, match=r"containers\[0\]\.ports\.containerPort"):
        admission.validate("Service", new, old, CFG)


# Rows sent through localkube to the operator's registered webhooks (operator start is the cost).
THROUGH_THE_API = [
    "autoscaling annotation on the Service itself",
    "min-scale negative",
    "port out of range",
    "second target's percent",
    "timeoutSeconds over the max",
    "containerConcurrency over the max",
    "env name with =",
    "readiness failureThreshold with period zero",
    "request over the limit",
    "template name without the Service's prefix",
]


@pytest.mark.timeout(90)
async def test_the_registered_webhook_refuses_with_the_path(
    apiserver: ThreadedApiServer, kubectl: Kubectl
) -> None:
    by_id = {c[0]: c for c in CASES}
    async with running_operator(apiserver.kubeconfig) as client:
        for case_id in THROUGH_THE_API:
            _, change, fragment = by_id[case_id]
            with pytest.raises(ApiError) as info:
                await client.create(KSERVICES, _changed(change), "default")
            assert info.value.status == 400, (case_id, info.value)
            assert 'admission webhook "validate-services.serving.kwake.dev" denied the request' in str(
                info.value
            )
            assert fragment in str(info.value), (case_id, str(info.value))
        # Values of the wrong kind never reach the webhook: the CRD schema refuses them first,
        # with their path, as kube-apiserver does.
        for case_id, change, fragment in SHAPES:
            with pytest.raises(ApiError) as info:
                await client.create(KSERVICES, _changed(change), "default")
            assert info.value.status == 422, (case_id, info.value)
            assert _path_in(fragment) in str(info.value), (case_id, str(info.value))
        assert (await client.list(KSERVICES, "default"))["items"] == []
        # kubectl prints the same refusal, field path included.
        _, change, fragment = by_id["readiness timeoutSeconds with period zero"]
        manifest = yaml.safe_dump(_changed(change))
        result = await asyncio.to_thread(kubectl.run, "apply", "-f", "-", input=manifest, check=False)
        assert result.returncode != 0
        assert fragment in result.stderr, result.stderr
        # ...and the valid Service goes in.
        created = await client.create(KSERVICES, _changed(ADMITTED[1][1]), "default")
        assert created["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["timeoutSeconds"] == 1
