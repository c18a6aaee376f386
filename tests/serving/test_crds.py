"""The CRD manifests: in sync with their generator, structural, and strict enough to matter."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import pytest
import yaml

from serving.api import crds
from serving.api.config import Config
from serving.api.defaults import DEFAULTERS
from serving.api.validation import VALIDATORS

from .schema_check import object_problems, structural_problems

ROOT = Path(__file__).resolve().parents[2]
CRD_FILES = sorted((ROOT / "crds").glob("*.yaml"))
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load(path: Path) -> dict[str, Any]:
    return copy.deepcopy(_load_cached(path))


@functools.cache
def _load_cached(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.load(path.read_text(), Loader=_LOADER)
    return doc


@functools.cache
def _schemas() -> dict[str, dict[str, Any]]:
    """Kind -> openAPIV3Schema from the committed files."""
    out = {}
    for path in CRD_FILES:
        crd = _load_cached(path)
        out[crd["spec"]["names"]["kind"]] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return out


def test_files_match_the_generator() -> None:
    assert [p.name for p in CRD_FILES] == sorted(crds.CRDS)
    for path in CRD_FILES:
        assert path.read_text() == crds.render(path.name), (
            f"{path.name} is stale: run python -m serving.api.crds crds"
        )


@pytest.mark.parametrize("path", CRD_FILES, ids=lambda p: p.name)
def test_crd_is_structural_with_status_subresource(path: Path) -> None:
    crd = _load(path)
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    spec = crd["spec"]
    assert crd["metadata"]["name"] == f"{spec['names']['plural']}.{spec['group']}"
    (version,) = spec["versions"]
    assert version["served"] and version["storage"]
    assert version["subresources"] == {"status": {}}
    assert structural_problems(version["schema"]["openAPIV3Schema"]) == []
    for col in version["additionalPrinterColumns"]:
        assert set(col) == {"name", "type", "jsonPath"}


def test_names_columns_and_categories() -> None:
    by_kind = {(c := _load(p))["spec"]["names"]["kind"]: c["spec"] for p in CRD_FILES}
    short = {k: v["names"]["shortNames"] for k, v in by_kind.items()}
    assert "ksvc" in short["Service"] and "kcfg" in short["Configuration"]
    assert short["Revision"] == ["rev"] and short["Route"] == ["rt"]
    assert "kpa" in short["PodAutoscaler"] and "king" in short["Ingress"]
    for kind in ("Service", "Configuration", "Route", "Revision"):
        assert by_kind[kind]["names"]["categories"] == ["all", "knative", "serving"]
        assert by_kind[kind]["group"] == "serving.knative.dev"
    cols = {k: [c["name"] for c in v["versions"][0]["additionalPrinterColumns"]] for k, v in by_kind.items()}
    assert cols["Service"] == ["URL", "LatestCreated", "LatestReady", "Ready", "Reason"]
    assert cols["Configuration"] == ["LatestCreated", "LatestReady", "Ready", "Reason"]
    assert cols["Route"] == ["URL", "Ready", "Reason"]
    assert cols["Revision"] == [
        "Config Name",
        "Generation",
        "Ready",
        "Reason",
        "Actual Replicas",
        "Desired Replicas",
    ]
    assert cols["PodAutoscaler"] == ["DesiredScale", "ActualScale", "Ready", "Reason"]


def _example_docs() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in EXAMPLES:
        for i, doc in enumerate(yaml.safe_load_all(path.read_text())):
            out.append((f"{path.name}#{i}", doc))
    return out


@pytest.mark.parametrize(("name", "doc"), _example_docs(), ids=lambda x: x if isinstance(x, str) else "")
def test_examples_pass_schema_defaulting_and_validation(name: str, doc: dict[str, Any]) -> None:
    schema = _schemas()[doc["kind"]]
    assert object_problems(doc, schema) == []
    defaulted = DEFAULTERS[doc["kind"]](doc, Config())
    assert object_problems(defaulted, schema) == []
    assert VALIDATORS[doc["kind"]](defaulted, Config(), None).messages() == []


def _hello() -> dict[str, Any]:
    return _load(ROOT / "examples" / "hello.yaml")


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (
            lambda d: d["spec"]["template"]["spec"].__setitem__("containerConcurrency", "ten"),
            "containerConcurrency: expected integer",
        ),
        (
            lambda d: d["spec"]["template"]["spec"].__setitem__("timeoutSeconds", True),
            "timeoutSeconds: expected integer",
        ),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("image", 5),
            "image: expected string",
        ),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("command", "python3 app.py"),
            "command: expected array",
        ),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("env", [{"value": "x"}]),
            "env[0].name: required",
        ),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__(
                "ports", [{"containerPort": "http"}]
            ),
            "containerPort: expected integer",
        ),
        (lambda d: d["spec"].__setitem__("traffic", [{"percent": "100"}]), "percent: expected integer"),
        (
            lambda d: d["spec"].__setitem__("traffic", [{"latestRevision": "yes"}]),
            "latestRevision: expected boolean",
        ),
        (lambda d: d["spec"].__setitem__("trafic", []), ".spec.trafic: unknown field"),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__(
                "readinessProbe", {"periodSeconds": "1s"}
            ),
            "periodSeconds: expected integer",
        ),
    ],
)
def test_schema_rejects_wrong_types(edit: Any, problem: str) -> None:
    doc = copy.deepcopy(_hello())
    edit(doc)
    problems = object_problems(doc, _schemas()["Service"])
    assert any(problem in p for p in problems), problems


def test_probe_ports_take_names_or_numbers() -> None:
    doc = _hello()
    doc["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] = {"httpGet": {"port": "user-port"}}
    assert object_problems(doc, _schemas()["Service"]) == []
    doc["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] = {"tcpSocket": {"port": 8080}}
    assert object_problems(doc, _schemas()["Service"]) == []
