"""`kwake service ...` against a real localkube API server (statuses written as the operator would)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import yaml

from serving.cli.kn.session import REVISIONS, SERVICES
from tests.cli.conftest import Cluster, Kwake

Obj = dict[str, Any]
HELLO = ("--cmd", "python3", "--arg=-m", "--arg", "loadtests.apps.hello")


def ready_status(generation: int = 1, revision: str = "hello-00001", **extra: Any) -> Obj:
    return {
        "observedGeneration": generation,
        "url": "http://hello.default.localhost",
        "latestCreatedRevisionName": revision,
        "latestReadyRevisionName": revision,
        "conditions": [
            {"type": t, "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}
            for t in ("ConfigurationsReady", "Ready", "RoutesReady")
        ],
        "traffic": [{"revisionName": revision, "latestRevision": True, "percent": 100}],
        **extra,
    }


def revision(name: str, generation: int, service: str = "hello") -> Obj:
    return {
        "metadata": {
            "name": name,
            "labels": {
                "serving.knative.dev/service": service,
                "serving.knative.dev/configuration": service,
                "serving.knative.dev/configurationGeneration": str(generation),
            },
        },
        "spec": {"containers": [{"command": ["python3", "-m", "loadtests.apps.hello"]}]},
    }


def test_create_list_describe_delete(cluster: Cluster, kwake: Kwake) -> None:
    created = kwake("service", "create", "hello", *HELLO, "--env", "A=1", "--scale-min", "1", "--no-wait")
    assert created.code == 0, created.err
    assert "Service 'hello' created in namespace 'default'" in created.out
    stored = cluster.get(SERVICES, "hello")
    assert stored is not None
    container = stored["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python3"] and container["args"] == ["-m", "loadtests.apps.hello"]
    assert container["env"] == [{"name": "A", "value": "1"}]
    assert stored["spec"]["template"]["metadata"]["annotations"] == {"autoscaling.knative.dev/min-scale": "1"}

    before = kwake("service", "list")
    assert before.out.splitlines()[0].split() == [
        "NAME",
        "URL",
        "LATEST",
        "AGE",
        "CONDITIONS",
        "READY",
        "REASON",
    ]
    assert before.out.splitlines()[1].split()[0] == "hello"
    assert "Unknown" in before.out

    cluster.set_status(SERVICES, "hello", ready_status())
    cluster.create(REVISIONS, revision("hello-00001", 1))
    cluster.set_status(REVISIONS, "hello-00001", {"conditions": [{"type": "Ready", "status": "True"}]})

    listed = kwake("service", "list")
    assert listed.code == 0
    row = listed.out.splitlines()[1].split()
    assert row[:3] == ["hello", "http://hello.default.localhost", "hello-00001"]
    assert row[4:] == ["3", "OK", "/", "3", "True"]

    described = kwake("service", "describe", "hello")
    assert described.code == 0, described.err
    assert "URL:          http://hello.default.localhost" in described.out
    assert "100%  @latest (hello-00001)" in described.out
    assert "Command: python3 -m loadtests.apps.hello" in described.out
    assert "++ Ready" in described.out

    as_json = json.loads(kwake("service", "describe", "hello", "-o", "json").out)
    assert as_json["metadata"]["name"] == "hello" and as_json["status"]["url"].endswith("localhost")
    as_yaml = yaml.safe_load(kwake("service", "list", "-o", "yaml").out)
    assert as_yaml["kind"] == "ServiceList" and [i["metadata"]["name"] for i in as_yaml["items"]] == ["hello"]

    revisions = kwake("revision", "list")
    assert revisions.out.splitlines()[1].split()[:4] == ["hello-00001", "hello", "100%", "1"]

    deleted = kwake("service", "delete", "hello")
    assert deleted.code == 0 and "Service 'hello' deleted" in deleted.out
    assert cluster.get(SERVICES, "hello") is None
    assert "No services found" in kwake("service", "list").out


def test_create_waits_for_ready_and_prints_the_url(cluster: Cluster, kwake: Kwake) -> None:
    def operator() -> None:  # stands in for the operator: marks the Service Ready once it exists
        deadline = time.monotonic() + 10
        while cluster.get(SERVICES, "hello") is None and time.monotonic() < deadline:
            time.sleep(0.05)
        cluster.set_status(SERVICES, "hello", ready_status())

    thread = threading.Thread(target=operator)
    thread.start()
    try:
        result = kwake("service", "create", "hello", *HELLO, "--wait-timeout", "20")
    finally:
        thread.join(15)
    assert result.code == 0, result.err
    assert "Service 'hello' is Ready with latest revision 'hello-00001'" in result.out
    assert result.out.rstrip().endswith("http://hello.default.localhost")


def test_wait_gives_up_at_the_timeout_and_says_where_to_look(cluster: Cluster, kwake: Kwake) -> None:
    result = kwake("service", "create", "hello", *HELLO, "--wait-timeout", "0.3")
    assert result.code == 1
    assert 'service "hello" in namespace "default" was not Ready within 0.3s' in result.err
    assert "kwake service describe hello" in result.err


def test_a_failing_service_is_reported_with_its_reason(cluster: Cluster, kwake: Kwake) -> None:
    kwake("service", "create", "hello", *HELLO, "--no-wait")
    # What the operator will say of generation 2 (the update below), written ahead of it.
    failed = ready_status(generation=2)
    failed["conditions"] = [
        {"type": "Ready", "status": "False", "reason": "RevisionFailed", "message": "exit code 3"}
    ]
    cluster.set_status(SERVICES, "hello", failed)
    cluster.create(REVISIONS, revision("hello-00001", 1))
    cluster.set_status(
        REVISIONS,
        "hello-00001",
        {"conditions": [{"type": "Ready", "status": "False", "reason": "ExitCode3", "message": "boom"}]},
    )
    started = time.monotonic()
    result = kwake("service", "update", "hello", "--env", "X=1", "--wait-timeout", "20")
    assert result.code == 1
    assert 'service "hello" in namespace "default" is not Ready: RevisionFailed: exit code 3' in result.err
    assert "(revision hello-00001: ExitCode3: boom)" in result.err  # why, which the Service hides
    assert time.monotonic() - started < 10  # reported after kn's error window, not at the timeout


def test_bad_flags_exit_1_and_send_nothing(cluster: Cluster, kwake: Kwake) -> None:
    for flags, message in [
        (("--env", "NOEQUALS"), "--env 'NOEQUALS': expected NAME=VALUE"),
        (("--scale-min", "-1"), "--scale-min '-1': must be at least 0"),
        (("--scale-window", "1s"), "--scale-window '1s': must be within 6s and 1h"),
    ]:
        result = kwake("service", "create", "hello", *HELLO, *flags, "--no-wait")
        assert result.code == 1 and message in result.err, result
    no_app = kwake("service", "create", "hello", "--no-wait")
    assert no_app.code == 1 and "--cmd COMMAND" in no_app.err
    assert cluster.get(SERVICES, "hello") is None


def test_creating_twice_says_to_update(cluster: Cluster, kwake: Kwake) -> None:
    assert kwake("service", "create", "hello", *HELLO, "--no-wait").code == 0
    again = kwake("service", "create", "hello", *HELLO, "--no-wait")
    assert again.code == 1
    assert 'service "hello" already exists in namespace "default"' in again.err
    assert "kwake service update hello" in again.err
    forced = kwake("service", "create", "hello", "--image", "other:2", "--force", "--no-wait")
    assert forced.code == 0 and "Service 'hello' replaced" in forced.out, forced.err
    stored = cluster.get(SERVICES, "hello")
    assert stored is not None and stored["metadata"]["generation"] == 2
    assert stored["spec"]["template"]["spec"]["containers"] == [{"image": "other:2"}]  # exactly the flags'


def test_update_makes_a_new_generation_then_moves_traffic(cluster: Cluster, kwake: Kwake) -> None:
    kwake("service", "create", "hello", *HELLO, "--env", "A=1", "--no-wait")
    updated = kwake("service", "update", "hello", "--env", "B=2", "--env", "A-", "--no-wait")
    assert updated.code == 0, updated.err
    assert "updated" in updated.out
    stored = cluster.get(SERVICES, "hello")
    assert stored is not None and stored["metadata"]["generation"] == 2
    assert stored["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "B", "value": "2"}]

    split = kwake(
        "service", "update", "hello",
        "--tag", "hello-00001=blue", "--traffic", "blue=50", "--traffic", "@latest=50", "--no-wait",
    )  # fmt: skip
    assert split.code == 0, split.err
    stored = cluster.get(SERVICES, "hello")
    assert stored is not None
    assert stored["spec"]["traffic"] == [
        {"latestRevision": True, "percent": 50},
        {"tag": "blue", "percent": 50, "revisionName": "hello-00001", "latestRevision": False},
    ]
    assert stored["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "B", "value": "2"}]

    bad = kwake("service", "update", "hello", "--traffic", "@latest=70", "--no-wait")
    assert bad.code == 1 and "sum to 70" in bad.err
    nothing = kwake("service", "update", "hello", "--no-wait")
    assert nothing.code == 1 and "nothing to change" in nothing.err


def test_missing_objects_are_named_with_what_to_do(cluster: Cluster, kwake: Kwake) -> None:
    for argv, kind, noun in [
        (("service", "describe", "nope"), "service", "service"),
        (("service", "delete", "nope"), "service", "service"),
        (("service", "update", "nope", "--env", "A=1"), "service", "service"),
        (("revision", "describe", "nope"), "revision", "revision"),
        (("revision", "delete", "nope"), "revision", "revision"),
        (("route", "describe", "nope"), "route", "route"),
        (("logs", "nope"), "service", "service"),
        (("request", "nope"), "service", "service"),
    ]:
        result = kwake(*argv)
        assert result.code == 1, argv
        assert (
            f'Error: {kind} "nope" not found in namespace "default"; '
            f"list them with: kwake {noun} list -n default" in result.err
        ), result.err
    in_other = kwake("service", "describe", "nope", "-n", "other")
    assert 'not found in namespace "other"' in in_other.err
