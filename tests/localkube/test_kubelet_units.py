"""Pure parts of the kubelet: back-off, pod phase and conditions, $(VAR) expansion, spec parsing."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from localkube.kubelet import admission, backoff, env, logs, probes, spec, status


def test_crash_backoff_doubles_from_ten_seconds_to_five_minutes() -> None:
    crash = backoff.CrashBackoff()
    now = 1000.0
    delays = []
    for _ in range(9):
        delay = crash.on_exit(started_at=now, finished_at=now + 1)
        delays.append(delay)
        now += 1 + delay
    assert delays == [0, 10, 20, 40, 80, 160, 300, 300, 300]


def test_crash_backoff_resets_after_ten_minutes_of_running_or_quiet() -> None:
    crash = backoff.CrashBackoff()
    assert crash.on_exit(0, 1) == 0
    assert crash.on_exit(1, 2) == 10
    assert crash.on_exit(12, 13) == 20
    assert crash.on_exit(33, 33 + 600) == 0  # ran for 10 minutes
    assert crash.on_exit(700, 701) == 10
    assert crash.on_exit(2000, 2001) == 0  # last exit more than 10 minutes ago


def running() -> dict[str, Any]:
    return {"name": "a", "ready": True, "state": {"running": {"startedAt": "t"}}, "lastState": {}}


def crashed(code: int) -> dict[str, Any]:
    return {"name": "a", "ready": False, "state": {"terminated": {"exitCode": code}}, "lastState": {}}


def backing_off() -> dict[str, Any]:
    return {
        "name": "a",
        "ready": False,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 1}},
    }


def creating() -> dict[str, Any]:
    return {
        "name": "a",
        "ready": False,
        "state": {"waiting": {"reason": "ContainerCreating"}},
        "lastState": {},
    }


@pytest.mark.parametrize(
    ("policy", "containers", "terminal", "expected"),
    [
        ("Always", [creating()], False, "Pending"),
        ("Always", [running()], False, "Running"),
        ("Always", [backing_off()], False, "Running"),
        ("Always", [crashed(1)], False, "Running"),
        ("OnFailure", [crashed(0)], False, "Succeeded"),
        ("OnFailure", [crashed(1)], False, "Running"),
        ("Never", [crashed(1)], False, "Failed"),
        ("Never", [crashed(0), running()], False, "Running"),
        ("Always", [crashed(0)], True, "Succeeded"),
        ("Always", [crashed(143)], True, "Failed"),
        ("Always", [creating()], True, "Failed"),
    ],
)
def test_phase_follows_kubelet(
    policy: str, containers: list[dict[str, Any]], terminal: bool, expected: str
) -> None:
    assert status.phase(policy, containers, terminal) == expected


def test_conditions_keep_transition_time_until_status_changes() -> None:
    first = status.conditions([creating()], "Pending", "t1", [])
    ready = {c["type"]: c for c in first}["Ready"]
    assert ready["status"] == "False"
    assert ready["reason"] == "ContainersNotReady"
    assert ready["message"] == "containers with unready status: [a]"
    second = {c["type"]: c for c in status.conditions([creating()], "Pending", "t2", first)}
    assert second["Ready"]["lastTransitionTime"] == "t1"
    third = {c["type"]: c for c in status.conditions([running()], "Running", "t3", list(second.values()))}
    assert third["Ready"] == {
        "type": "Ready",
        "status": "True",
        "lastProbeTime": None,
        "lastTransitionTime": "t3",
    }
    assert third["PodScheduled"]["lastTransitionTime"] == "t1"


def test_var_expansion_is_kubernetes_style() -> None:
    values = {"A": "1", "B": "two"}
    assert env.expand("$(A)-$(B)-$(C)", values) == "1-two-$(C)"
    assert env.expand("$$(A) costs $$5", values) == "$(A) costs $5"


def test_probe_defaults_and_aggressive_readiness() -> None:
    readiness = spec.Probe.from_body({"tcpSocket": {"port": 8080}}, readiness=True)
    assert readiness is not None
    assert readiness.aggressive
    assert (readiness.period, readiness.timeout, readiness.failure_threshold) == (10.0, 1.0, 3)
    every_second = spec.Probe.from_body({"tcpSocket": {"port": 1}, "periodSeconds": 1}, readiness=True)
    assert every_second is not None and every_second.aggressive and every_second.period == 1.0
    slow = spec.Probe.from_body({"tcpSocket": {"port": 1}, "periodSeconds": 5}, readiness=True)
    assert slow is not None and not slow.aggressive
    liveness = spec.Probe.from_body({"httpGet": {"path": "/h", "port": "http"}, "periodSeconds": 2})
    assert liveness is not None
    assert not liveness.aggressive
    assert liveness.action == spec.HttpGet(path="/h", port="http", host="", scheme="HTTP", headers=())
    container = spec.Container.from_body(
        {"name": "c", "ports": [{"name": "http", "containerPort": 9000}], "command": ["x"]}
    )
    assert container.resolve_port("http") == 9000
    assert container.resolve_port("8081") == 8081
    assert container.resolve_port("nope") is None
    assert container.resolve_port(0) == 9000  # no port: the container's port, as in Knative
    unset = spec.Probe.from_body({"tcpSocket": {}}, readiness=True)
    assert unset is not None and isinstance(unset.action, spec.TcpSocket)
    assert container.resolve_port(unset.action.port) == 9000


def knative_like_pod() -> dict[str, Any]:
    return {
        "metadata": {"name": "hello-00001-deployment-abc", "annotations": {"a/b": "c"}},
        "spec": {
            "containers": [
                {
                    "name": "user-container",
                    "command": ["app"],
                    "ports": [{"name": "user-port", "containerPort": 8080, "protocol": "TCP"}],
                    "env": [
                        {"name": "PORT", "value": "8080"},
                        {"name": "K_REVISION", "value": "hello-00001"},
                    ],
                    "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 0},
                    "lifecycle": {"preStop": {"httpGet": {"path": "/drain", "port": 8080}}},
                }
            ]
        },
    }


def test_admission_gives_the_serving_port_probes_and_env_a_fresh_port() -> None:
    ports = iter([41000, 41001])
    ops = admission.port_patch(knative_like_pod(), lambda: next(ports))
    assert ops == [
        {"op": "replace", "path": "/spec/containers/0/ports/0/containerPort", "value": 41000},
        {"op": "replace", "path": "/spec/containers/0/env/0", "value": {"name": "PORT", "value": "41000"}},
        {"op": "replace", "path": "/spec/containers/0/readinessProbe/tcpSocket/port", "value": 41000},
        {"op": "replace", "path": "/spec/containers/0/lifecycle/preStop/httpGet/port", "value": 41000},
        {
            "op": "add",
            "path": "/metadata/annotations/kubelet.localkube.io~1ports",
            "value": '{"8080": 41000, "PORT": 41000}',
        },
    ]
    admitted = knative_like_pod()
    admitted["metadata"]["annotations"][admission.PORTS_ANNOTATION] = "{}"
    assert admission.port_patch(admitted, lambda: next(ports)) == []  # never remapped twice


def test_admission_adds_an_http_port_to_a_pod_that_declares_none() -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "command": ["x"]}]}}
    ops = admission.port_patch(pod, lambda: 42000)
    assert ops == [
        {
            "op": "add",
            "path": "/spec/containers/0/ports",
            "value": [{"name": "http", "containerPort": 42000, "protocol": "TCP"}],
        },
        {"op": "add", "path": "/spec/containers/0/env", "value": [{"name": "PORT", "value": "42000"}]},
        {
            "op": "add",
            "path": "/metadata/annotations",
            "value": {admission.PORTS_ANNOTATION: '{"PORT": 42000}'},
        },
    ]
    review = admission.review_response(
        {"request": {"uid": "u", "operation": "UPDATE", "resource": {"resource": "pods"}, "object": pod}},
        lambda: 1,
    )
    assert review["response"] == {"uid": "u", "allowed": True}  # only CREATE is mutated


def test_port_allocator_stays_below_the_ephemeral_range_and_never_repeats() -> None:
    allocator = admission.PortAllocator()
    low, _ = admission.ephemeral_range()
    ports = [allocator.allocate() for _ in range(200)]
    assert len(set(ports)) == 200
    assert all(20000 <= port < low for port in ports)


@pytest.mark.parametrize(
    ("content", "lines", "expected"),
    [
        (b"a\nb\nc\n", 2, b"b\nc\n"),
        (b"a\nb\nc", 2, b"b\nc"),  # an unfinished last line counts as a line
        (b"a\nb\nc\n", 10, b"a\nb\nc\n"),
        (b"", 3, b""),
        (b"a\n" * 50_000, 1, b"a\n"),  # spans read chunks
    ],
)
def test_tail_offset(tmp_path: Path, content: bytes, lines: int, expected: bytes) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(content)
    assert content[logs.tail_offset(path, lines) :] == expected


def test_connect_now_knows_at_once_on_loopback() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = int(listener.getsockname()[1])
        assert probes.connect_now("127.0.0.1", port) is True
        accepted, _ = listener.accept()
        accepted.close()
    assert probes.connect_now("127.0.0.1", port) is False  # closed now: refused


def test_a_large_log_is_rotated_while_its_writer_keeps_appending(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    with open(path, "ab", buffering=0) as writer:  # as a container's stdout is opened
        writer.write(b"x" * 100)
        assert not logs.rotate_if_large(path, limit=200)
        assert logs.rotate_if_large(path, limit=50)
        writer.write(b"after\n")
    assert (tmp_path / "0.log.1").read_bytes() == b"x" * 100
    assert path.read_bytes() == b"after\n"  # appended at the new end, no hole


def test_readiness_gates_hold_ready_and_foreign_conditions_are_kept() -> None:
    gate = "example.com/load-balancer"
    missing = {c["type"]: c for c in status.conditions([running()], "Running", "t", [], gates=[gate])}
    assert missing["ContainersReady"]["status"] == "True"
    assert missing["Ready"]["status"] == "False" and missing["Ready"]["reason"] == "ReadinessGatesNotReady"
    assert (
        missing["Ready"]["message"]
        == f'corresponding condition of pod readiness gate "{gate}" does not exist.'
    )
    foreign = [{"type": gate, "status": "True"}, {"type": "DisruptionTarget", "status": "False"}]
    opened = status.conditions([running()], "Running", "t", [], gates=[gate], foreign=foreign)
    assert {c["type"]: c["status"] for c in opened}["Ready"] == "True"
    assert opened[-2:] == foreign  # other writers' conditions are written back unchanged
    assert status.foreign_conditions({"conditions": opened}) == foreign
