"""`kwake autoscaler`: its arguments, the dry run without a cluster, and clean stops."""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import unused_port

from autoscaler import cli
from autoscaler.leader import LEASE_NAME
from localkube.client import LEASES, ApiClient, load_connection
from localkube.server.runner import ThreadedApiServer
from serving.cli import main as kwake
from tests.autoscaler.kube_harness import (
    CRD_FILE,
    NS,
    SYSTEM,
    condition,
    create_revision,
    eventually,
    pa_status,
    prepare_cluster,
    scale_of,
)
from tests.conftest import Kubectl


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.register(parser)
    return parser.parse_args(argv)


def test_kwake_lists_the_autoscaler_command() -> None:
    assert kwake.COMMANDS["autoscaler"][0] == "autoscaler.cli"


def test_an_unreadable_kubeconfig_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(parse(["--port", "0", "--kubeconfig", str(tmp_path / "missing")])) == 2
    assert "kwake autoscaler:" in capsys.readouterr().err


async def test_dry_run_serves_health_and_metrics_until_stopped() -> None:
    port = unused_port()
    stop = asyncio.Event()
    server = asyncio.create_task(
        cli.serve(parse(["--dry-run", "--port", str(port)]), stop), name="test-serve"
    )
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(200):
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                        assert response.status == 200
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.01)
            else:
                raise AssertionError("the autoscaler never listened")
            async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                assert "kwake_autoscaler_ticks_total" in await response.text()
            async with session.post(
                f"http://127.0.0.1:{port}/poke", json={"namespace": "a", "revision": "b"}
            ) as response:
                assert response.status == 202
    finally:
        stop.set()
        await asyncio.wait_for(server, timeout=10)


async def _wait_listening(session: aiohttp.ClientSession, port: int) -> None:
    for _ in range(500):
        try:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
                return
        except aiohttp.ClientConnectionError:
            await asyncio.sleep(0.01)
    raise AssertionError("the autoscaler never listened")


async def test_against_a_cluster_it_leads_scales_on_stats_and_releases_the_lease(
    apiserver: ThreadedApiServer,
) -> None:
    port = unused_port()
    stop = asyncio.Event()
    args = parse(["--kubeconfig", str(apiserver.kubeconfig), "--port", str(port)])
    async with ApiClient(load_connection(str(apiserver.kubeconfig)), keep_warm_seconds=None) as client:
        await prepare_cluster(client)
        server = asyncio.create_task(cli.serve(args, stop), name="test-serve")
        try:
            async with aiohttp.ClientSession() as session:
                await _wait_listening(session, port)

                async def leading() -> bool:
                    lease = await client.get_or_none(LEASES, LEASE_NAME, SYSTEM)
                    return lease is not None and bool(lease["spec"].get("holderIdentity"))

                await eventually(leading)
                await create_revision(client, "web-00001", replicas=0)
                await eventually(lambda: _knows(client, "web-00001"))
                # Traffic for a revision with no pods is decided on receipt, not at the next tick.
                body = {
                    "gateway": "gw",
                    "timestamp": 0.0,
                    "stats": [{"namespace": NS, "revision": "web-00001", "concurrency": 3.0, "requests": 3}],
                }
                async with session.post(f"http://127.0.0.1:{port}/stats", json=body) as response:
                    assert response.status == 204
                assert await scale_of(client, "web-00001") >= 1
                status = await pa_status(client, "web-00001")
                assert condition(status, "Active")["reason"] == "Queued"
        finally:
            stop.set()
            await asyncio.wait_for(server, timeout=10)
        lease = await client.get(LEASES, LEASE_NAME, SYSTEM)
        assert lease["spec"]["holderIdentity"] == ""  # released on stop


async def _knows(client: ApiClient, revision: str) -> bool:
    """The autoscaler has taken the PodAutoscaler up: it wrote a status."""
    return bool(await pa_status(client, revision))


