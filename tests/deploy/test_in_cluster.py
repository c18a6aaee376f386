"""The operator, gateway and autoscaler started as in a pod: no kubeconfig, only the
service-account files and KUBERNETES_SERVICE_HOST/PORT, against a real localkube.

Only the file paths are faked: each component runs in a private mount namespace (`unshare -m`)
where /var/run/secrets/kubernetes.io/serviceaccount holds localkube's token and CA. The API is
the real one; a wrong token or CA would fail every call.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import subprocess
from pathlib import Path

import aiohttp
import pytest
import yaml
from aiohttp.test_utils import unused_port

from localkube.client import LEASES, MUTATING_WEBHOOKS, VALIDATING_WEBHOOKS, ApiClient, load_connection
from serving.operator.handlers import WEBHOOK_CONFIG_NAME
from tests.conftest import Kubectl
from tests.deploy.manifests import DEPLOY, SYSTEM_NAMESPACE
from tests.deploy.processes import component, eventually, localkube

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

SERVICE_ACCOUNT_DIR = "/run/secrets/kubernetes.io/serviceaccount"  # /var/run -> /run
# In a private mount namespace: a fresh /run, the service account bound at the pod's path.
MOUNT_SCRIPT = (
    'sa="$1"; shift; mount -t tmpfs kwake-test /run && mkdir -p ' + SERVICE_ACCOUNT_DIR + " && "
    'mount --bind "$sa" ' + SERVICE_ACCOUNT_DIR + ' && exec "$@"'
)


def _can_unshare_mounts() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs probe /mnt"],
        capture_output=True,
        timeout=10,
        check=False,
    )
    return probe.returncode == 0


def _service_account(kubectl: Kubectl, directory: Path) -> tuple[str, str]:
    """Write token, ca.crt and namespace as the kubelet mounts them; return the API host and port."""
    config = yaml.safe_load(kubectl.kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    directory.mkdir()
    (directory / "token").write_text(config["users"][0]["user"]["token"])
    (directory / "ca.crt").write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    (directory / "namespace").write_text(SYSTEM_NAMESPACE)
    host_port = cluster["server"].removeprefix("https://")
    host, _, port = host_port.rpartition(":")
    return host, port


def _in_cluster_env(kubectl: Kubectl, tmp_path: Path) -> tuple[dict[str, str], tuple[str, ...]]:
    """The environment and the `unshare` wrapper a component needs to see what a pod sees."""
    sa = tmp_path / "serviceaccount"
    host, port = _service_account(kubectl, sa)
    home = tmp_path / "home"
    home.mkdir()  # no ~/.kube/config there: nothing but the service account to fall back on
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "KUBERNETES_SERVICE_HOST": host,
        "KUBERNETES_SERVICE_PORT": port,
        "POD_IP": "127.0.0.1",
    }
    return env, ("unshare", "-m", "sh", "-c", MOUNT_SCRIPT, "kwake-in-cluster", str(sa))


needs_unshare = pytest.mark.skipif(
    not _can_unshare_mounts(), reason="needs `unshare -m` (a private mount namespace)"
)


@needs_unshare
async def test_gateway_and_autoscaler_run_with_in_cluster_configuration(tmp_path: Path) -> None:
    async with localkube(tmp_path / "localkube", tmp_path) as kubectl:
        kubectl.run("apply", "-k", str(DEPLOY), timeout=120)
        env, wrapper = _in_cluster_env(kubectl, tmp_path)
        autoscaler_port, admin_port = unused_port(), unused_port()
        gateway_argv = ["--host", "127.0.0.1", "--port", str(unused_port()), "--admin-port", str(admin_port)]
        gateway_argv += ["--autoscaler-url", f"http://127.0.0.1:{autoscaler_port}", "--access-log", "off"]
        autoscaler_argv = ["--port", str(autoscaler_port)]
        async with (
            ApiClient(load_connection(kubectl.kubeconfig, environ={})) as client,
            aiohttp.ClientSession() as http,
            component("autoscaler", autoscaler_argv, tmp_path / "autoscaler.log", env=env, wrapper=wrapper),
            component("gateway", gateway_argv, tmp_path / "gateway.log", env=env, wrapper=wrapper),
        ):

            async def lease_held() -> bool:
                lease = await client.get_or_none(LEASES, "kwake-autoscaler", SYSTEM_NAMESPACE)
                return bool(((lease or {}).get("spec") or {}).get("holderIdentity"))

            async def gateway_synced() -> bool:
                try:
                    async with http.get(f"http://127.0.0.1:{admin_port}/ready") as response:
                        return response.status == 200
                except aiohttp.ClientConnectionError:
                    return False

            await asyncio.gather(
                eventually(lease_held, 60, "the autoscaler's Lease", tmp_path),
                eventually(gateway_synced, 60, "the gateway synced with the cluster", tmp_path),
            )


@needs_unshare
async def test_operator_runs_with_in_cluster_configuration(tmp_path: Path) -> None:
    async with localkube(tmp_path / "localkube", tmp_path) as kubectl:
        kubectl.run("apply", "-k", str(DEPLOY), timeout=120)
        env, wrapper = _in_cluster_env(kubectl, tmp_path)
        async with (
            ApiClient(load_connection(kubectl.kubeconfig, environ={})) as client,
            component("operator", [], tmp_path / "operator.log", env=env, wrapper=wrapper) as operator,
        ):

            async def registered_or_exited() -> bool:
                if operator.returncode is not None:
                    return True
                for resource in (MUTATING_WEBHOOKS, VALIDATING_WEBHOOKS):
                    body = await client.get_or_none(resource, WEBHOOK_CONFIG_NAME)
                    if not (body or {}).get("webhooks"):
                        return False
                return True

            await eventually(registered_or_exited, 60, "the operator's webhook configurations", tmp_path)
            assert operator.returncode is None, (tmp_path / "operator.log").read_text()[-2000:]

            async def leads() -> bool:  # leader election is on by default in a pod
                lease = await client.get_or_none(LEASES, "kwake-operator", SYSTEM_NAMESPACE)
                return bool(((lease or {}).get("spec") or {}).get("holderIdentity"))

            await eventually(leads, 30, "the operator's Lease", tmp_path)
