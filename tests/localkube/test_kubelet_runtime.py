"""The process runtime alone: containers as process groups, restarts, probes, hooks, env, logs.

No API server here: pods are plain dicts and ConfigMaps/Secrets come from an in-memory source.
Time runs 50x faster through a ScaledClock, so back-offs and grace periods take milliseconds
while the processes, sockets and probes stay real.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from localkube.kubelet import clock, logs, process
from localkube.kubelet.pod import PodWorker
from localkube.kubelet.runtime import Runtime

SPEED = 50.0


class MemoryObjects:
    """ConfigMaps and Secrets held in dicts: the ObjectSource a test controls."""

    def __init__(self) -> None:
        self.config_maps: dict[tuple[str, str], dict[str, str]] = {}
        self.secrets: dict[tuple[str, str], dict[str, str]] = {}

    async def config_map_data(self, namespace: str, name: str) -> dict[str, str] | None:
        return self.config_maps.get((namespace, name))

    async def secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        return self.secrets.get((namespace, name))


class Harness:
    """Starts pods on a runtime and remembers every process group they ever had."""

    def __init__(self, runtime: Runtime, objects: MemoryObjects) -> None:
        self.runtime = runtime
        self.objects = objects
        self.workers: list[PodWorker] = []
        self.pids: set[int] = set()
        self.changed = asyncio.Event()
        self.waiting_messages: list[str] = []
        self.events: list[tuple[str, str, str]] = []

    def _on_event(self, worker: PodWorker, reason: str, message: str, warning: bool) -> None:
        self.events.append((worker.identity.name, reason, message))

    def _on_change(self, worker: PodWorker) -> None:
        for runner in worker.runners:
            if runner.pid is not None:
                self.pids.add(runner.pid)
            message = runner.state.get("waiting", {}).get("message")
            if message and message not in self.waiting_messages:
                self.waiting_messages.append(message)
        self.changed.set()

    def start(self, name: str, containers: list[dict[str, Any]], **spec: Any) -> PodWorker:
        body = {
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
            "spec": {"containers": containers, **spec},
        }
        worker = PodWorker(self.runtime, body, self._on_change, self._on_event)
        self.workers.append(worker)
        worker.start()
        return worker

    async def until(self, predicate: Callable[[], bool], seconds: float = 20.0) -> None:
        """Wait until predicate holds: checked on every status change, and every 20 ms for
        conditions outside the kubelet (files the processes write)."""
        async with asyncio.timeout(seconds):
            while not predicate():
                self.changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.changed.wait(), 0.02)


def alive_groups(pids: set[int]) -> list[int]:
    return [pid for pid in pids if process.session_members(pid)]


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    objects = MemoryObjects()
    async with aiohttp.ClientSession() as http:
        runtime = Runtime(
            clock=clock.ScaledClock(SPEED),
            http=http,
            objects=objects,
            state_dir=tmp_path,
            groups=process.GroupRecords(tmp_path / "pids"),
            base_env=dict(os.environ),
        )
        h = Harness(runtime, objects)
        try:
            yield h
        finally:
            for worker in h.workers:
                await worker.stop(grace=0)
            assert alive_groups(h.pids) == [], "a container process outlived its pod"
            assert runtime.groups.all() == []


def sh(script: str) -> dict[str, Any]:
    return {"name": "main", "image": "busybox", "command": ["sh", "-c", script]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def state_of(worker: PodWorker, index: int = 0) -> dict[str, Any]:
    return worker.runners[index].state


async def test_runs_command_with_args_env_and_working_dir(harness: Harness, tmp_path: Path) -> None:
    container = {
        "name": "main",
        "image": "busybox",
        "command": ["sh", "-c"],
        "args": ['echo "$GREETING from $(pwd) as $(WHO)"; exec sleep 30'],
        "workingDir": str(tmp_path),
        "env": [{"name": "WHO", "value": "me"}, {"name": "GREETING", "value": "hello $(WHO)"}],
    }
    worker = harness.start("hello", [container])
    await harness.until(lambda: worker.ready)
    assert "running" in state_of(worker)
    path = logs.log_path(tmp_path, worker.identity, "main", 0)
    await harness.until(lambda: path.exists() and path.stat().st_size > 0)
    # $(WHO) in args is expanded by the kubelet before the shell sees it, as in Kubernetes.
    assert path.read_text() == f"hello me from {tmp_path} as me\n"
    status = worker.status()
    assert status["phase"] == "Running"
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
    assert status["podIP"] == "127.0.0.1"


async def test_stop_kills_the_whole_group_after_the_grace_period(harness: Harness, tmp_path: Path) -> None:
    marker = tmp_path / "grandchild"
    # The shell ignores SIGTERM and has a grandchild: only SIGKILL of the group ends both.
    worker = harness.start("stubborn", [sh(f"trap '' TERM; sleep 60 & echo $! > {marker}; wait")])
    await harness.until(lambda: marker.exists() and marker.read_text().strip() != "")
    grandchild = int(marker.read_text())
    leader = worker.runners[0].pid
    assert leader is not None and process.is_alive(grandchild)
    started = asyncio.get_running_loop().time()
    await worker.stop(grace=5)  # 5 s of kubelet time = 100 ms real
    elapsed = asyncio.get_running_loop().time() - started
    assert 0.05 < elapsed < 3
    assert not process.is_alive(leader)
    assert not process.is_alive(grandchild)
    terminated = state_of(worker)["terminated"]
    assert terminated["exitCode"] == 137
    assert terminated["reason"] == "Error"
    assert worker.status()["phase"] == "Failed"


async def test_graceful_exit_on_sigterm_completes(harness: Harness, tmp_path: Path) -> None:
    trapped = tmp_path / "trapped"
    worker = harness.start(
        "polite", [sh(f"trap 'exit 0' TERM; touch {trapped}; while true; do sleep 0.05; done")]
    )
    await harness.until(lambda: worker.ready and trapped.exists())
    await worker.stop(grace=30)
    assert state_of(worker)["terminated"]["reason"] == "Completed"
    assert worker.status()["phase"] == "Succeeded"


async def test_always_restarts_with_crash_loop_backoff(harness: Harness) -> None:
    worker = harness.start("crasher", [sh("echo run; exit 3")])
    runner = worker.runners[0]
    # First restart is immediate, the second waits 10 s of kubelet time.
    await harness.until(
        lambda: "waiting" in runner.state and runner.state["waiting"]["reason"] == "CrashLoopBackOff"
    )
    waiting = runner.state["waiting"]
    assert waiting["message"] == (
        "back-off 10s restarting failed container=main pod=crasher_default(uid-crasher)"
    )
    assert runner.restart_count == 1
    assert runner.last_state["terminated"]["exitCode"] == 3
    assert runner.last_state["terminated"]["reason"] == "Error"
    status = worker.status()
    assert status["phase"] == "Running"  # kubelet's phase for a crash-looping Always pod
    await harness.until(lambda: runner.restart_count >= 3)
    assert [m.split(" restarting")[0] for m in harness.waiting_messages] == ["back-off 10s", "back-off 20s"]
    # One log file per run; only the current run's and the previous one's are kept.
    container_dir = logs.pod_dir(harness.runtime.state_dir, worker.identity) / "main"
    await harness.until(lambda: runner.restart_count >= 4)
    kept = [int(path.stem) for path in logs.attempts(container_dir)]
    assert kept[-1] >= 3 and len(kept) == 2 and kept[0] == kept[1] - 1
    assert (container_dir / f"{kept[0]}.log").read_text() == "run\n"


async def test_fallback_to_logs_on_error_puts_the_log_tail_in_the_message(harness: Harness) -> None:
    script = "for i in $(seq 1 100); do echo line $i; done; exit 1"
    worker = harness.start(
        "noisy", [sh(script) | {"terminationMessagePolicy": "FallbackToLogsOnError"}], restartPolicy="Never"
    )
    await harness.until(lambda: worker.finished)
    message = state_of(worker)["terminated"]["message"]
    assert message.startswith("line 21\n") and message.endswith("line 100\n")  # the last 80 lines


async def test_on_failure_completes_and_never_fails(harness: Harness) -> None:
    done = harness.start("job", [sh("exit 0")], restartPolicy="OnFailure")
    failed = harness.start("fails", [sh("exit 2")], restartPolicy="Never")
    await harness.until(lambda: done.finished and failed.finished)
    assert done.status()["phase"] == "Succeeded"
    assert state_of(done)["terminated"]["reason"] == "Completed"
    assert failed.status()["phase"] == "Failed"
    assert state_of(failed)["terminated"]["exitCode"] == 2
    assert failed.runners[0].restart_count == 0
    ready = {c["type"]: c for c in done.status()["conditions"]}["Ready"]
    assert ready["status"] == "False" and ready["reason"] == "PodCompleted"


async def test_container_without_command_says_why(harness: Harness) -> None:
    worker = harness.start("image-only", [{"name": "web", "image": "nginx:1.27"}])
    await harness.until(lambda: "CreateContainerError" in str(state_of(worker)))
    waiting = state_of(worker)["waiting"]
    assert waiting["reason"] == "CreateContainerError"
    assert 'cannot run the image "nginx:1.27"' in waiting["message"]
    assert "set command" in waiting["message"]
    status = worker.status()
    assert status["phase"] == "Pending"
    assert status["containerStatuses"][0]["ready"] is False


async def test_missing_command_reports_start_error(harness: Harness) -> None:
    worker = harness.start(
        "typo", [{"name": "main", "image": "x", "command": ["no-such-program-xyz"]}], restartPolicy="Never"
    )
    await harness.until(lambda: worker.finished)
    terminated = state_of(worker)["terminated"]
    assert terminated["reason"] == "StartError"
    assert terminated["exitCode"] == 128
    assert terminated["message"] == 'exec: "no-such-program-xyz": executable file not found in $PATH'
    assert worker.status()["phase"] == "Failed"
    lost = harness.start("lost", [sh("true") | {"workingDir": "/no/such/dir"}], restartPolicy="Never")
    await harness.until(lambda: lost.finished)
    assert state_of(lost)["terminated"]["reason"] == "StartError"
    assert "/no/such/dir" in state_of(lost)["terminated"]["message"]


async def test_env_value_from_config_maps_secrets_and_fields(harness: Harness, tmp_path: Path) -> None:
    harness.objects.config_maps["default", "settings"] = {"mode": "fast"}
    harness.objects.secrets["default", "creds"] = {"token": base64.b64encode(b"s3cret").decode()}
    out = tmp_path / "env.txt"
    container = sh(f'echo "$MODE $TOKEN $POD $NS $IP $UID_ ${{OPT-unset}}" > {out}; exec sleep 30')
    container["env"] = [
        {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "UID_", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
        {
            "name": "OPT",
            "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "absent", "optional": True}},
        },
    ]
    worker = harness.start("envy", [container])
    await harness.until(lambda: worker.ready and out.exists() and out.read_text().endswith("\n"))
    assert out.read_text() == "fast s3cret envy default 127.0.0.1 uid-envy unset\n"


async def test_missing_config_map_key_is_a_config_error_until_it_appears(harness: Harness) -> None:
    container = sh("exec sleep 30")
    container["env"] = [
        {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}}
    ]
    worker = harness.start("waits", [container])
    await harness.until(lambda: "CreateContainerConfigError" in str(state_of(worker)))
    assert state_of(worker)["waiting"]["message"] == 'configmap "settings" not found'
    harness.objects.config_maps["default", "settings"] = {"other": "x"}
    await harness.until(lambda: "couldn't find key" in str(state_of(worker)))
    assert state_of(worker)["waiting"]["message"] == "couldn't find key mode in ConfigMap default/settings"
    harness.objects.config_maps["default", "settings"] = {"mode": "ok"}
    await harness.until(lambda: worker.ready)
    assert worker.status()["phase"] == "Running"


HTTP_APP = """
import os, sys, time, http.server
time.sleep(float(sys.argv[1]))
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.path == "/ready" and self.headers.get("X-Probe") == "yes"
        self.send_response(200 if ok else 500)
        self.end_headers()
        self.wfile.write(self.headers.get("User-Agent", "").encode())
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"""


def http_app(port: int, delay: float, probe: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "app",
        "image": "python",
        "command": [sys.executable, "-c", HTTP_APP, str(delay)],
        "env": [{"name": "PORT", "value": str(port)}],
        "ports": [{"name": "http1", "containerPort": port}],
        "readinessProbe": probe,
    }


async def test_aggressive_http_readiness_with_named_port_and_headers(harness: Harness) -> None:
    port = free_port()
    probe = {
        "httpGet": {"path": "/ready", "port": "http1", "httpHeaders": [{"name": "X-Probe", "value": "yes"}]}
    }
    worker = harness.start("web", [http_app(port, 0.3, probe)])
    await harness.until(lambda: "running" in state_of(worker))
    assert not worker.ready  # the app sleeps before it listens
    loop = asyncio.get_running_loop()
    # Find when the port starts answering, independently of the kubelet.
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.002)
    answered = loop.time()
    await harness.until(lambda: worker.ready)
    # Aggressive polling (periodSeconds unset): Ready within tens of ms of the port answering
    # (the bound leaves room for a loaded machine; the declared period would be 10 s).
    assert loop.time() - answered < 0.5
    assert worker.status()["conditions"][2] | {"lastTransitionTime": ""} == {
        "type": "Ready",
        "status": "True",
        "lastProbeTime": None,
        "lastTransitionTime": "",
    }


async def test_tcp_and_exec_readiness(harness: Harness, tmp_path: Path) -> None:
    port = free_port()
    tcp = harness.start("tcp", [http_app(port, 0.0, {"tcpSocket": {"port": port}})])
    flag = tmp_path / "ready-flag"
    exec_probe = {"exec": {"command": ["test", "-e", str(flag)]}, "periodSeconds": 1}
    execd = harness.start("exec", [sh("exec sleep 30") | {"readinessProbe": exec_probe}])
    await harness.until(lambda: tcp.ready and "running" in state_of(execd))
    assert not execd.ready
    flag.touch()
    await harness.until(lambda: execd.ready)


async def test_failed_liveness_probe_restarts_the_container(harness: Harness) -> None:
    liveness = {"exec": {"command": ["false"]}, "periodSeconds": 1, "failureThreshold": 2}
    worker = harness.start("sick", [sh("exec sleep 30") | {"livenessProbe": liveness}])
    runner = worker.runners[0]
    await harness.until(lambda: runner.restart_count >= 1, seconds=20)
    assert runner.last_state["terminated"]["exitCode"] in (137, 143)


async def test_startup_probe_gates_readiness(harness: Harness, tmp_path: Path) -> None:
    flag = tmp_path / "started"
    startup = {"exec": {"command": ["test", "-e", str(flag)]}, "periodSeconds": 1, "failureThreshold": 100}
    worker = harness.start("slow", [sh("exec sleep 30") | {"startupProbe": startup}])
    runner = worker.runners[0]
    await harness.until(lambda: "running" in runner.state)
    await asyncio.sleep(0.1)
    assert not runner.started and not worker.ready
    flag.touch()
    await harness.until(lambda: worker.ready)
    assert runner.started


async def test_pre_stop_hook_runs_before_sigterm(harness: Harness, tmp_path: Path) -> None:
    hook_ran = tmp_path / "hook"
    verdict = tmp_path / "verdict"
    script = (
        f"trap 'if [ -e {hook_ran} ]; then echo yes > {verdict}; else echo no > {verdict}; fi; exit 0' TERM; "
    )
    script += "while true; do sleep 0.02; done"
    container = sh(script) | {"lifecycle": {"preStop": {"exec": {"command": ["touch", str(hook_ran)]}}}}
    worker = harness.start("hooked", [container])
    await harness.until(lambda: worker.ready)
    await worker.stop(grace=30)
    assert verdict.read_text() == "yes\n"


async def test_kill_orphans_from_a_previous_run(tmp_path: Path) -> None:
    records = process.GroupRecords(tmp_path / "pids")
    orphan = await process.spawn(["sh", "-c", "sleep 60 & wait"], dict(os.environ), "", tmp_path / "o.log")
    records.add(orphan.pid, "default_x_uid/main")
    await asyncio.sleep(0.05)
    assert len(process.session_members(orphan.pid)) == 2
    found = await process.GroupRecords(tmp_path / "pids").kill_orphans(grace=1)
    assert found == [orphan.pid]
    await orphan.wait()
    assert process.session_members(orphan.pid) == []
    assert records.all() == []


async def test_logs_tail_limit_and_follow(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_text("".join(f"line {i}\n" for i in range(1000)))

    async def read(**kwargs: Any) -> bytes:
        chunks = [c async for c in logs.read_log(path, still_writing=lambda: False, **kwargs)]
        return b"".join(chunks)

    assert await read(tail_lines=2, limit_bytes=None, follow=False) == b"line 998\nline 999\n"
    assert await read(tail_lines=None, limit_bytes=7, follow=False) == b"line 0\n"
    assert await read(tail_lines=0, limit_bytes=None, follow=False) == b""
    writing = True

    def append(text: str) -> None:
        with open(path, "a") as sink:
            sink.write(text)

    async def writer() -> None:
        nonlocal writing
        append("late\n")
        writing = False

    chunks: list[bytes] = []
    follower = logs.read_log(path, tail_lines=1, limit_bytes=None, follow=True, still_writing=lambda: writing)
    task = asyncio.create_task(writer())
    async with asyncio.timeout(5):
        chunks.extend([chunk async for chunk in follower])
    await task
    assert b"".join(chunks) == b"line 999\nlate\n"


async def test_init_containers_run_in_order_before_the_app(harness: Harness, tmp_path: Path) -> None:
    trail = tmp_path / "trail"
    gate = tmp_path / "gate"
    inits = [
        {"name": "first", "image": "sh", "command": ["sh", "-c", f"echo first >> {trail}"]},
        {
            "name": "second",
            "image": "sh",
            "command": ["sh", "-c", f"test -e {gate} && echo second >> {trail}"],
        },
    ]
    app = sh(f"echo app >> {trail}; exec sleep 30")
    worker = harness.start("init", [app], initContainers=inits)
    second = worker.init_runners[1]
    # The second init container fails until the gate exists: it is retried, the app waits.
    await harness.until(lambda: second.restart_count >= 1)
    status = worker.status()
    assert status["phase"] == "Pending"
    initialized = {c["type"]: c for c in status["conditions"]}["Initialized"]
    assert initialized["status"] == "False"
    assert initialized["message"] == "containers with incomplete status: [second]"
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    gate.touch()
    await harness.until(lambda: worker.ready and trail.read_text().endswith("app\n"))
    assert trail.read_text() == "first\nsecond\napp\n"
    status = worker.status()
    assert [c["state"]["terminated"]["reason"] for c in status["initContainerStatuses"]] == ["Completed"] * 2
    assert status["phase"] == "Running"


async def test_failed_init_container_fails_a_never_pod(harness: Harness) -> None:
    inits = [{"name": "setup", "image": "sh", "command": ["sh", "-c", "exit 4"]}]
    worker = harness.start("broken", [sh("exec sleep 30")], initContainers=inits, restartPolicy="Never")
    await harness.until(lambda: worker.init_failed)
    status = worker.status()
    assert status["phase"] == "Failed"
    assert status["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 4
    assert worker.runners[0].pid is None  # the app never started


async def test_post_start_hook_gates_running_and_a_failed_one_kills(harness: Harness, tmp_path: Path) -> None:
    done = tmp_path / "post-start-done"
    hook = {"exec": {"command": ["sh", "-c", f"sleep 0.2; touch {done}"]}}
    worker = harness.start("hooked", [sh("exec sleep 30") | {"lifecycle": {"postStart": hook}}])
    runner = worker.runners[0]
    await harness.until(lambda: runner.pid is not None)
    assert not done.exists()
    assert runner.state == {"waiting": {"reason": "ContainerCreating"}}  # the hook still runs
    await harness.until(lambda: worker.ready)
    assert done.exists() and "running" in runner.state

    failing = {"exec": {"command": ["false"]}}
    broken = harness.start(
        "broken-hook", [sh("exec sleep 30") | {"lifecycle": {"postStart": failing}}], restartPolicy="Never"
    )
    await harness.until(lambda: broken.finished)
    assert state_of(broken)["terminated"]["reason"] == "Error"
    assert broken.status()["phase"] == "Failed"


DRAIN_APP = """
import os, sys, http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/drain":
            open(sys.argv[1], "w").write(self.headers.get("X-Why", ""))
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"""


async def test_http_pre_stop_hook_is_called_before_sigterm(harness: Harness, tmp_path: Path) -> None:
    port = free_port()
    drained = tmp_path / "drained"
    hook = {"httpGet": {"path": "/drain", "port": "http", "httpHeaders": [{"name": "X-Why", "value": "bye"}]}}
    container = {
        "name": "app",
        "image": "python",
        "command": [sys.executable, "-c", DRAIN_APP, str(drained)],
        "env": [{"name": "PORT", "value": str(port)}],
        "ports": [{"name": "http", "containerPort": port}],
        "readinessProbe": {"tcpSocket": {"port": "http"}},
        "lifecycle": {"preStop": hook},
    }
    worker = harness.start("drainer", [container])
    await harness.until(lambda: worker.ready)
    await worker.stop(grace=30)
    assert drained.read_text() == "bye"
    assert state_of(worker)["terminated"]["exitCode"] == 143  # then SIGTERM ended it


async def test_env_from_config_maps_and_secrets_with_prefix(harness: Harness, tmp_path: Path) -> None:
    harness.objects.config_maps["default", "app-config"] = {"LEVEL": "debug", "MODE": "fast"}
    harness.objects.secrets["default", "app-secret"] = {"TOKEN": base64.b64encode(b"t0k").decode()}
    out = tmp_path / "env.txt"
    container = sh(f'echo "$CFG_LEVEL $CFG_MODE $TOKEN $MODE" > {out}; exec sleep 30')
    container["envFrom"] = [
        {"prefix": "CFG_", "configMapRef": {"name": "app-config"}},
        {"secretRef": {"name": "app-secret"}},
        {"configMapRef": {"name": "absent", "optional": True}},
    ]
    container["env"] = [{"name": "MODE", "value": "explicit wins"}]
    worker = harness.start("env-from", [container])
    await harness.until(lambda: worker.ready and out.exists() and out.read_text().endswith("\n"))
    assert out.read_text() == "debug fast t0k explicit wins\n"


async def test_a_port_that_never_opens_is_reported_unhealthy_once(harness: Harness) -> None:
    port = free_port()
    probe = {"tcpSocket": {"port": port}, "periodSeconds": 1, "failureThreshold": 3}
    worker = harness.start("deaf", [sh("exec sleep 30") | {"readinessProbe": probe}])

    def unhealthy() -> list[str]:
        return [message for name, reason, message in harness.events if reason == "Unhealthy"]

    # Polled every 20 ms, but reported only once it failed for as long as kube would have seen.
    await harness.until(lambda: bool(unhealthy()))
    await asyncio.sleep(0.1)
    assert unhealthy() == [f"Readiness probe failed: dial tcp 127.0.0.1:{port}: connect: connection refused"]
    assert not worker.ready and worker.status()["phase"] == "Running"
    started = [name for name, reason, _ in harness.events if reason == "Started"]
    assert started == ["deaf"]
