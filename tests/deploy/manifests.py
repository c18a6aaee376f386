"""The deploy/ manifests as kubectl renders them, and small lookups over the rendered objects."""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
SYSTEM_NAMESPACE = "kwake-system"


@functools.cache
def _render_text(directory: str) -> str:
    result = subprocess.run(
        ["kubectl", "kustomize", directory], capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"kubectl kustomize {directory} failed:\n{result.stderr}")
    return result.stdout


def render(directory: Path = DEPLOY) -> list[dict[str, Any]]:
    """Every object `kubectl kustomize DIR` prints (a fresh copy per call)."""
    return [doc for doc in yaml.safe_load_all(_render_text(str(directory))) if isinstance(doc, dict)]


def of_kind(objects: list[dict[str, Any]], kind: str) -> Iterator[dict[str, Any]]:
    return (obj for obj in objects if obj.get("kind") == kind)


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [obj for obj in of_kind(objects, kind) if obj["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def container(deployment: Mapping[str, Any]) -> dict[str, Any]:
    """The one container of a component's Deployment."""
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def flags(container_body: Mapping[str, Any]) -> dict[str, str]:
    """`--name=value` arguments of a container as {name: value} (the component is args[0])."""
    out: dict[str, str] = {}
    for arg in container_body.get("args", [])[1:]:
        assert arg.startswith("--"), arg
        name, _, value = arg[2:].partition("=")
        out[name] = value
    return out


def port(container_body: Mapping[str, Any], name: str) -> int:
    for entry in container_body.get("ports", []):
        if entry.get("name") == name:
            return int(entry["containerPort"])
    raise AssertionError(f"no port named {name}")
