"""The operator's admission webhooks registered by Service reference (`--webhook-service`).

On a real cluster kube-apiserver cannot resolve `*.svc` URL hosts, so the webhooks must be
registered as `clientConfig.service`. localkube resolves such a reference like kube-apiserver
does, through the Service's Endpoints, so these tests point a selectorless Service and its
Endpoints at the operator's loopback port and go through the real `kubectl apply`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime
import ipaddress
import json
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509

from localkube.client import (
    ENDPOINTS,
    MUTATING_WEBHOOKS,
    NAMESPACES,
    SERVICES,
    VALIDATING_WEBHOOKS,
    ApiClient,
)
from localkube.server.runner import ThreadedApiServer
from serving.operator import cli
from serving.operator.handlers import WEBHOOK_CONFIG_NAME
from serving.operator.runner import (
    ServiceRef,
    WebhookOptions,
    self_signed_certificate,
    service_client_config,
)

from ..conftest import Kubectl
from .operator_harness import running_operator

pytestmark = pytest.mark.timeout(90)

NAMESPACE, NAME = "kwake-system", "kwake-operator-webhook"
NOW = datetime.datetime(2026, 11, 29, tzinfo=datetime.UTC)


def _ksvc(traffic: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "template": {"spec": {"containers": [{"image": "ghcr.io/kwake/kwake:0.1.0", "command": ["x"]}]}}
    }
    if traffic is not None:
        spec["traffic"] = traffic
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "hello", "namespace": "default"},
        "spec": spec,
    }


def test_service_ref_parses_namespace_name_and_port() -> None:
    assert ServiceRef.parse("kwake-system/hook") == ServiceRef("kwake-system", "hook")
    assert ServiceRef.parse("kwake-system/hook:9443") == ServiceRef("kwake-system", "hook", 9443)
    assert ServiceRef("kwake-system", "hook").dns_name == "hook.kwake-system.svc"
    for bad in ("hook", "/hook", "ns/", "ns/hook:x", "ns/hook:0", "ns/a/b", "ns/hook:70000"):
        with pytest.raises(ValueError):
            ServiceRef.parse(bad)


def test_cli_flag_reaches_the_webhook_options() -> None:
    parser = argparse.ArgumentParser()
    cli.register(parser)
    args = parser.parse_args(["--webhook-service", f"{NAMESPACE}/{NAME}:9443", "--webhook-port", "9443"])
    assert args.webhook_service == ServiceRef(NAMESPACE, NAME, 9443)
    assert parser.parse_args([]).webhook_service is None
    with pytest.raises(SystemExit):
        parser.parse_args(["--webhook-service", "no-namespace"])


def test_client_config_is_a_service_reference_with_the_ca() -> None:
    from_kopf: Any = {"url": "https://0.0.0.0:9443", "caBundle": "Q0E="}
    config: Any = service_client_config(from_kopf, ServiceRef(NAMESPACE, NAME))
    assert config == {
        "service": {"namespace": NAMESPACE, "name": NAME, "port": 9443, "path": ""},
        "caBundle": "Q0E=",
    }
    # A Service port other than the container's, and a root path kept for kopf's handler ids.
    config = service_client_config({"url": "https://h:9443/admit"}, ServiceRef(NAMESPACE, NAME, 443))
    assert config == {"service": {"namespace": NAMESPACE, "name": NAME, "port": 443, "path": "/admit"}}


def test_self_signed_certificate_names_the_service_and_the_loopback() -> None:
    cert_pem, key_pem = self_signed_certificate(["hook.kwake-system.svc", "127.0.0.1", "0.0.0.0"], NOW)
    cert = x509.load_pem_x509_certificate(cert_pem)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["hook.kwake-system.svc"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert cert.not_valid_before_utc < NOW < cert.not_valid_after_utc
    assert b"PRIVATE KEY" in key_pem and b"ENCRYPTED" not in key_pem
    _, encrypted = self_signed_certificate(["h"], NOW, password="secret")
    assert b"ENCRYPTED PRIVATE KEY" in encrypted


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _front_service(client: ApiClient, port: int) -> None:
    """A selectorless Service whose Endpoints are the operator's loopback socket."""
    await client.create(
        NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    )
    meta = {"name": NAME, "namespace": NAMESPACE}
    await client.create(
        SERVICES,
        {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": {"ports": [{"port": port}]}},
        NAMESPACE,
    )
    subsets = [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": port}]}]
    await client.create(
        ENDPOINTS, {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta, "subsets": subsets}, NAMESPACE
    )


@pytest.mark.parametrize("certificate", ["self-signed", "files"])
async def test_kubectl_apply_goes_through_the_service_webhooks(
    apiserver: ThreadedApiServer, kubectl: Kubectl, tmp_path: Path, certificate: str
) -> None:
    port = _free_port()
    service = ServiceRef(NAMESPACE, NAME, port)
    certfile = pkeyfile = None
    if certificate == "files":  # what the deploy/ Deployment mounts from its TLS Secret
        cert_pem, key_pem = self_signed_certificate([service.dns_name], NOW)
        certfile, pkeyfile = tmp_path / "tls.crt", tmp_path / "tls.key"
        certfile.write_bytes(cert_pem)
        pkeyfile.write_bytes(key_pem)
    options = WebhookOptions(
        addr="127.0.0.1", port=port, service=service, certfile=certfile, pkeyfile=pkeyfile
    )
    async with running_operator(apiserver.kubeconfig, webhook=options) as client:
        await _front_service(client, port)
        for resource in (MUTATING_WEBHOOKS, VALIDATING_WEBHOOKS):
            config = await client.get(resource, WEBHOOK_CONFIG_NAME)
            for hook in config["webhooks"]:
                client_config = hook["clientConfig"]
                assert "url" not in client_config
                ref = client_config["service"]
                assert (ref["namespace"], ref["name"], ref["port"]) == (NAMESPACE, NAME, port)
                assert ref["path"].startswith("/")
                ca = x509.load_pem_x509_certificate(base64.b64decode(client_config["caBundle"]))
                sans = ca.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                assert service.dns_name in sans.get_values_for_type(x509.DNSName)

        # kubectl blocks: run it off the loop that serves the operator's webhooks.
        refused = await asyncio.to_thread(
            kubectl.run,
            "apply",
            "-f",
            "-",
            input=json.dumps(_ksvc([{"latestRevision": True, "percent": 90}])),
            check=False,
        )
        assert refused.returncode != 0
        assert "Traffic targets sum to 90, want 100: spec.traffic" in refused.stderr
        assert "failed calling webhook" not in refused.stderr

        await asyncio.to_thread(kubectl.run, "apply", "-f", "-", input=json.dumps(_ksvc()))
        got = await asyncio.to_thread(kubectl.run, "get", "ksvc", "hello", "-n", "default", "-o", "json")
        stored = json.loads(got.stdout)
        # The mutating webhook, reached through the Service, defaulted the template.
        assert stored["spec"]["template"]["spec"]["timeoutSeconds"] == 300


def test_deploy_registers_the_operator_by_its_webhook_service() -> None:
    """deploy/base's operator flags parse, and name the Service and port that front it."""
    root = Path(__file__).resolve().parents[2]
    docs = list(yaml.safe_load_all((root / "deploy" / "base" / "operator.yaml").read_text()))
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    parser = argparse.ArgumentParser()
    cli.register(parser)
    args = parser.parse_args(container["args"][1:])  # after the component name
    ref: ServiceRef = args.webhook_service
    service = next(d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == ref.name)
    assert service["metadata"]["namespace"] == ref.namespace
    (port,) = service["spec"]["ports"]
    assert port["port"] == ref.port
    container_ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert container_ports[port["targetPort"]] == args.webhook_port
    assert args.webhook_host == ref.dns_name  # the name kube-apiserver checks the certificate for
