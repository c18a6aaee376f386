"""The real kubectl against localkube: what people type, and what they see."""

from __future__ import annotations

import json
import subprocess

import yaml

from tests.conftest import Kubectl
from tests.localkube.apihttp import WIDGET_CRD

WIDGET = """
apiVersion: example.com/v1
kind: Widget
metadata:
  name: {name}
spec:
  size: {size}
  replicas: 1
"""


def apply_crd(kubectl: Kubectl) -> None:
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump(WIDGET_CRD))


def test_apply_crd_and_custom_resources_client_and_server_side(kubectl: Kubectl) -> None:
    apply_crd(kubectl)
    out = kubectl.run("apply", "-f", "-", input=WIDGET.format(name="w1", size=3)).stdout
    assert "widget.example.com/w1 created" in out
    out = kubectl.run("apply", "-f", "-", input=WIDGET.format(name="w1", size=4)).stdout
    assert "widget.example.com/w1 configured" in out
    out = kubectl.run("apply", "--server-side", "-f", "-", input=WIDGET.format(name="w2", size=5)).stdout
    assert "widget.example.com/w2 serverside-applied" in out
    out = kubectl.run("apply", "--server-side", "-f", "-", input=WIDGET.format(name="w2", size=6)).stdout
    assert "serverside-applied" in out
    got = json.loads(kubectl.run("get", "widgets", "-o", "json").stdout)
    assert {i["metadata"]["name"]: i["spec"]["size"] for i in got["items"]} == {"w1": 4, "w2": 6}


def test_get_prints_printer_columns_and_short_names_work(kubectl: Kubectl) -> None:
    apply_crd(kubectl)
    kubectl.run("apply", "-f", "-", input=WIDGET.format(name="w1", size=7))
    table = kubectl.run("get", "wd").stdout.splitlines()
    assert table[0].split() == ["NAME", "SIZE", "READY", "AGE"]
    assert table[1].split()[:2] == ["w1", "7"]
    as_yaml = yaml.safe_load(kubectl.run("get", "widget", "w1", "-o", "yaml").stdout)
    assert as_yaml["spec"]["size"] == 7 and as_yaml["kind"] == "Widget"
    everything = kubectl.run("get", "all").stdout
    assert "widget.example.com/w1" in everything


def test_patch_label_scale_and_errors_as_kubectl_prints_them(kubectl: Kubectl) -> None:
    apply_crd(kubectl)
    kubectl.run("apply", "-f", "-", input=WIDGET.format(name="w1", size=1))
    kubectl.run("patch", "widget", "w1", "--type=merge", "-p", '{"spec":{"size":9}}')
    kubectl.run("patch", "widget", "w1", "-p", '{"spec":{"color":"red"}}')  # strategic: merge for CRs
    kubectl.run("label", "widget", "w1", "tier=front")
    kubectl.run("scale", "widget", "w1", "--replicas=3")
    got = json.loads(kubectl.run("get", "widget", "w1", "-o", "json").stdout)
    assert got["spec"] == {"size": 9, "color": "red", "replicas": 3}
    assert got["metadata"]["labels"] == {"tier": "front"}
    assert (
        kubectl.run("get", "widgets", "-l", "tier=front", "-o", "name").stdout.strip()
        == "widget.example.com/w1"
    )
    missing = kubectl.run("get", "widget", "nosuch", check=False)
    assert 'Error from server (NotFound): widgets.example.com "nosuch" not found' in missing.stderr
    invalid = kubectl.run(
        "patch", "widget", "w1", "--type=merge", "-p", '{"spec":{"size":"big"}}', check=False
    )
    assert invalid.returncode != 0 and "spec.size" in invalid.stderr and "invalid" in invalid.stderr.lower()
    again = kubectl.run("create", "-f", "-", input=WIDGET.format(name="w1", size=1), check=False)
    assert "AlreadyExists" in again.stderr


def test_delete_with_cascade_waits_for_dependents(kubectl: Kubectl) -> None:
    kubectl.run("apply", "-f", "-", input="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: owner}\n")
    uid = kubectl.run("get", "cm", "owner", "-o", "jsonpath={.metadata.uid}").stdout
    child = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "child",
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}],
        },
    }
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump(child))
    kubectl.run("delete", "cm", "owner", "--cascade=foreground")
    names = kubectl.run("get", "cm", "-o", "name").stdout.split()
    assert "configmap/owner" not in names and "configmap/child" not in names


def test_wait_for_condition_and_watch(kubectl: Kubectl) -> None:
    apply_crd(kubectl)
    kubectl.run("apply", "-f", "-", input=WIDGET.format(name="w1", size=1))
    watcher = subprocess.Popen(
        ["kubectl", f"--cache-dir={kubectl.cache_dir}", "get", "widgets", "-w", "--request-timeout=20s"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=kubectl.env(),
    )
    waiter = subprocess.Popen(
        [
            "kubectl",
            f"--cache-dir={kubectl.cache_dir}",
            "wait",
            "--for=condition=Ready",
            "widget/w1",
            "--timeout=20s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=kubectl.env(),
    )
    try:
        status = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
        kubectl.run("patch", "widget", "w1", "--subresource=status", "--type=merge", "-p", json.dumps(status))
        out, err = waiter.communicate(timeout=20)
        assert waiter.returncode == 0, err
        assert "widget.example.com/w1 condition met" in out
    finally:
        waiter.kill()
        watcher.terminate()
        watched, _ = watcher.communicate(timeout=10)
    lines = [line.split() for line in watched.splitlines() if line.strip()]
    assert lines[0][:2] == ["NAME", "SIZE"]
    assert any(line[0] == "w1" and line[2] == "True" for line in lines[1:]), watched


def test_describe_and_api_resources(kubectl: Kubectl) -> None:
    apply_crd(kubectl)
    resources = kubectl.run("api-resources").stdout
    assert "widgets" in resources and "deployments" in resources and "customresourcedefinitions" in resources
    kubectl.run("apply", "-f", "-", input=WIDGET.format(name="w1", size=1))
    described = kubectl.run("describe", "widget", "w1").stdout
    assert "Name:" in described and "w1" in described and "Size:" in described


def test_builtin_workloads_apply_scale_and_strategic_patch(kubectl: Kubectl) -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "x",
                            "command": ["true"],
                            "env": [{"name": "A", "value": "1"}],
                        },
                        {"name": "side", "image": "y", "command": ["true"]},
                    ]
                },
            },
        },
    }
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump(deployment))
    kubectl.run("scale", "deployment", "web", "--replicas=4")
    kubectl.run(
        "patch",
        "deployment",
        "web",
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"app","env":[{"name":"B","value":"2"}]}]}}}}',
    )
    got = json.loads(kubectl.run("get", "deploy", "web", "-o", "json").stdout)
    containers = {c["name"]: c for c in got["spec"]["template"]["spec"]["containers"]}
    assert set(containers) == {"app", "side"}  # merged by name, not replaced
    assert [e["name"] for e in containers["app"]["env"]] == ["B", "A"]
    assert got["spec"]["replicas"] == 4 and got["metadata"]["generation"] == 3
    header = kubectl.run("get", "deploy").stdout.splitlines()[0].split()
    assert header == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
