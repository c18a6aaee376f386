"""A container's environment: the pod's `env` and `envFrom`, `valueFrom` references and $(VAR).

Errors carry the messages kubelet reports under CreateContainerConfigError.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any, Protocol

from localkube.kubelet import spec

POD_IP = "127.0.0.1"
_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)")


class ContainerConfigError(Exception):
    """The container cannot be configured yet (a missing ConfigMap, Secret or key)."""


class ObjectSource(Protocol):
    """Reads the objects env references point at; None when the object does not exist."""

    async def config_map_data(self, namespace: str, name: str) -> dict[str, str] | None: ...

    async def secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        """The Secret's `data` as the API holds it: values base64-encoded."""
        ...


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: known names are replaced, unknown kept, $$ escapes."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _VAR_REF.sub(substitute, text)


def field_value(pod: Mapping[str, Any], path: str) -> str:
    """The value of a downward-API fieldRef."""
    meta = pod.get("metadata") or {}
    pod_spec = pod.get("spec") or {}
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": pod_spec.get("nodeName"),
        "spec.serviceAccountName": pod_spec.get("serviceAccountName"),
        "status.podIP": POD_IP,
        "status.hostIP": POD_IP,
    }
    if path in simple:
        return str(simple[path] or "")
    labelled = re.fullmatch(r"metadata\.(labels|annotations)\['([^']*)'\]", path)
    if labelled:
        return str((meta.get(labelled.group(1)) or {}).get(labelled.group(2), ""))
    raise ContainerConfigError(f'unsupported fieldRef path "{path}"')


def decode_secret(data: Mapping[str, str]) -> dict[str, str]:
    return {key: base64.b64decode(value).decode("utf-8", "replace") for key, value in data.items()}


async def _data(source: ObjectSource, kind: str, namespace: str, name: str) -> dict[str, str] | None:
    if kind == "ConfigMap":
        return await source.config_map_data(namespace, name)
    data = await source.secret_data(namespace, name)
    return None if data is None else decode_secret(data)


async def _lookup(
    source: ObjectSource, *, namespace: str, kind: str, name: str, key: str, optional: bool
) -> str | None:
    data = await _data(source, kind, namespace, name)
    if data is None:
        if optional:
            return None
        raise ContainerConfigError(f'{kind.lower()} "{name}" not found')
    if key not in data:
        if optional:
            return None
        raise ContainerConfigError(f"couldn't find key {key} in {kind} {namespace}/{name}")
    return data[key]


async def _value_from(
    source: ObjectSource, pod: Mapping[str, Any], namespace: str, ref: Mapping[str, Any]
) -> str | None:
    if "fieldRef" in ref:
        return field_value(pod, str(ref["fieldRef"].get("fieldPath", "")))
    for field_name, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
        if field_name in ref:
            key_ref = ref[field_name]
            return await _lookup(
                source,
                namespace=namespace,
                kind=kind,
                name=str(key_ref.get("name", "")),
                key=str(key_ref.get("key", "")),
                optional=bool(key_ref.get("optional", False)),
            )
    if "resourceFieldRef" in ref:
        return "0"
    raise ContainerConfigError("unsupported valueFrom source")


async def _env_from(
    source: ObjectSource, namespace: str, entries: list[dict[str, Any]], env: dict[str, str]
) -> None:
    for entry in entries:
        prefix = str(entry.get("prefix") or "")
        for field_name, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            ref = entry.get(field_name)
            if ref is None:
                continue
            name = str(ref.get("name", ""))
            data = await _data(source, kind, namespace, name)
            if data is None:
                if ref.get("optional"):
                    continue
                raise ContainerConfigError(f'{kind.lower()} "{name}" not found')
            env.update({prefix + key: value for key, value in data.items()})


async def container_env(
    source: ObjectSource,
    pod: Mapping[str, Any],
    container_body: Mapping[str, Any],
    base: Mapping[str, str],
) -> dict[str, str]:
    """`base` (the kubelet's own environment) overlaid with the container's variables."""
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    env: dict[str, str] = dict(base)
    env["HOSTNAME"] = str((pod.get("metadata") or {}).get("name") or "")
    await _env_from(source, namespace, list(container_body.get("envFrom") or []), env)
    declared: dict[str, str] = {}
    for entry in container_body.get("env") or []:
        name = str(entry["name"])
        if "valueFrom" in entry:
            value = await _value_from(source, pod, namespace, entry["valueFrom"] or {})
            if value is None:
                continue
        else:
            value = expand(str(entry.get("value") or ""), declared)
        declared[name] = value
    env.update(declared)
    return env


def argv(container: spec.Container, env: Mapping[str, str]) -> list[str]:
    """command + args with $(VAR) expanded against the container's environment."""
    return [expand(part, env) for part in (*container.command, *container.args)]
