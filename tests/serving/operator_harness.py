"""Runs the real operator (kopf included) against a localkube API server inside a test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import yaml

from localkube.client import (
    CRDS,
    MUTATING_WEBHOOKS,
    VALIDATING_WEBHOOKS,
    ApiClient,
    NotFound,
    load_connection,
)
from serving.operator.handlers import WEBHOOK_CONFIG_NAME
from serving.operator.resources import INGRESSES
from serving.operator.runner import WebhookOptions, run_operator

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


async def install_crds(client: ApiClient) -> None:
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        await client.create(CRDS, yaml.safe_load(path.read_text()))


async def eventually(probe: Callable[[], Awaitable[T | None]], within: float = 20.0, what: str = "") -> T:
    """Poll `probe` until it returns something truthy; bounded by `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last: T | None = None
    while loop.time() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or probe}; last saw {last!r}")


async def webhooks_configured(client: ApiClient) -> bool:
    """kopf creates its webhook configurations empty and fills them in a moment later."""
    for resource in (MUTATING_WEBHOOKS, VALIDATING_WEBHOOKS):
        config = await client.get_or_none(resource, WEBHOOK_CONFIG_NAME)
        if not (config or {}).get("webhooks"):
            return False
    return True


@contextlib.asynccontextmanager
async def running_operator(
    kubeconfig: Path, *, webhooks: bool = True, install: bool = True, webhook: WebhookOptions | None = None
) -> AsyncIterator[ApiClient]:
    """An API client with the CRDs installed and the operator running until the block ends."""
    async with ApiClient(load_connection(str(kubeconfig))) as client:
        if install:
            await install_crds(client)
        stop, ready = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(
            run_operator(
                kubeconfig,
                webhook=(webhook or WebhookOptions()) if webhooks else None,
                stop_flag=stop,
                ready_flag=ready,
            ),
            name="operator-under-test",
        )
        try:
            await asyncio.wait_for(ready.wait(), 30)
            if webhooks:
                await eventually(lambda: webhooks_configured(client), what="the admission webhooks")
            yield client
        finally:
            stop.set()
            try:
                await asyncio.wait_for(task, 30)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def serve_ingresses(client: ApiClient, stop: asyncio.Event) -> None:
    """Stand in for the gateway: mark each KIngress Ready for its current generation."""
    while not stop.is_set():
        for ing in (await client.list(INGRESSES))["items"]:
            meta = ing["metadata"]
            if (ing.get("status") or {}).get("observedGeneration") == meta.get("generation"):
                continue
            status = {
                "observedGeneration": meta.get("generation"),
                "conditions": [
                    {"type": t, "status": "True"} for t in ("LoadBalancerReady", "NetworkConfigured", "Ready")
                ],
            }
            with contextlib.suppress(NotFound):
                await client.patch(
                    INGRESSES, meta["name"], {"status": status}, meta["namespace"], subresource="status"
                )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.05)
