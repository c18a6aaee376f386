"""Fixtures shared by every layer's tests: a real localkube API server and the real kubectl."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from localkube.server.runner import ThreadedApiServer


@dataclass(frozen=True)
class Kubectl:
    """The real kubectl, pointed at one server through its own kubeconfig and cache dir."""

    kubeconfig: Path
    cache_dir: Path

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["KUBECONFIG"] = str(self.kubeconfig)
        env["KUBECACHEDIR"] = str(self.cache_dir)
        return env

    def run(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        argv: Sequence[str] = ["kubectl", f"--cache-dir={self.cache_dir}", *args]
        result = subprocess.run(
            argv, input=input, capture_output=True, text=True, env=self.env(), timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result


@pytest.fixture
def apiserver(tmp_path: Path) -> Iterator[ThreadedApiServer]:
    """A localkube API server (no controllers, no kubelet) on a free loopback port."""
    server = ThreadedApiServer(tmp_path / "state").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def kubectl(apiserver: ThreadedApiServer, tmp_path: Path) -> Kubectl:
    return Kubectl(apiserver.kubeconfig, tmp_path / "kubectl-cache")
