"""A localkube API server with kwake's CRDs, no operator: the tests write statuses as it would."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from localkube.client import CRDS, ApiClient, ApiError, Resource, load_connection
from localkube.server.runner import ThreadedApiServer
from serving.cli.main import main

# The gateway's own fixtures (a real gateway and backends on loopback), for `kwake request`.
from tests.activator.conftest import start_backend, start_gateway  # noqa: F401

# A process kubelet on the same API server, for `kwake logs`.
from tests.localkube.test_kubelet_apiserver import running  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
Obj = dict[str, Any]


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


@dataclass(frozen=True)
class Cluster:
    """Synchronous calls to the test's API server (each opens its own short-lived client)."""

    kubeconfig: Path

    def call(self, work: Callable[[ApiClient], Any]) -> Any:
        async def go() -> Any:
            async with ApiClient(load_connection(self.kubeconfig, environ={}), keep_warm_seconds=None) as c:
                return await work(c)

        return asyncio.run(go())

    def create(self, resource: Resource, body: Obj, namespace: str = "default") -> Obj:
        created: Obj = self.call(lambda c: c.create(resource, body, namespace))
        return created

    def get(self, resource: Resource, name: str, namespace: str = "default") -> Obj | None:
        found: Obj | None = self.call(lambda c: c.get_or_none(resource, name, namespace))
        return found

    def set_status(self, resource: Resource, name: str, status: Obj, namespace: str = "default") -> Obj:
        patched: Obj = self.call(
            lambda c: c.patch(resource, name, {"status": status}, namespace, subresource="status")
        )
        return patched


async def _install_crds(client: ApiClient) -> None:
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        await client.create(CRDS, yaml.safe_load(path.read_text()))
    async with asyncio.timeout(10):
        while True:
            with contextlib.suppress(ApiError):
                await client.request("GET", "/apis/serving.knative.dev/v1")
                return
            await asyncio.sleep(0.02)


@pytest.fixture
def cluster(apiserver: ThreadedApiServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    """The API server with the CRDs installed; $KUBECONFIG points the CLI at it."""
    monkeypatch.setenv("KUBECONFIG", str(apiserver.kubeconfig))
    result = Cluster(apiserver.kubeconfig)
    result.call(_install_crds)
    yield result


Kwake = Callable[..., Result]


@pytest.fixture
def kwake(capsys: pytest.CaptureFixture[str]) -> Kwake:
    """Run `kwake ARGS...` in this process; its exit code and what it printed."""

    def run(*argv: str) -> Result:
        capsys.readouterr()
        code = main(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
