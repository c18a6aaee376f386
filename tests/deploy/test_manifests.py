"""deploy/: renders with kubectl, validates against Kubernetes' schemas, and says what the
components need (ports, probes, flags they accept, single writers, restricted pods)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest

from activator.ingress_status import GATEWAY_SERVICE
from activator.ingress_status import SYSTEM_NAMESPACE as GATEWAY_STATUS_NAMESPACE
from autoscaler.kpa import config as kpa_config
from serving.api.config import CONFIGMAP_NAMES, Config
from serving.cli.main import build_parser
from serving.operator.handlers import WEBHOOK_CONFIG_NAME
from tests.deploy.manifests import (
    DEPLOY,
    REPO,
    SYSTEM_NAMESPACE,
    container,
    flags,
    named,
    of_kind,
    port,
    render,
)

# Kubernetes releases whose schemas the manifests must satisfy: the oldest still supported
# upstream when this was written, and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.32.0", kubernetes_validate.latest_version())
# Objects typed by other projects' CRDs: the validator has no schema for them.
FOREIGN_KINDS = {("cert-manager.io/v1", "Issuer"), ("cert-manager.io/v1", "Certificate")}
COMPONENTS = ("operator", "gateway", "autoscaler")


def _deployment(objects: list[dict[str, Any]], component: str) -> dict[str, Any]:
    return named(objects, "Deployment", f"kwake-{component}")


def test_kustomize_renders_kwake_in_its_namespace() -> None:
    objects = render()
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objects}
    for component in COMPONENTS:
        assert ("Deployment", f"kwake-{component}") in kinds
        assert ("ServiceAccount", f"kwake-{component}") in kinds
        assert ("ClusterRole", f"kwake-{component}") in kinds
    assert {name for kind, name in kinds if kind == "ConfigMap"} == set(CONFIGMAP_NAMES)
    assert len(list(of_kind(objects, "CustomResourceDefinition"))) == len(
        list((REPO / "crds").glob("*.yaml"))
    )
    assert ("Namespace", SYSTEM_NAMESPACE) in kinds
    for obj in objects:
        if obj["kind"] not in ("Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"):
            assert obj["metadata"]["namespace"] == SYSTEM_NAMESPACE, obj["metadata"]["name"]


@pytest.mark.parametrize(
    ("directory", "version"),
    [(DEPLOY, v) for v in KUBERNETES_VERSIONS] + [(DEPLOY / "cert-manager", KUBERNETES_VERSIONS[-1])],
    ids=[f"deploy-{v}" for v in KUBERNETES_VERSIONS] + ["cert-manager"],
)
def test_every_object_validates_against_kubernetes_schemas(directory: Path, version: str) -> None:
    skipped = set()
    for obj in render(directory):
        if (obj["apiVersion"], obj["kind"]) in FOREIGN_KINDS:
            skipped.add((obj["apiVersion"], obj["kind"]))
            continue
        kubernetes_validate.validate(obj, version, strict=True)
    if directory == DEPLOY:
        assert not skipped
    else:
        assert skipped == FOREIGN_KINDS


def test_the_validator_refuses_a_misspelt_field() -> None:
    """The check above can fail: strict validation names a field Kubernetes does not know."""
    gateway = named(render(), "Deployment", "kwake-gateway")
    gateway["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(gateway, KUBERNETES_VERSIONS[-1], strict=True)


def test_deployed_crds_are_the_crds() -> None:
    """kustomize will not read crds/ from deploy/, so deploy/base/crds is a copy kept identical."""
    source = {p.name: p.read_bytes() for p in (REPO / "crds").glob("*.yaml")}
    copied = {p.name: p.read_bytes() for p in (DEPLOY / "base" / "crds").glob("*.yaml")}
    assert source.keys() == copied.keys()
    stale = sorted(name for name in source if source[name] != copied[name])
    assert not stale, f"refresh with: python -m serving.api.crds deploy/base/crds/  ({stale})"


def test_configmaps_hold_knatives_defaults() -> None:
    data = {cm["metadata"]["name"]: cm.get("data") or {} for cm in of_kind(render(), "ConfigMap")}
    assert Config.from_configmaps(data) == Config()
    assert kpa_config.from_configmap(data["config-autoscaler"]) == kpa_config.AutoscalerConfig()
    assert data["config-network"]["ingress-class"] == "kwake.ingress.networking.knative.dev"


@pytest.mark.parametrize("component", COMPONENTS)
def test_component_flags_are_ones_the_cli_accepts(component: str) -> None:
    args = container(_deployment(render(), component))["args"]
    assert args[0] == component
    parser, _command = build_parser(args)
    parsed = parser.parse_args(args)
    assert isinstance(parsed, argparse.Namespace)
    assert parsed.command == component


def test_gateway_is_highly_available_with_probes_and_a_public_port_80() -> None:
    objects = render()
    gateway = _deployment(objects, "gateway")
    assert gateway["spec"]["replicas"] >= 2
    labels = gateway["spec"]["template"]["metadata"]["labels"]
    pdb = named(objects, "PodDisruptionBudget", "kwake-gateway")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["minAvailable"] >= 1
    c = container(gateway)
    admin, http = port(c, "admin"), port(c, "http")
    assert flags(c)["admin-port"] == str(admin) and flags(c)["port"] == str(http)
    assert c["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "admin"}
    assert c["livenessProbe"]["httpGet"]["port"] == "admin"
    assert {"cpu", "memory"} <= c["resources"]["requests"].keys()
    assert {"cpu", "memory"} <= c["resources"]["limits"].keys()
    public = named(objects, "Service", GATEWAY_SERVICE)
    assert public["metadata"]["namespace"] == GATEWAY_STATUS_NAMESPACE  # what KIngress status names
    assert public["spec"]["type"] == "LoadBalancer"
    assert [(p["port"], p["targetPort"]) for p in public["spec"]["ports"]] == [(80, "http")]
    internal = named(objects, "Service", "kwake-gateway-admin")
    assert internal["spec"].get("type", "ClusterIP") == "ClusterIP"
    assert [p["targetPort"] for p in internal["spec"]["ports"]] == ["admin"]
    for service in of_kind(objects, "Service"):
        if service["spec"].get("type") in ("LoadBalancer", "NodePort"):
            assert all(p["targetPort"] != "admin" for p in service["spec"]["ports"]), service["metadata"]


def test_gateway_posts_to_the_autoscaler_service() -> None:
    objects = render()
    url = urlsplit(flags(container(_deployment(objects, "gateway")))["autoscaler-url"])
    service = named(objects, "Service", "kwake-autoscaler")
    assert url.hostname == f"kwake-autoscaler.{SYSTEM_NAMESPACE}.svc"
    (service_port,) = service["spec"]["ports"]
    assert url.port == service_port["port"]
    autoscaler = container(_deployment(objects, "autoscaler"))
    assert flags(autoscaler)["port"] == str(port(autoscaler, service_port["targetPort"]))
    assert flags(autoscaler)["host"] == "0.0.0.0"  # reachable from the gateways' pods
    assert service["spec"]["selector"].items() <= (
        _deployment(objects, "autoscaler")["spec"]["template"]["metadata"]["labels"].items()
    )


@pytest.mark.parametrize("component", ["operator", "autoscaler"])
def test_single_writers_run_a_standby_that_takes_over_by_lease(component: str) -> None:
    objects = render()
    deployment = _deployment(objects, component)
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    if component == "operator":
        assert "leader-elect" in flags(container(deployment))  # the autoscaler always elects
    budget = named(objects, "PodDisruptionBudget", f"kwake-{component}")
    assert budget["spec"]["selector"]["matchLabels"].items() <= (
        deployment["spec"]["template"]["metadata"]["labels"].items()
    )


@pytest.mark.parametrize("component", COMPONENTS)
def test_pods_run_restricted_with_a_writable_tmp_only(component: str) -> None:
    spec = _deployment(render(), component)["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == f"kwake-{component}"
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    c = container({"spec": {"template": {"spec": spec}}})
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    tmp = [m for m in c["volumeMounts"] if m["mountPath"] == "/tmp"]
    assert len(tmp) == 1 and "emptyDir" in volumes[tmp[0]["name"]]
    writable = [m for m in c["volumeMounts"] if not m.get("readOnly")]
    assert writable == tmp


@pytest.mark.parametrize(("component", "port_name"), [("gateway", "admin"), ("autoscaler", "http")])
def test_scrape_annotations_point_at_the_metrics_port(component: str, port_name: str) -> None:
    template = _deployment(render(), component)["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert annotations["prometheus.io/port"] == str(
        port(container({"spec": {"template": template}}), port_name)
    )


def test_operator_webhook_host_port_and_certificate_agree() -> None:
    objects = render(DEPLOY / "cert-manager")
    operator = _deployment(objects, "operator")
    c = container(operator)
    f = flags(c)
    service = named(objects, "Service", "kwake-operator-webhook")
    assert f["webhook-host"] == f"kwake-operator-webhook.{SYSTEM_NAMESPACE}.svc"
    (service_port,) = service["spec"]["ports"]
    # kopf's webhook URL is https://HOST:CONTAINER_PORT/...: the Service must listen on that number.
    assert service_port["port"] == port(c, "webhook") == int(f["webhook-port"])
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in operator["spec"]["template"]["spec"]["volumes"]}
    secret = volumes["webhook-certs"]["secret"]["secretName"]
    assert f["webhook-cert"] == f"{mounts['webhook-certs']}/tls.crt"
    assert f["webhook-key"] == f"{mounts['webhook-certs']}/tls.key"
    certificate = named(objects, "Certificate", "kwake-operator-webhook")
    assert certificate["spec"]["secretName"] == secret
    assert f["webhook-host"] in certificate["spec"]["dnsNames"]
    issuer = named(objects, "Issuer", certificate["spec"]["issuerRef"]["name"])
    assert "selfSigned" in issuer["spec"]  # kopf uses tls.crt itself as the caBundle
    rules = named(objects, "ClusterRole", "kwake-operator")["rules"]
    assert any(WEBHOOK_CONFIG_NAME in r.get("resourceNames", []) for r in rules)
