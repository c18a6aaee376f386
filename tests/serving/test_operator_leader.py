"""Two `kwake operator` processes with leader election against one localkube API server.

Each operator reaches the API through its own recording proxy, so the test sees exactly which
replica wrote what: only the holder of the `kwake-operator` Lease may write (the standby only
watches and reads the Lease). A leader that stops hands over at once; one that dies is replaced
within the lease duration; one that loses the Lease exits with status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import unused_port

from localkube.client import LEASES, NAMESPACES, ApiClient, ApiError, load_connection
from localkube.server.runner import ThreadedApiServer
from serving.operator import cli
from serving.operator.leadership import LEASE_NAME
from serving.operator.resources import CONFIGURATIONS, KSERVICES, REVISIONS, ROUTES
from tests.deploy.processes import component
from tests.deploy.recording_proxy import RecordingProxy

from .operator_harness import install_crds, webhooks_configured

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

SYSTEM = "kwake-system"
NS = "default"
LEASE_DURATION = 3.0
ELECTION_ARGS = (
    "--leader-elect",
    f"--leader-elect-lease-duration={LEASE_DURATION}",
    "--leader-elect-renew-deadline=2",
    "--leader-elect-retry-period=0.2",
)
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def ksvc(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "template": {"spec": {"containers": [{"image": "ghcr.io/kwake/hello:1", "command": ["true"]}]}},
            **spec,
        },
    }


def write_kubeconfig(path: Path, server: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }
    path.write_text(yaml.safe_dump(config))
    return path


def writes(proxy: RecordingProxy) -> list[str]:
    """What a replica changed through its proxy, its Lease aside (a standby may race to create it)."""
    return [f"{c.method} {c.path}" for c in proxy.calls if c.method in WRITES and "/leases" not in c.path]


def log_tails(tmp_path: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-2500:]}" for p in sorted(tmp_path.glob("*.log")))


async def eventually(check: Callable[[], Awaitable[bool]], within: float, what: str, logs: Path) -> float:
    """Poll `check` every 0.05 s, bounded by `within` s; return how long it took."""
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start > within:
            raise AssertionError(f"timed out after {within}s waiting for {what}\n{log_tails(logs)}")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


async def holder(client: ApiClient) -> str:
    lease = await client.get_or_none(LEASES, LEASE_NAME, SYSTEM)
    return str(((lease or {}).get("spec") or {}).get("holderIdentity") or "")


def pid_of(identity: str) -> int:
    """default_identity() is HOST_PID_SUFFIX."""
    return int(identity.rsplit("_", 2)[1])


@pytest.fixture
async def client(apiserver: ThreadedApiServer) -> AsyncIterator[ApiClient]:
    async with ApiClient(load_connection(str(apiserver.kubeconfig)), keep_warm_seconds=None) as api:
        await install_crds(api)
        await api.create(NAMESPACES, {"metadata": {"name": SYSTEM}})
        yield api


@contextlib.asynccontextmanager
async def operator(
    apiserver: ThreadedApiServer, tmp_path: Path, name: str, *argv: str
) -> AsyncIterator[tuple[asyncio.subprocess.Process, RecordingProxy]]:
    """`kwake operator` NAME through its own recording proxy, stopped with SIGTERM at the end."""
    proxy = RecordingProxy(load_connection(str(apiserver.kubeconfig)))
    kubeconfig = write_kubeconfig(tmp_path / f"{name}.kubeconfig", await proxy.start())
    try:
        args = ["--kubeconfig", str(kubeconfig), *ELECTION_ARGS, *argv]
        async with component("operator", args, tmp_path / f"{name}.log") as proc:
            yield proc, proxy
    finally:
        await proxy.stop()


async def reconciled(client: ApiClient, name: str) -> bool:
    """The Service's children and first Revision exist, and its status says the operator saw it."""
    svc = await client.get_or_none(KSERVICES, name, NS)
    config = await client.get_or_none(CONFIGURATIONS, name, NS)
    route = await client.get_or_none(ROUTES, name, NS)
    revision = await client.get_or_none(REVISIONS, f"{name}-00001", NS)
    observed = ((svc or {}).get("status") or {}).get("observedGeneration")
    return None not in (config, route, revision) and observed == 1


