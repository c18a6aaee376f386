"""The README's main job, run as a new user would: `kwake up -f examples/hello.yaml`.

One kwake up on free ports in a temporary state dir: hello becomes Ready; a request through the
gateway is answered from zero pods; an update creates hello-00002 and moves traffic; a 50/50 tag
split serves both revisions; idle revisions scale back to zero (short windows); and after
SIGTERM no process of it is left.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.conftest import Kubectl

ROOT = Path(__file__).resolve().parent.parent
SHORT_WINDOWS = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "config-autoscaler", "namespace": "kwake-system"},
    "data": {"stable-window": "6s", "scale-to-zero-grace-period": "1s"},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Up:
    process: subprocess.Popen[str]
    state: Path
    port: int
    lines: list[str] = field(default_factory=list)

    def wait_line(self, needle: str, seconds: float) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if needle in line:
                    return line
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no line with {needle!r} in:\n" + "".join(self.lines))

    def get(self, host: str, path: str = "/", headers: dict[str, str] | None = None) -> tuple[int, str]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", headers={"Host": host, **(headers or {})}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()

    def served_revisions(self) -> list[str]:
        text = (self.state / "logs" / "access.log").read_text()
        return [json.loads(line).get("revision", "") for line in text.splitlines() if line.strip()]


def eventually(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds} s: {what}")


def processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (entry / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if text in cmdline or text in environ:
            found.append(f"{entry.name}: {cmdline}")
    return found


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    state = tmp_path / "state"
    config = tmp_path / "short-windows.yaml"
    config.write_text(yaml.safe_dump(SHORT_WINDOWS))
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "serving.cli.main",
            "up",
            "-f",
            str(ROOT / "examples" / "hello.yaml"),
            "-f",
            str(config),
            "--state-dir",
            str(state),
            "--gateway-port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env={**os.environ, "KWAKE_TEST_MARK": str(state)},
    )
    running = Up(process, state, port)

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            running.lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        reader.join(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.timeout(420)
def test_kwake_up_serves_updates_splits_scales_to_zero_and_leaves_nothing(up: Up, tmp_path: Path) -> None:
    up.wait_line("service default/hello is Ready", 120)
    kubectl = Kubectl(up.state / "cluster" / "kubeconfig", tmp_path / "kubectl-cache")
    host = "hello.default.localhost"

    # Idle: back to zero with the short windows applied from the manifest.
    def pods() -> list[str]:
        out = kubectl.run("get", "pods", "-o", "name").stdout
        return out.split()

    eventually(lambda: pods() == [], 90, "hello scaled to zero")
    status, body = up.get(host)  # from zero pods
    assert (status, body) == (200, "hello")

    # An update creates hello-00002 and moves traffic to it.
    kubectl.run(
        "patch",
        "ksvc",
        "hello",
        "--type=merge",
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"user-container",'
        '"command":["python3","-m","loadtests.apps.hello"],"env":[{"name":"GREETING","value":"v2"}]}]}}}}',
    )
    kubectl.run("wait", "--for=condition=Ready", "ksvc/hello", "--timeout=120s")
    eventually(
        lambda: (
            kubectl.run("get", "ksvc", "hello", "-o", "jsonpath={.status.latestReadyRevisionName}").stdout
            == "hello-00002"
        ),
        60,
        "hello-00002 ready",
    )
    eventually(
        lambda: up.get(host)[0] == 200 and up.served_revisions()[-1] == "hello-00002",
        60,
        "traffic on hello-00002",
    )

    # A 50/50 split with tags serves both revisions.
    split = {
        "spec": {
            "traffic": [
                {"revisionName": "hello-00001", "percent": 50, "tag": "blue"},
                {"latestRevision": True, "percent": 50, "tag": "green"},
            ]
        }
    }
    kubectl.run("patch", "ksvc", "hello", "--type=merge", "-p", json.dumps(split))
    kubectl.run("wait", "--for=condition=Ready", "ksvc/hello", "--timeout=120s")
    before = len(up.served_revisions())
    for _ in range(40):
        assert up.get(host)[0] == 200
    # The access log is written by a thread: wait until it holds every line before reading them.
    eventually(lambda: len(up.served_revisions()) >= before + 40, 10, "access log written")
    recent = up.served_revisions()[before : before + 40]
    assert {"hello-00001", "hello-00002"} <= set(recent), recent
    before = len(up.served_revisions())
    for _ in range(5):
        assert up.get("blue-hello.default.localhost")[0] == 200
    eventually(lambda: len(up.served_revisions()) >= before + 5, 10, "access log written")
    assert up.served_revisions()[before : before + 5] == ["hello-00001"] * 5

    # Shutdown: everything stops, nothing is left.
    up.process.send_signal(signal.SIGTERM)
    assert up.process.wait(timeout=60) == 0
    up.wait_line("kwake: stopped", 5)
    eventually(lambda: processes_mentioning(str(up.state)) == [], 10, "no process of this kwake up left")
