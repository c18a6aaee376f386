"""Waiting for a Service to become Ready for the generation the CLI just wrote, as kn does.

Ready=False is not final at once (a rollout passes through it); only if it stays False for
`error_window` seconds is it reported, with the condition's reason and message.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from localkube.client import ApiClient
from serving.api.meta import get_condition
from serving.cli.kn.session import REVISIONS, SERVICES, CliError, not_found

POLL_SECONDS = 0.2


@dataclass(frozen=True)
class Readiness:
    ready: bool
    failed: bool
    why: str


def readiness(ksvc: dict[str, Any], generation: int) -> Readiness:
    """Whether the Service is Ready (or failed) for `generation` or a later one."""
    status = ksvc.get("status") or {}
    observed = status.get("observedGeneration")
    if not isinstance(observed, int) or observed < generation:
        return Readiness(False, False, "waiting for the controller to see the change")
    cond = get_condition(status, "Ready")
    if cond is None or cond.is_unknown:
        why = f"{cond.reason}: {cond.message}" if cond is not None and cond.reason else "in progress"
        return Readiness(False, False, why.strip(": "))
    if cond.is_true:
        return Readiness(True, False, "")
    return Readiness(False, True, f"{cond.reason}: {cond.message}".strip(": "))


async def _revision_detail(client: ApiClient, ksvc: dict[str, Any], namespace: str) -> str:
    """Why the latest revision is not Ready (its container's exit, say), which the Service hides."""
    latest = (ksvc.get("status") or {}).get("latestCreatedRevisionName")
    if not latest:
        return ""
    revision = await client.get_or_none(REVISIONS, str(latest), namespace)
    cond = get_condition((revision or {}).get("status"), "Ready")
    if cond is None or cond.is_true or not (cond.reason or cond.message):
        return ""
    return f" (revision {latest}: {cond.reason}: {cond.message})".replace(": )", ")")


async def wait_ready(
    client: ApiClient,
    name: str,
    namespace: str,
    generation: int,
    *,
    within: float,
    error_window: float = 2.0,
) -> dict[str, Any]:
    """The Service once Ready; `CliError` when it fails or the timeout passes."""
    deadline = time.monotonic() + within
    false_since: float | None = None
    last = Readiness(False, False, "not seen yet")
    while True:
        ksvc = await client.get_or_none(SERVICES, name, namespace)
        if ksvc is None:
            raise not_found("service", name, namespace, "service")
        last = readiness(ksvc, generation)
        now = time.monotonic()
        if last.ready:
            return ksvc
        if last.failed:
            false_since = now if false_since is None else false_since
            if now - false_since >= error_window:
                detail = await _revision_detail(client, ksvc, namespace)
                raise CliError(
                    f'service "{name}" in namespace "{namespace}" is not Ready: {last.why}{detail}; '
                    f"see: kwake service describe {name} -n {namespace} (and kwake logs {name})"
                )
        else:
            false_since = None
        if now >= deadline:
            raise CliError(
                f'service "{name}" in namespace "{namespace}" was not Ready within {within:g}s '
                f"({last.why}); see: kwake service describe {name} -n {namespace}, "
                "or wait longer with --wait-timeout"
            )
        await asyncio.sleep(POLL_SECONDS)
