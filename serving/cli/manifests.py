"""Reading manifests from files and applying them, the way `kubectl apply --server-side` does."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from localkube.client import ApiClient, ApiError, Resource

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


class ManifestError(ValueError):
    """A manifest that cannot be read or applied; the message names its file and what is wrong."""


@dataclass(frozen=True)
class Manifest:
    source: str  # "path/to/file.yaml#2": the file and the document's index within it
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def name(self) -> str:
        return str((self.body.get("metadata") or {}).get("name", ""))

    @property
    def namespace(self) -> str | None:
        ns = (self.body.get("metadata") or {}).get("namespace")
        return str(ns) if ns else None


def _files(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.suffix in MANIFEST_SUFFIXES and p.is_file()))
        elif path.exists():
            out.append(path)
        else:
            raise ManifestError(f"{path}: no such file or directory")
    return out


def load_manifests(paths: Iterable[Path]) -> list[Manifest]:
    """Every object in the given files and folders, in order; Lists are unpacked."""
    manifests: list[Manifest] = []
    for file in _files(paths):
        try:
            docs = list(yaml.safe_load_all(file.read_text()))
        except yaml.YAMLError as exc:
            raise ManifestError(f"{file}: not valid YAML: {exc}") from exc
        for index, doc in enumerate(docs):
            if doc is None:
                continue
            where = f"{file}#{index}"
            if not isinstance(doc, dict):
                raise ManifestError(f"{where}: a manifest must be a mapping, got {type(doc).__name__}")
            items = doc.get("items") if str(doc.get("kind", "")).endswith("List") else [doc]
            for item in items or []:
                if not isinstance(item, dict) or not item.get("apiVersion") or not item.get("kind"):
                    raise ManifestError(f"{where}: every object needs apiVersion and kind")
                if not (item.get("metadata") or {}).get("name"):
                    raise ManifestError(f"{where}: {item.get('kind')} needs metadata.name")
                manifests.append(Manifest(where, item))
    return manifests


class ResourceMap:
    """apiVersion + kind -> Resource, from the API server's discovery documents (cached)."""

    def __init__(self, client: ApiClient) -> None:
        self._client = client
        self._cache: dict[str, list[dict[str, Any]]] = {}

    async def resolve(self, api_version: str, kind: str) -> Resource:
        resources = self._cache.get(api_version)
        if resources is None:
            group, _, version = api_version.rpartition("/")
            path = f"/apis/{group}/{version}" if group else f"/api/{version}"
            try:
                resources = list((await self._client.request("GET", path)).get("resources") or [])
            except ApiError as exc:
                if exc.status == 404:
                    raise ManifestError(
                        f"the server does not serve {api_version} (is its CRD installed?)"
                    ) from exc
                raise
            self._cache[api_version] = resources
        for entry in resources:
            if entry.get("kind") == kind and "/" not in str(entry.get("name", "")):
                group, _, version = api_version.rpartition("/")
                return Resource(group, version, str(entry["name"]), bool(entry.get("namespaced")), kind)
        raise ManifestError(f'the server has no kind "{kind}" in {api_version}')

    def forget(self, api_version: str) -> None:
        self._cache.pop(api_version, None)


async def apply(client: ApiClient, resources: ResourceMap, manifest: Manifest, *, namespace: str) -> str:
    """Server-side apply of one object; returns 'created' or 'configured'."""
    resource = await resources.resolve(str(manifest.body["apiVersion"]), manifest.kind)
    ns = (manifest.namespace or namespace) if resource.namespaced else None
    existed = await client.get_or_none(resource, manifest.name, ns) is not None
    try:
        await client.patch(
            resource, manifest.name, manifest.body, ns, patch_type="apply", field_manager="kwake", force=True
        )
    except ApiError as exc:
        raise ManifestError(f"{manifest.source}: {manifest.kind} {manifest.name!r}: {exc.message}") from exc
    return "configured" if existed else "created"
