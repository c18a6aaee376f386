"""A kubelet that crashed leaves its pods running; the next one adopts them instead of killing.

`kwake kubelet` runs as a child process and is SIGKILLed (a crash, so its pods are orphaned,
still serving); a new kubelet on the same state dir takes over each pod still bound to its node
with the same process (same pid, same restartCount, still Ready) and kills the processes of a
pod deleted while no kubelet ran.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from localkube.client import MUTATING_WEBHOOKS, PODS, ApiClient, load_connection
from localkube.kubelet import process
from localkube.server.runner import ThreadedApiServer
from tests.localkube.test_kubelet_apiserver import (
    Running,
    app_pod,
    container_status,
    get_text,
    pids_of,
    ready,
    start_kubelet,
)


async def _crashed_kubelet_pods(client: ApiClient, apiserver: ThreadedApiServer, state_dir: Path) -> Running:
    """Run `kwake kubelet` until pods `kept` and `deleted` are Ready, then SIGKILL it."""
    argv = [sys.executable, "-m", "serving.cli.main", "kubelet", "--kubeconfig", str(apiserver.kubeconfig)]
    command = await asyncio.create_subprocess_exec(
        *argv, "--state-dir", str(state_dir), "--log-level", "WARNING"
    )
    state = Running(client, None, state_dir, set())
    try:
        async with asyncio.timeout(30):  # pods get their own ports once its webhook is registered
            while await client.get_or_none(MUTATING_WEBHOOKS, "localkube-kubelet") is None:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        await client.create(PODS, app_pod("kept"), "default")
        await client.create(PODS, app_pod("deleted"), "default")
        await state.until("kept", ready, seconds=30)
        await state.until("deleted", ready, seconds=30)
    finally:
        command.send_signal(signal.SIGKILL)
        await command.wait()
    return state


async def test_a_restarted_kubelet_adopts_running_pods_and_kills_deleted_ones(
    apiserver: ThreadedApiServer, tmp_path: Path
) -> None:
    state_dir = tmp_path / "kubelet"
    async with ApiClient(load_connection(apiserver.kubeconfig, environ={})) as client:
        state = await _crashed_kubelet_pods(client, apiserver, state_dir)
        kept = await client.get(PODS, "kept", "default")
        (kept_pid,) = pids_of(kept)
        (deleted_pid,) = pids_of(await client.get(PODS, "deleted", "default"))
        # Orphaned, not stopped: both still run with no kubelet.
        assert process.session_members(kept_pid) and process.session_members(deleted_pid)
        await client.delete(PODS, "deleted", "default", grace_period_seconds=0)

        _, stop, task = await start_kubelet(client, state_dir)
        try:
            async with asyncio.timeout(10):
                while process.session_members(deleted_pid):  # noqa: ASYNC110 - a process, no event
                    await asyncio.sleep(0.02)
            await asyncio.sleep(0.5)  # the new kubelet's status writes have landed by now
            pod = await state.until("kept", ready)
            assert pids_of(pod) == {kept_pid}
            assert container_status(pod)["restartCount"] == 0
            assert container_status(pod)["state"] == container_status(kept)["state"]
            port = pod["spec"]["containers"][0]["ports"][0]["containerPort"]
            assert await get_text(port) == f"kept {port}"
            # Every status the new kubelet wrote (none, if it matched the last one) said Ready
            # with the same process: the pod never left its Endpoints. Replayed from the change
            # log since before the crash, which also holds the deletion of the other pod.
            since = kept["metadata"]["resourceVersion"]
            events = [
                event
                async for event in client.watch(PODS, "default", resource_version=since, timeout_seconds=1)
            ]
            assert ("DELETED", "deleted") in [(e.type, e.object["metadata"]["name"]) for e in events]
            kept_writes = [e.object for e in events if e.object["metadata"]["name"] == "kept"]
            assert all(ready(body) and pids_of(body) == {kept_pid} for body in kept_writes), kept_writes
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
        # Stopping the kubelet stops the adopted process like any other.
        assert process.session_members(kept_pid) == []
        assert process.GroupRecords(state_dir / "pids").all() == []


async def test_an_adopted_process_that_dies_is_restarted_like_any_container(
    apiserver: ThreadedApiServer, tmp_path: Path
) -> None:
    """Not its child, yet the new kubelet notices the adopted process end (it watches /proc)
    and applies the restart policy: a new process, restartCount 1, Ready again."""
    state_dir = tmp_path / "kubelet"
    async with ApiClient(load_connection(apiserver.kubeconfig, environ={})) as client:
        state = await _crashed_kubelet_pods(client, apiserver, state_dir)
        (kept_pid,) = pids_of(await client.get(PODS, "kept", "default"))
        await client.delete(PODS, "deleted", "default", grace_period_seconds=0)
        _, stop, task = await start_kubelet(client, state_dir)
        try:
            await asyncio.sleep(0.5)  # adopted by now
            process.signal_group(kept_pid, signal.SIGKILL)
            pod = await state.until("kept", lambda p: ready(p) and pids_of(p) not in (set(), {kept_pid}))
            assert container_status(pod)["restartCount"] == 1
            assert container_status(pod)["lastState"]["terminated"]["containerID"] == f"process://{kept_pid}"
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
        assert [pid for pid in state.pids if process.session_members(pid)] == []
