"""`kwake up` applies its manifests only once the operator's admission webhooks are both in place.

kopf fills the validating and the mutating configuration one after the other; a manifest
applied in between met validation without defaulting (refused: "Traffic targets sum to 0").
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from localkube.client import MUTATING_WEBHOOKS, VALIDATING_WEBHOOKS, ApiClient, load_connection
from localkube.server.runner import ThreadedApiServer
from serving.cli import up
from serving.cli.supervisor import Component
from serving.operator.handlers import WEBHOOK_CONFIG_NAME


def _config(hooks: int) -> dict[str, Any]:
    """A configuration named as the operator's, with `hooks` webhooks that match nothing here."""
    webhooks = [
        {
            "name": f"hook{i}.serving.kwake.dev",
            "clientConfig": {"url": "https://127.0.0.1:9/never"},
            "rules": [
                {
                    "apiGroups": ["example.invalid"],
                    "apiVersions": ["v1"],
                    "operations": ["CREATE"],
                    "resources": ["things"],
                }
            ],
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
        }
        for i in range(hooks)
    ]
    return {"metadata": {"name": WEBHOOK_CONFIG_NAME}, "webhooks": webhooks}


def _operator(tmp_path: Path) -> Component:
    return Component("operator", ["true"], tmp_path / "operator.log")


def test_the_configuration_name_is_the_operators() -> None:
    assert up.WEBHOOK_CONFIG_NAME == WEBHOOK_CONFIG_NAME


async def test_apply_waits_for_the_mutating_webhook_too(
    apiserver: ThreadedApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with ApiClient(load_connection(str(apiserver.kubeconfig))) as client:
        for resource in (MUTATING_WEBHOOKS, VALIDATING_WEBHOOKS):
            await client.create(resource, _config(0))  # as kopf creates them: empty
        waiting = asyncio.create_task(up._wait_webhooks(client, 20, _operator(tmp_path), up.Reporter("text")))
        await client.patch(VALIDATING_WEBHOOKS, WEBHOOK_CONFIG_NAME, {"webhooks": _config(1)["webhooks"]})
        await asyncio.sleep(0.5)
        assert not waiting.done(), "went on with the validating webhook alone"
        await client.patch(MUTATING_WEBHOOKS, WEBHOOK_CONFIG_NAME, {"webhooks": _config(1)["webhooks"]})
        await asyncio.wait_for(waiting, 5)
    assert capsys.readouterr().out == ""


async def test_without_webhooks_it_applies_anyway_after_its_bound(
    apiserver: ThreadedApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with ApiClient(load_connection(str(apiserver.kubeconfig))) as client:
        await up._wait_webhooks(client, 0.3, _operator(tmp_path), up.Reporter("text"))
    assert (
        capsys.readouterr().out == "kwake: operator: no admission webhooks after 0s; applying without them\n"
    )


async def test_an_operator_that_exited_is_reported_not_waited_for(
    apiserver: ThreadedApiServer, tmp_path: Path
) -> None:
    operator = _operator(tmp_path)
    operator.log_path.write_text("Traceback: the operator's last words\n")
    operator.process = await asyncio.create_subprocess_exec(sys.executable, "-c", "raise SystemExit(3)")
    await operator.process.wait()
    async with ApiClient(load_connection(str(apiserver.kubeconfig))) as client:
        with pytest.raises(RuntimeError, match="operator exited at start:\nTraceback: the operator's"):
            await up._wait_webhooks(client, 20, operator, up.Reporter("text"))
