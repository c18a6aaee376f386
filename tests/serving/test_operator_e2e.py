"""End to end on localkube: the operator, the Deployment controller and the process kubelet.

The hello app really runs as a local process; the test plays only the gateway (it marks the
KIngress served) and checks the app answers on the address its Endpoints publish.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from localkube.client import ENDPOINTS, ApiClient, load_connection
from localkube.controllers import run_controllers
from localkube.kubelet import run_kubelet
from localkube.server.runner import ThreadedApiServer
from serving.api.meta import get_condition
from serving.operator.resources import KSERVICES, REVISIONS

from ..conftest import Kubectl
from .operator_harness import ROOT, eventually, running_operator
from .test_operator import _get, _ready, _serve_ingress

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


@contextlib.asynccontextmanager
async def localkube_nodes(kubeconfig: Path, state: Path) -> AsyncIterator[None]:
    """The Deployment/Endpoints controllers and the kubelet, for the duration of the block."""
    stop = asyncio.Event()
    async with ApiClient(load_connection(str(kubeconfig))) as client:
        tasks = [
            asyncio.create_task(run_controllers(client, stop), name="controllers-under-test"),
            asyncio.create_task(run_kubelet(client, state, stop), name="kubelet-under-test"),
        ]
        try:
            yield
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)


def _service(name: str, container: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [container]}}},
    }


async def _revision_condition(client: ApiClient, name: str) -> tuple[str, str, str] | None:
    rev = await _get(client, REVISIONS, name)
    cond = get_condition((rev or {}).get("status"), "Ready")
    if cond is None or cond.is_unknown:
        return None
    return cond.status, cond.reason, cond.message


async def test_hello_example_serves_and_becomes_ready(
    apiserver: ThreadedApiServer, kubectl: Kubectl, tmp_path: Path
) -> None:
    hello_yaml = (ROOT / "examples" / "hello.yaml").read_text()
    async with (
        localkube_nodes(apiserver.kubeconfig, tmp_path / "kubelet"),
        running_operator(apiserver.kubeconfig) as client,
    ):
        await asyncio.to_thread(kubectl.run, "apply", "-f", "-", input=hello_yaml)
        waiting = asyncio.create_task(
            asyncio.to_thread(
                kubectl.run,
                "wait",
                "--for=condition=Ready",
                "ksvc/hello",
                "--timeout=50s",
                "-v=6",
                check=False,
            )
        )
        rev_ready = await eventually(lambda: _revision_condition(client, "hello-00001"), within=60)
        assert rev_ready == ("True", "", "")

        async def endpoint() -> tuple[str, int] | None:
            ep = await _get(client, ENDPOINTS, "hello-00001")
            for subset in (ep or {}).get("subsets") or []:
                for address in subset.get("addresses") or []:
                    return address["ip"], subset["ports"][0]["port"]
            return None

        ip, port = await eventually(endpoint, what="a ready address for hello-00001")
        async with aiohttp.ClientSession() as session, session.get(f"http://{ip}:{port}/") as response:
            assert response.status == 200
            assert await response.text() == "hello"

        await _serve_ingress(client, "hello")

        async def ready() -> dict[str, Any] | None:
            svc = await _get(client, KSERVICES, "hello")
            return svc if _ready(svc) == "True" else None

        await eventually(ready, what="ksvc/hello Ready")
        waited = await waiting
        assert waited.returncode == 0, waited.stderr[-4000:]
        assert "service.serving.knative.dev/hello condition met" in waited.stdout
        table = await asyncio.to_thread(kubectl.run, "get", "ksvc", "hello")
        header, row = table.stdout.splitlines()[:2]
        assert header.split()[:6] == ["NAME", "URL", "LATESTCREATED", "LATESTREADY", "READY", "REASON"]
        url = "http://hello.default.svc.cluster.local"
        assert row.split()[:5] == ["hello", url, "hello-00001", "hello-00001", "True"]


async def test_a_crashing_app_and_an_image_only_app_say_why(
    apiserver: ThreadedApiServer, tmp_path: Path
) -> None:
    crash = _service(
        "crash", {"image": "x", "command": ["python3", "-c", "import sys; print('boom'); sys.exit(3)"]}
    )
    image_only = yaml.safe_load((ROOT / "examples" / "hello-knative.yaml").read_text())
    async with (
        localkube_nodes(apiserver.kubeconfig, tmp_path / "kubelet"),
        running_operator(apiserver.kubeconfig) as client,
    ):
        await client.create(KSERVICES, crash, "default")
        await client.create(KSERVICES, image_only, "default")
        status, reason, message = await eventually(
            lambda: _revision_condition(client, "crash-00001"), within=60
        )
        assert (status, reason) == ("False", "ExitCode3")
        status, reason, message = await eventually(
            lambda: _revision_condition(client, "helloworld-go-00001"), within=60
        )
        assert status == "False"
        assert "command" in message.lower(), (reason, message)

        async def failed(name: str) -> dict[str, Any] | None:
            svc = await _get(client, KSERVICES, name)
            return svc if _ready(svc) == "False" else None

        svc = await eventually(lambda: failed("crash"), what="ksvc/crash Ready=False")
        # Ready carries whichever failure came last: the Configuration's or the Route's.
        ready = get_condition(svc["status"], "Ready")
        assert ready is not None and ready.reason in ("RevisionFailed", "RevisionMissing")
        cond = get_condition(svc["status"], "ConfigurationsReady")
        assert cond is not None and cond.reason == "RevisionFailed"
        assert cond.message.startswith('Revision "crash-00001" failed with message: Container failed with:')
