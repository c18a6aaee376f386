"""Least privilege, checked two ways.

1. The table below is what each component's code calls, read from the code (the call sites are
   named); the RBAC rendered from deploy/ must grant exactly that: nothing missing, nothing more.
2. The three components run as the user runs them (`kwake operator|gateway|autoscaler
   --kubeconfig`) against localkube, each through a recording proxy, while a Knative Service is
   created and updated. Every API call each one makes must be allowed by its own Role and
   ClusterRole (discovery excepted, which every authenticated user may read), and every grant
   must have been used in the run unless the table says why the run cannot reach it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import unused_port

from localkube.client import ApiClient, Resource, load_connection
from tests.conftest import Kubectl
from tests.deploy.manifests import DEPLOY, SYSTEM_NAMESPACE, render
from tests.deploy.processes import component, eventually, localkube
from tests.deploy.rbac import ALL, Grant, RequestAttributes, grants_of, request_attributes
from tests.deploy.recording_proxy import RecordingProxy

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

SERVING = "serving.knative.dev"
AUTOSCALING = "autoscaling.internal.knative.dev"
NETWORKING = "networking.internal.knative.dev"
WEBHOOK_CONFIG = "serving.kwake.dev"
LEASE = "kwake-autoscaler"
OPERATOR_LEASE = "kwake-operator"
COORDINATION = "coordination.k8s.io"

# (group, resources, verbs, namespace or ALL, resourceNames or ALL, where the code calls it)
Row = tuple[str, tuple[str, ...], tuple[str, ...], str, str, str]
EXPECTED: dict[str, tuple[Row, ...]] = {
    "operator": (
        (SERVING, ("services",), ("get", "list", "watch"), ALL, ALL, "kopf.on.event; service.reconcile"),
        (
            SERVING,
            ("configurations", "routes"),
            ("get", "list", "watch", "create", "update", "delete"),
            ALL,
            ALL,
            "kopf.on.event; service.reconcile -> children.ensure (get, create, replace, orphan delete)",
        ),
        (
            SERVING,
            ("revisions",),
            ("get", "list", "watch", "create", "patch", "delete"),
            ALL,
            ALL,
            "configuration.reconcile (create, label patch, GC delete); route._label_revisions",
        ),
        (
            SERVING,
            ("services/status", "configurations/status", "routes/status", "revisions/status"),
            ("patch",),
            ALL,
            ALL,
            "OperatorContext.write_status",
        ),
        (
            "apps",
            ("deployments",),
            ("get", "list", "watch", "create", "update", "delete"),
            ALL,
            ALL,
            "kopf.on.event; revision.reconcile -> children.ensure",
        ),
        (
            AUTOSCALING,
            ("podautoscalers",),
            ("get", "list", "watch", "create", "update", "delete"),
            ALL,
            ALL,
            "kopf.on.event; revision.reconcile -> children.ensure",
        ),
        (
            NETWORKING,
            ("ingresses",),
            ("get", "list", "watch", "create", "update", "delete"),
            ALL,
            ALL,
            "kopf.on.event; route._reconcile_ingress -> children.ensure",
        ),
        ("", ("services",), ("get", "create", "update", "delete"), ALL, ALL, "revision.reconcile -> ensure"),
        ("", ("pods",), ("list", "watch"), ALL, ALL, "kopf.on.event; revision.reconcile lists pods"),
        ("", ("configmaps",), ("list", "watch"), ALL, ALL, "kopf.on.event cluster-wide; runner._load_config"),
        ("", ("events",), ("create", "patch"), ALL, ALL, "EventRecorder.record"),
        (
            "apiextensions.k8s.io",
            ("customresourcedefinitions",),
            ("list", "watch"),
            ALL,
            ALL,
            "kopf resource_observer",
        ),
        (
            "admissionregistration.k8s.io",
            ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"),
            ("create",),
            ALL,
            ALL,
            "kopf configuration_manager creates serving.kwake.dev (409 when present)",
        ),
        (
            "admissionregistration.k8s.io",
            ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"),
            ("patch",),
            ALL,
            WEBHOOK_CONFIG,
            "kopf configuration_manager patches serving.kwake.dev's webhooks",
        ),
        (COORDINATION, ("leases",), ("create",), SYSTEM_NAMESPACE, ALL, "leadership.Leadership"),
        (COORDINATION, ("leases",), ("get", "update"), SYSTEM_NAMESPACE, OPERATOR_LEASE, "LeaderElector"),
    ),
    "gateway": (
        (NETWORKING, ("ingresses",), ("list", "watch"), ALL, ALL, "cluster.ClusterRoutingSource informer"),
        (NETWORKING, ("ingresses/status",), ("patch",), ALL, ALL, "ClusterRoutingSource._report"),
        ("", ("endpoints",), ("list", "watch"), ALL, ALL, "ClusterRoutingSource informer"),
        (SERVING, ("revisions",), ("list", "watch"), ALL, ALL, "ClusterRoutingSource informer"),
    ),
    "autoscaler": (
        (AUTOSCALING, ("podautoscalers",), ("list", "watch"), ALL, ALL, "cluster.ClusterWatcher informer"),
        (AUTOSCALING, ("podautoscalers/status",), ("patch",), ALL, ALL, "kube.KubeScaleWriter.write_status"),
        ("apps", ("deployments",), ("list", "watch"), ALL, ALL, "ClusterWatcher informer"),
        ("apps", ("deployments/scale",), ("patch",), ALL, ALL, "KubeScaleWriter.set_scale"),
        ("", ("configmaps",), ("list", "watch"), SYSTEM_NAMESPACE, ALL, "ClusterWatcher informer"),
        ("coordination.k8s.io", ("leases",), ("create",), SYSTEM_NAMESPACE, ALL, "leader.LeaderElector"),
        ("coordination.k8s.io", ("leases",), ("get", "update"), SYSTEM_NAMESPACE, LEASE, "LeaderElector"),
    ),
}

# Grants a short run may not reach, and why (each is still called by the code named above).
NOT_EXERCISED: dict[str, dict[tuple[str, str, str], str]] = {
    "operator": {
        (SERVING, "configurations", "delete"): "children._undo_if_orphaned: owner deleted mid-reconcile",
        (SERVING, "routes", "delete"): "children._undo_if_orphaned: owner deleted mid-reconcile",
        (SERVING, "revisions", "delete"): "revision GC: config-gc keeps revisions for 48h",
        ("apps", "deployments", "delete"): "children._undo_if_orphaned",
        ("apps", "deployments", "update"): "children.ensure on drift of a live Deployment",
        (AUTOSCALING, "podautoscalers", "delete"): "children._undo_if_orphaned",
        (AUTOSCALING, "podautoscalers", "update"): "children.ensure on drift of a live PodAutoscaler",
        (NETWORKING, "ingresses", "delete"): "children._undo_if_orphaned",
        ("", "services", "delete"): "children._undo_if_orphaned",
        ("", "services", "update"): "children.ensure on drift of a revision's Service",
        ("", "events", "patch"): "EventRecorder: a repeat of the same event within its window",
    },
    "gateway": {},
    "autoscaler": {
        ("apps", "deployments/scale", "patch"): "KubeScaleWriter.set_scale: no pod ever runs here, so the "
        "decision stays at the Deployment's initial replicas",
    },
}


def expected_grants(component: str) -> frozenset[Grant]:
    return frozenset(
        Grant(group, resource, verb, namespace, name)
        for group, resources, verbs, namespace, name, _why in EXPECTED[component]
        for resource in resources
        for verb in verbs
    )


@pytest.mark.parametrize("component", sorted(EXPECTED))
def test_rendered_rbac_grants_exactly_what_the_code_calls(component: str) -> None:
    granted = grants_of(render(), SYSTEM_NAMESPACE, f"kwake-{component}")
    expected = expected_grants(component)
    assert sorted(granted - expected, key=str) == [], "granted but not called"
    assert sorted(expected - granted, key=str) == [], "called but not granted"


def test_a_grant_outside_the_table_is_caught() -> None:
    """The comparison above can fail: one extra verb shows up as granted but not called."""
    objects = render()
    for obj in objects:
        if obj["kind"] == "ClusterRole" and obj["metadata"]["name"] == "kwake-gateway":
            obj["rules"][0]["verbs"].append("delete")
    extra = grants_of(objects, SYSTEM_NAMESPACE, "kwake-gateway") - expected_grants("gateway")
    assert extra == {Grant(NETWORKING, "ingresses", "delete", ALL, ALL)}


KSVC = {
    "apiVersion": "serving.knative.dev/v1",
    "kind": "Service",
    "metadata": {"name": "hello", "namespace": "default"},
    "spec": {
        "template": {
            "spec": {
                "containers": [
                    {
                        "image": "ghcr.io/kwake/hello:1",
                        "command": ["python3", "-m", "loadtests.apps.hello"],
                        "env": [{"name": "V", "value": "1"}],
                    }
                ]
            }
        }
    },
}
KINGRESSES = Resource.custom(NETWORKING, "v1alpha1", "ingresses", "Ingress")
PODAUTOSCALERS = Resource.custom(AUTOSCALING, "v1alpha1", "podautoscalers", "PodAutoscaler")


def _kubeconfig(path: Path, server: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "proxy", "cluster": {"server": server}}],
        "users": [{"name": "proxy", "user": {}}],
        "contexts": [{"name": "proxy", "context": {"cluster": "proxy", "user": "proxy"}}],
        "current-context": "proxy",
    }
    path.write_text(yaml.safe_dump(config))
    return path


def _conditions_true(obj: dict[str, Any] | None, kind: str) -> bool:
    conditions = ((obj or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions)


async def test_each_component_calls_only_what_its_rbac_allows(tmp_path: Path) -> None:
    async with localkube(tmp_path / "localkube", tmp_path) as kubectl:
        await _run_components(kubectl, tmp_path)


async def _run_components(kubectl: Kubectl, tmp_path: Path) -> None:
    kubectl.run("apply", "-k", str(DEPLOY), timeout=120)
    upstream = load_connection(kubectl.kubeconfig, environ={})
    proxies = {name: RecordingProxy(upstream) for name in EXPECTED}
    for name, proxy in proxies.items():
        _kubeconfig(tmp_path / f"{name}.kubeconfig", await proxy.start())
    autoscaler_port = unused_port()
    argv = {
        "operator": ["--kubeconfig", str(tmp_path / "operator.kubeconfig"), "--leader-elect"],
        "autoscaler": [
            "--kubeconfig",
            str(tmp_path / "autoscaler.kubeconfig"),
            "--port",
            str(autoscaler_port),
        ],
        "gateway": [
            *("--kubeconfig", str(tmp_path / "gateway.kubeconfig"), "--port", str(unused_port())),
            *("--admin-port", str(unused_port()), "--access-log", "off"),
            *("--autoscaler-url", f"http://127.0.0.1:{autoscaler_port}"),
        ],
    }
    try:
        async with (
            ApiClient(upstream) as client,
            component("operator", argv["operator"], tmp_path / "operator.log"),
            component("autoscaler", argv["autoscaler"], tmp_path / "autoscaler.log"),
            component("gateway", argv["gateway"], tmp_path / "gateway.log"),
        ):
            await eventually(
                lambda: _webhooks_registered(client), 60, "the operator's webhook configurations", tmp_path
            )
            kubectl.run("apply", "-f", "-", input=json.dumps(KSVC))

            async def served() -> bool:
                ingress = await client.get_or_none(KINGRESSES, "hello", "default")
                pa = await client.get_or_none(PODAUTOSCALERS, "hello-00001", "default")
                return _conditions_true(ingress, "Ready") and bool((pa or {}).get("status"))

            await eventually(
                served, 60, "the KIngress Ready (gateway) and the PA status (autoscaler)", tmp_path
            )
            # A second template and a 50/50 split: a new Revision, the Configuration, Route and
            # KIngress updated, and the gateway marking the new KIngress generation Ready.
            update = json.loads(json.dumps(KSVC))
            update["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = "2"
            update["spec"]["traffic"] = [
                {"revisionName": "hello-00001", "percent": 50},
                {"latestRevision": True, "percent": 50},
            ]
            kubectl.run("apply", "-f", "-", input=json.dumps(update))

            async def split_served() -> bool:
                ingress = await client.get_or_none(KINGRESSES, "hello", "default") or {}
                generation = (ingress.get("metadata") or {}).get("generation", 0)
                observed = (ingress.get("status") or {}).get("observedGeneration", 0)
                return generation >= 2 and observed == generation and _conditions_true(ingress, "Ready")

            await eventually(split_served, 60, "the split KIngress served", tmp_path)
            await eventually(lambda: _lease_held(client), 30, "the autoscaler's Lease", tmp_path)
    finally:
        for proxy in proxies.values():
            await proxy.stop()

    rendered = render()
    for name, proxy in proxies.items():
        granted = grants_of(rendered, SYSTEM_NAMESPACE, f"kwake-{name}")
        requests = [
            (call, attrs)
            for call in proxy.calls
            if (attrs := request_attributes(call.method, call.path, call.query)) is not None
        ]
        assert requests, f"{name} made no API calls through its proxy"
        assert not [c for c in proxy.calls if c.status in (401, 403)], (
            "the proxy must pass calls on authenticated"
        )
        denied = sorted({str(attrs) for _call, attrs in requests if not _allowed(granted, attrs)})
        assert denied == [], f"{name} made calls its RBAC does not allow"
        unused = {
            (g.group, g.resource, g.verb)
            for g in granted
            if not any(g.allows(attrs) for _call, attrs in requests)
        }
        unexplained = sorted(unused - NOT_EXERCISED[name].keys())
        assert unexplained == [], f"{name}: granted, unused by the run, and not explained in NOT_EXERCISED"


def _allowed(granted: frozenset[Grant], attrs: RequestAttributes) -> bool:
    return any(g.allows(attrs) for g in granted)


async def _webhooks_registered(client: ApiClient) -> bool:
    for plural in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
        resource = Resource("admissionregistration.k8s.io", "v1", plural, False, "")
        body = await client.get_or_none(resource, WEBHOOK_CONFIG)
        if not (body or {}).get("webhooks"):
            return False
    return True


async def _lease_held(client: ApiClient) -> bool:
    lease = await client.get_or_none(
        Resource("coordination.k8s.io", "v1", "leases", True, "Lease"), LEASE, SYSTEM_NAMESPACE
    )
    return bool(((lease or {}).get("spec") or {}).get("holderIdentity"))


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", "/apis", {}, None),
        ("GET", "/apis/apps/v1", {}, None),
        ("GET", "/version", {}, None),
        ("GET", "/api/v1/endpoints", {"watch": "true"}, RequestAttributes("watch", "", "endpoints", "", "")),
        ("GET", "/api/v1/namespaces/ns/pods", {}, RequestAttributes("list", "", "pods", "ns", "")),
        (
            "PATCH",
            "/apis/apps/v1/namespaces/ns/deployments/d/scale",
            {},
            RequestAttributes("patch", "apps", "deployments/scale", "ns", "d"),
        ),
        (
            "PUT",
            "/apis/coordination.k8s.io/v1/namespaces/s/leases/l",
            {},
            RequestAttributes("update", "coordination.k8s.io", "leases", "s", "l"),
        ),
        ("POST", "/api/v1/namespaces/ns/events", {}, RequestAttributes("create", "", "events", "ns", "")),
        (
            "DELETE",
            "/api/v1/namespaces/n/pods",
            {},
            RequestAttributes("deletecollection", "", "pods", "n", ""),
        ),
        ("GET", "/api/v1/namespaces/ns", {}, RequestAttributes("get", "", "namespaces", "ns", "ns")),
    ],
)
def test_request_attributes_as_the_authorizer_sees_them(
    method: str, path: str, query: dict[str, str], expected: RequestAttributes | None
) -> None:
    assert request_attributes(method, path, query) == expected


def test_named_and_namespaced_grants_allow_only_their_object() -> None:
    group, system = "coordination.k8s.io", SYSTEM_NAMESPACE
    lease = Grant(group, "leases", "update", system, LEASE)
    assert lease.allows(RequestAttributes("update", group, "leases", system, LEASE))
    assert not lease.allows(RequestAttributes("update", group, "leases", system, "other"))
    assert not lease.allows(RequestAttributes("update", group, "leases", "default", LEASE))
    create = Grant(group, "leases", "create", system, LEASE)
    assert not create.allows(RequestAttributes("create", group, "leases", system, ""))
