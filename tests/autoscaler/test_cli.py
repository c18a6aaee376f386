"""`kwake autoscaler`: its arguments, the dry run without a cluster, and clean stops."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import unused_port

from autoscaler import cli
from serving.cli import main as kwake


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
