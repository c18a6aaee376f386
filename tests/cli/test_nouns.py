"""`kwake revision|route|apply|logs` and connection failures, against a real localkube API server."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from localkube.client import PODS
from localkube.server.runner import ThreadedApiServer
from serving.cli.kn.output import age, table
from serving.cli.kn.session import REVISIONS, ROUTES, SERVICES
from tests.cli.conftest import ROOT, Cluster, Kwake
from tests.cli.test_service import ready_status, revision
from tests.localkube.test_kubelet_apiserver import Running, ready


def test_revision_list_shows_traffic_and_tags_newest_first(cluster: Cluster, kwake: Kwake) -> None:
    kwake("service", "create", "hello", "--cmd", "app", "--no-wait")
    for name, generation in (("hello-00001", 1), ("hello-00002", 2)):
        cluster.create(REVISIONS, revision(name, generation))
        cluster.set_status(REVISIONS, name, {"conditions": [{"type": "Ready", "status": "True"}]})
    status = ready_status(revision="hello-00002")
    status["traffic"] = [
        {"revisionName": "hello-00002", "latestRevision": True, "percent": 80},
        {"revisionName": "hello-00001", "percent": 20, "tag": "blue"},
    ]
    cluster.set_status(SERVICES, "hello", status)
    listed = kwake("revision", "list", "-s", "hello")
    assert listed.code == 0, listed.err
    lines = listed.out.splitlines()
    assert lines[0].split() == [
        "NAME", "SERVICE", "TRAFFIC", "TAGS", "GENERATION", "AGE", "CONDITIONS", "READY", "REASON"
    ]  # fmt: skip
    assert lines[1].split()[:4] == ["hello-00002", "hello", "80%", "2"]
    assert lines[2].split()[:5] == ["hello-00001", "hello", "20%", "blue", "1"]

    described = kwake("revision", "describe", "hello-00001")
    assert (
        "Service:      hello" in described.out
        and "Command:      python3 -m loadtests.apps.hello" in described.out
    )
    assert "++ Ready" in described.out

    assert "No revisions found" in kwake("revision", "list", "-n", "empty").out
    missing = kwake("revision", "list", "-s", "ghost")
    assert missing.code == 1 and 'service "ghost" not found' in missing.err

    deleted = kwake("revision", "delete", "hello-00001")
    assert deleted.code == 0 and cluster.get(REVISIONS, "hello-00001") is None


def test_route_list_and_describe(cluster: Cluster, kwake: Kwake) -> None:
    cluster.create(
        ROUTES,
        {
            "metadata": {"name": "hello"},
            "spec": {"traffic": [{"configurationName": "hello", "percent": 100}]},
        },
    )
    pending = kwake("route", "describe", "hello")
    assert "(as asked; not yet observed by the controller)" in pending.out
    cluster.set_status(
        ROUTES,
        "hello",
        {
            "url": "http://hello.default.localhost",
            "conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "AllTrafficAssigned", "status": "True"},
            ],
            "traffic": [
                {"revisionName": "hello-00001", "latestRevision": True, "percent": 100},
                {
                    "revisionName": "hello-00001",
                    "percent": 0,
                    "tag": "v1",
                    "url": "http://v1-hello.default.localhost",
                },
            ],
        },
    )
    listed = kwake("route", "list")
    assert listed.out.splitlines()[1].split()[:2] == ["hello", "http://hello.default.localhost"]
    assert listed.out.splitlines()[1].split()[-1] == "True"
    described = kwake("route", "describe", "hello")
    assert "100%  @latest (hello-00001)" in described.out
    assert "0%  hello-00001 #v1  http://v1-hello.default.localhost" in described.out
    assert kwake("route", "list", "-A").out.splitlines()[0].split()[0] == "NAMESPACE"


def test_apply_creates_then_configures_and_names_a_bad_object(
    cluster: Cluster, kwake: Kwake, tmp_path: Path
) -> None:
    first = kwake("apply", "-f", str(ROOT / "examples" / "hello.yaml"))
    assert first.code == 0, first.err
    assert first.out.strip() == "service.serving.knative.dev/hello created"
    again = kwake("apply", "-f", str(ROOT / "examples" / "hello.yaml"))
    assert again.out.strip() == "service.serving.knative.dev/hello configured"

    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "a.yaml").write_text(
        "apiVersion: serving.knative.dev/v1\nkind: Nope\nmetadata: {name: x}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: '1'}\n"
    )
    mixed = kwake("apply", "-f", str(folder))
    assert mixed.code == 1
    assert f"{folder / 'a.yaml'}#0: Nope 'x': the server has no kind \"Nope\"" in mixed.err
    assert "configmap/settings created" in mixed.out  # the good object still went in
    assert "1 of 2 objects were not applied" in mixed.err

    unreadable = kwake("apply", "-f", str(tmp_path / "missing.yaml"))
    assert unreadable.code == 1 and "missing.yaml: no such file or directory" in unreadable.err


def test_logs_print_the_latest_ready_revisions_pods(cluster: Cluster, kwake: Kwake) -> None:
    kwake("service", "create", "hello", "--cmd", "app", "--no-wait")
    cluster.set_status(SERVICES, "hello", ready_status())
    nothing = kwake("logs", "hello")
    assert nothing.code == 0 and 'no pods of revision "hello-00001" are running' in nothing.err
    assert "kwake request hello" in nothing.err


async def test_logs_read_through_the_pods_log_subresource(
    cluster: Cluster, kwake: Kwake, running: Running
) -> None:
    await asyncio.to_thread(kwake, "service", "create", "hello", "--cmd", "app", "--no-wait")
    await asyncio.to_thread(cluster.set_status, SERVICES, "hello", ready_status())
    labels = {"serving.knative.dev/service": "hello", "serving.knative.dev/revision": "hello-00001"}
    for name, words in (("hello-a", "from a"), ("other", "not mine")):
        pod = {
            "metadata": {"name": name, "labels": labels if name == "hello-a" else {}},
            "spec": {
                "containers": [{"name": "user-container", "command": ["sh", "-c", f"echo {words}; sleep 30"]}]
            },
        }
        await running.client.create(PODS, pod, "default")
    await running.until("hello-a", ready)
    deadline = time.monotonic() + 15
    while True:
        result = await asyncio.to_thread(kwake, "logs", "hello", "--tail", "5")
        if "from a" in result.out or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert result.code == 0, result.err
    assert result.out == "from a\n"


async def test_logs_follow_every_pod_with_its_name_in_front(
    cluster: Cluster, kwake: Kwake, running: Running
) -> None:
    await asyncio.to_thread(kwake, "service", "create", "hello", "--cmd", "app", "--no-wait")
    await asyncio.to_thread(cluster.set_status, SERVICES, "hello", ready_status())
    labels = {"serving.knative.dev/service": "hello", "serving.knative.dev/revision": "hello-00001"}
    for name in ("hello-a", "hello-b"):
        script = f"echo {name} one; sleep 1; echo {name} two"
        pod = {
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "user-container", "command": ["sh", "-c", script]}],
            },
        }
        await running.client.create(PODS, pod, "default")
    for name in ("hello-a", "hello-b"):
        await running.until(name, lambda p: bool((p.get("status") or {}).get("containerStatuses")))
    # -f ends when the containers do (restartPolicy Never), so this returns within seconds.
    result = await asyncio.wait_for(asyncio.to_thread(kwake, "logs", "hello", "-f"), 30)
    assert result.code == 0, result.err
    assert sorted(result.out.splitlines()) == [
        "[hello-a] hello-a one",
        "[hello-a] hello-a two",
        "[hello-b] hello-b one",
        "[hello-b] hello-b two",
    ]


def test_no_cluster_and_a_dead_cluster_say_what_to_do(
    kwake: Kwake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    none = kwake("service", "list")
    assert none.code == 1 and "cannot find the cluster" in none.err and "kwake up" in none.err
    config = tmp_path / "kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "contexts: [{name: c, context: {cluster: k}}]\nusers: []\n"
    )
    dead = kwake("service", "list", "--kubeconfig", str(config))
    assert dead.code == 1 and "cannot reach the API server at http://127.0.0.1:9" in dead.err


def test_a_server_without_the_crds_is_explained(
    apiserver: ThreadedApiServer, kwake: Kwake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(apiserver.kubeconfig))
    result = kwake("service", "list")
    assert result.code == 1 and "does not serve Knative Serving" in result.err, result.err


@pytest.mark.parametrize(
    ("seconds", "expected"), [(0, "0s"), (59, "59s"), (60, "1m"), (7199, "1h"), (3 * 86400 + 5, "3d")]
)
def test_ages_read_like_kn(seconds: int, expected: str) -> None:
    assert age("2026-01-01T00:00:00Z", 1767225600 + seconds) == expected


def test_tables_pad_columns() -> None:
    assert table(("A", "LONGER"), [["xxxx", "y"]]) == "A      LONGER\nxxxx   y"
