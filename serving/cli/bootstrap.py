"""What `kwake up` puts in a fresh cluster: kwake's CRDs and its ConfigMaps with local defaults."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import yaml

from localkube.client import CONFIGMAPS, CRDS, NAMESPACES, AlreadyExists, ApiClient

SYSTEM_NAMESPACE = "kwake-system"

# The ConfigMaps kwake reads, with the keys `kwake up` sets for one machine. Knative's defaults
# apply to every key not listed. An existing ConfigMap is never overwritten: it is the user's.
LOCAL_CONFIGMAPS: dict[str, dict[str, str]] = {
    # http://NAME.NAMESPACE.localhost resolves to 127.0.0.1 in browsers and curl.
    "config-domain": {"localhost": ""},
    "config-network": {"ingress-class": "kwake.ingress.networking.knative.dev"},
    "config-autoscaler": {},
    "config-defaults": {},
    "config-features": {},
    "config-gc": {},
    "config-deployment": {},
}


def crds_dir() -> Path:
    """crds/ beside the packages (an editable install or a checkout)."""
    return Path(__file__).resolve().parents[2] / "crds"


def crd_documents(directory: Path | None = None) -> list[dict[str, Any]]:
    folder = directory or crds_dir()
    docs: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict))
    if not docs:
        raise FileNotFoundError(f"no CRD manifests in {folder}")
    return docs


async def install(client: ApiClient, *, configmaps: dict[str, dict[str, str]] | None = None) -> None:
    """Install CRDs (updated to this version's) and create missing ConfigMaps; wait until served."""
    for crd in crd_documents():
        await client.patch(
            CRDS, crd["metadata"]["name"], crd, patch_type="apply", field_manager="kwake", force=True
        )
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SYSTEM_NAMESPACE}}
    with contextlib.suppress(AlreadyExists):
        await client.create(NAMESPACES, namespace)
    for name, data in (LOCAL_CONFIGMAPS if configmaps is None else configmaps).items():
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": SYSTEM_NAMESPACE},
            "data": data,
        }
        with contextlib.suppress(AlreadyExists):
            await client.create(CONFIGMAPS, body, namespace=SYSTEM_NAMESPACE)
    await _wait_served(client)


async def _wait_served(client: ApiClient, within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while True:
            groups = await client.request("GET", "/apis")
            names = {g.get("name") for g in groups.get("groups") or []}
            if {
                "serving.knative.dev",
                "networking.internal.knative.dev",
                "autoscaling.internal.knative.dev",
            } <= names:
                return
            await asyncio.sleep(0.05)