async def no_duplicates(client: ApiClient, services: set[str]) -> None:
    configs = {c["metadata"]["name"] for c in (await client.list(CONFIGURATIONS, NS))["items"]}
    revisions = sorted(r["metadata"]["name"] for r in (await client.list(REVISIONS, NS))["items"])
    assert configs == services
    assert revisions == sorted(f"{s}-00001" for s in services)  # one Revision each, never two


async def test_only_the_leader_reconciles_and_a_stopped_leader_hands_over_at_once(
    apiserver: ThreadedApiServer, client: ApiClient, tmp_path: Path
) -> None:
    async with (
        operator(apiserver, tmp_path, "a", "--no-webhooks") as (proc_a, proxy_a),
        operator(apiserver, tmp_path, "b", "--no-webhooks") as (proc_b, proxy_b),
    ):

        async def elected() -> bool:
            return bool(await holder(client))

        await eventually(elected, 20, "a leader", tmp_path)
        first = await holder(client)
        by_pid = {proc_a.pid: (proc_a, proxy_a), proc_b.pid: (proc_b, proxy_b)}
        leader, leader_proxy = by_pid.pop(pid_of(first))
        (standby, standby_proxy) = next(iter(by_pid.values()))

        async def standby_campaigns_and_watches() -> bool:
            calls = standby_proxy.calls
            looked = any("/leases/" in c.path for c in calls)
            return looked and any(c.path.endswith("/services") and c.query.get("watch") for c in calls)

        await eventually(standby_campaigns_and_watches, 20, "the standby up", tmp_path)
        await client.create(KSERVICES, ksvc("one"), NS)
        await eventually(lambda: reconciled(client, "one"), 20, "Service one reconciled", tmp_path)
        assert any("/configurations" in w for w in writes(leader_proxy) if w.startswith("POST"))
        assert writes(standby_proxy) == [], "the standby wrote while another replica led"
        standby_lease_calls = {c.method for c in standby_proxy.calls if "/leases/" in c.path}
        assert standby_lease_calls == {"GET"}  # never renewed or took it (a lost create race aside)

        # The leader stops cleanly: it releases the Lease, the standby leads at its next round.
        leader.send_signal(signal.SIGTERM)

        async def standby_leads() -> bool:
            return pid_of(await holder(client) or "_0_") == standby.pid

        took = await eventually(standby_leads, 20, "the standby to lead", tmp_path)
        # A Lease left held would keep the standby off for LEASE_DURATION s of its own clock.
        assert took < LEASE_DURATION - 0.5, "the standby waited the Lease out instead of taking it at once"
        assert await asyncio.wait_for(leader.wait(), 20) == 0
        await client.create(KSERVICES, ksvc("two"), NS)
        await eventually(lambda: reconciled(client, "two"), 20, "Service two reconciled", tmp_path)
        assert any("/services/two/status" in w for w in writes(standby_proxy))
        await no_duplicates(client, {"one", "two"})


async def test_a_killed_leader_is_replaced_within_the_lease_duration(
    apiserver: ThreadedApiServer, client: ApiClient, tmp_path: Path
) -> None:
    async with (
        operator(apiserver, tmp_path, "a", "--no-webhooks") as (proc_a, _),
        operator(apiserver, tmp_path, "b", "--no-webhooks") as (proc_b, _),
    ):

        async def elected() -> bool:
            return bool(await holder(client))

        await eventually(elected, 20, "a leader", tmp_path)
        leader, standby = (proc_a, proc_b) if pid_of(await holder(client)) == proc_a.pid else (proc_b, proc_a)
        leader.kill()  # no release: the standby must wait until the Lease expires on its clock
        await leader.wait()
        await client.create(KSERVICES, ksvc("three"), NS)
        took = await eventually(lambda: reconciled(client, "three"), 20, "Service three reconciled", tmp_path)
        assert took < LEASE_DURATION + 4
        assert pid_of(await holder(client)) == standby.pid
        await no_duplicates(client, {"three"})