def _metric(port: int, name: str) -> str | None:
    """The value of an unlabelled metric, or None while nothing listens."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(name + " "):
            return str(line.split()[1])
    return None


def test_sigterm_stops_the_command_cleanly(apiserver: ThreadedApiServer, kubectl: Kubectl) -> None:
    namespace = f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {SYSTEM}\n"
    kubectl.run("apply", "-f", "-", "-f", str(CRD_FILE), input=namespace)
    port = unused_port()
    argv = [sys.executable, "-m", "serving.cli.main", "autoscaler", "--port", str(port)]
    argv += ["--kubeconfig", str(apiserver.kubeconfig)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            deadline = time.monotonic() + 30
            while _metric(port, "kwake_autoscaler_leader") != "1.0":
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError("the autoscaler never took the lease")
                time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "Unclosed" not in err, err
    assert "acquired the lease" in err and "stopped; releasing the lease" in err
    holder = kubectl.run("get", "lease", LEASE_NAME, "-n", SYSTEM, "-o", "jsonpath={.spec.holderIdentity}")
    assert holder.stdout.strip() == ""  # released, so a standby takes over at its next round


async def _metrics(session: aiohttp.ClientSession, port: int) -> dict[str, float]:
    async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
        text = await response.text()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, value = line.split()
            values[name] = float(value)
    return values


async def test_two_replicas_one_writes_the_standby_forwards_and_takes_over(
    apiserver: ThreadedApiServer,
) -> None:
    ports = [unused_port(), unused_port()]
    stops = [asyncio.Event(), asyncio.Event()]
    async with ApiClient(load_connection(str(apiserver.kubeconfig)), keep_warm_seconds=None) as client:
        await prepare_cluster(client)
        await create_revision(client, "web-00001", replicas=0)
        servers = [
            asyncio.create_task(
                cli.serve(parse(["--kubeconfig", str(apiserver.kubeconfig), "--port", str(port)]), stop),
                name=f"test-serve-{port}",
            )
            for port, stop in zip(ports, stops, strict=True)
        ]
        try:
            async with aiohttp.ClientSession() as session:
                for port in ports:
                    await _wait_listening(session, port)
                leaders: list[int] = []

                async def one_leads() -> bool:
                    leaders[:] = [
                        i
                        for i, port in enumerate(ports)
                        if (await _metrics(session, port))["kwake_autoscaler_leader"]
                    ]
                    return len(leaders) == 1

                await eventually(one_leads)
                leader, standby = leaders[0], 1 - leaders[0]
                await eventually(lambda: _knows(client, "web-00001"))
                # A gateway's stats reach the standby: it forwards them, the leader scales at once.
                body = {
                    "gateway": "gw",
                    "timestamp": 0.0,
                    "stats": [{"namespace": NS, "revision": "web-00001", "concurrency": 3.0, "requests": 3}],
                }
                async with session.post(f"http://127.0.0.1:{ports[standby]}/stats", json=body) as response:
                    assert response.status == 204
                await eventually(lambda: _scaled(client))
                standby_metrics = await _metrics(session, ports[standby])
                assert standby_metrics["kwake_autoscaler_forwarded_total"] == 1
                assert standby_metrics["kwake_autoscaler_scale_writes_total"] == 0
                assert standby_metrics["kwake_autoscaler_status_writes_total"] == 0
                assert (await _metrics(session, ports[leader]))["kwake_autoscaler_scale_writes_total"] >= 1
                # The leader stops and releases the Lease: the standby leads at its next round.
                stops[leader].set()
                await asyncio.wait_for(servers[leader], timeout=10)

                async def standby_leads() -> bool:
                    return (await _metrics(session, ports[standby]))["kwake_autoscaler_leader"] == 1

                await eventually(standby_leads, within=5)
        finally:
            for stop in stops:
                stop.set()
            await asyncio.wait_for(asyncio.gather(*servers), timeout=10)


async def _scaled(client: ApiClient) -> bool:
    return await scale_of(client, "web-00001") >= 1