async def test_a_standby_serves_admission_reconciles_nothing_and_exits_when_it_loses_the_lease(
    apiserver: ThreadedApiServer, client: ApiClient, tmp_path: Path
) -> None:
    # Someone else holds the Lease, renewed "now" with a long duration: this operator waits.
    await client.create(
        LEASES,
        {
            "metadata": {"name": LEASE_NAME, "namespace": SYSTEM},
            "spec": {"holderIdentity": "elsewhere", "leaseDurationSeconds": 3600, "leaseTransitions": 0},
        },
        SYSTEM,
    )
    webhook = ("--webhook-port", str(unused_port()))
    async with operator(apiserver, tmp_path, "a", *webhook) as (proc, proxy):

        async def admission_served() -> bool:
            if not await webhooks_configured(client):  # both: defaulting, then validation
                return False
            bad = ksvc("bad", traffic=[{"latestRevision": True, "percent": 90}])
            try:
                await client.create(KSERVICES, bad, NS)
            except ApiError as e:
                return e.status == 400 and "Traffic targets sum to 90" in str(e)
            await client.delete(KSERVICES, "bad", NS)  # not refused yet: webhooks not registered
            return False

        await eventually(admission_served, 20, "the standby's admission webhooks", tmp_path)
        await client.create(KSERVICES, ksvc("four"), NS)
        await asyncio.sleep(1.0)  # a leader would have created the Configuration by now
        assert await client.get_or_none(CONFIGURATIONS, "four", NS) is None
        reconciler_writes = [w for w in writes(proxy) if "admissionregistration" not in w]
        assert reconciler_writes == [], "a standby reconciled"

        # The holder releases: this operator takes over and reconciles what it saw meanwhile.
        await client.patch(
            LEASES, LEASE_NAME, {"spec": {"holderIdentity": "", "leaseDurationSeconds": 1}}, SYSTEM
        )
        await eventually(lambda: reconciled(client, "four"), 20, "Service four reconciled", tmp_path)
        assert pid_of(await holder(client)) == proc.pid

        # Another replica takes the Lease over (as after a partition): this one stops and exits 1.
        await client.patch(
            LEASES, LEASE_NAME, {"spec": {"holderIdentity": "usurper", "leaseDurationSeconds": 3600}}, SYSTEM
        )
        assert await asyncio.wait_for(proc.wait(), 20) == 1
        log = (tmp_path / "a.log").read_text()
        assert "lost the lease" in log
    assert await holder(client) == "usurper"  # it never released what it no longer held
    assert json.dumps(await client.get(LEASES, LEASE_NAME, SYSTEM))  # the Lease is still there


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.register(parser)
    return parser.parse_args(argv)


def service_account(tmp_path: Path, namespace: str) -> Path:
    directory = tmp_path / "serviceaccount"
    directory.mkdir()
    (directory / "token").write_text("t")
    (directory / "namespace").write_text(namespace)
    return directory


def test_leader_election_is_on_in_a_pod_in_its_namespace_and_off_with_a_kubeconfig(tmp_path: Path) -> None:
    sa = service_account(tmp_path, "ops")
    pod = {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}
    election = cli.leader_election(parse(), pod, sa)
    assert election is not None
    assert (election.namespace, election.name, election.timings.lease_duration) == ("ops", LEASE_NAME, 15.0)
    assert cli.leader_election(parse("--no-leader-elect"), pod, sa) is None
    assert cli.leader_election(parse("--kubeconfig", "k"), pod, sa) is None
    assert cli.leader_election(parse(), {**pod, "KUBECONFIG": "k"}, sa) is None
    assert cli.leader_election(parse(), {}, sa) is None  # not in a pod


def test_leader_election_namespace_name_and_timings_can_be_chosen(tmp_path: Path) -> None:
    sa = service_account(tmp_path, "ops")
    outside = cli.leader_election(
        parse("--kubeconfig", "k", "--leader-elect", "--system-namespace", "sys"), {}, sa
    )
    assert outside is not None and outside.namespace == "sys"  # no pod: the system namespace
    from_env = cli.leader_election(parse("--kubeconfig", "k", "--leader-elect"), {"POD_NAMESPACE": "env"}, sa)
    assert from_env is not None and from_env.namespace == "env"
    chosen = cli.leader_election(
        parse(
            "--leader-elect-resource-name=mine",
            "--leader-elect-resource-namespace=there",
            "--leader-elect-lease-duration=6",
            "--leader-elect-renew-deadline=4",
            "--leader-elect-retry-period=1",
        ),
        {"KUBERNETES_SERVICE_HOST": "10.0.0.1"},
        sa,
    )
    assert chosen is not None
    assert (chosen.namespace, chosen.name) == ("there", "mine")
    assert (chosen.timings.lease_duration, chosen.timings.renew_deadline, chosen.timings.retry_period) == (
        6,
        4,
        1,
    )
    with pytest.raises(ValueError):
        cli.leader_election(parse("--leader-elect", "--leader-elect-renew-deadline=20"), {}, sa)
