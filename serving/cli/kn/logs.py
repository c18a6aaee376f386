"""`kwake logs SERVICE [--revision R] [-f]`: the app's output, from its pods' `log` subresource.

The pods are found by the labels every Revision's pods carry (`serving.knative.dev/service` and
`serving.knative.dev/revision`); the revision is the Service's latest ready one unless named.
With several pods each line is prefixed with its pod, as `kubectl logs --prefix` does. The log
is plain text, not JSON, so it is read with a small streaming GET of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from localkube.client import PODS, ApiClient, ApiError, Connection, NotFound
from localkube.client.errors import error_from_response
from serving.api import keys
from serving.cli.kn.session import SERVICES, CliError, add_connection_flags, meta, not_found, run_command


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("service")
    parser.add_argument("-r", "--revision", help="a revision of the Service (default: its latest ready)")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    parser.add_argument("--tail", type=int, help="only the last N lines of each pod")
    add_connection_flags(parser)


def _headers(connection: Connection) -> dict[str, str]:
    headers = dict(connection.headers)
    if connection.token_path is not None:
        headers["Authorization"] = f"Bearer {connection.token_path.read_text().strip()}"
    return headers


async def stream_log(
    session: aiohttp.ClientSession, connection: Connection, pod: dict[str, Any], params: dict[str, str]
) -> AsyncIterator[bytes]:
    """The pod's log, chunk by chunk (an async iterator of bytes)."""
    md = meta(pod)
    path = PODS.path(str(md["namespace"]), str(md["name"]), "log")
    containers = [str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or []]
    query = dict(params)
    if len(containers) > 1:
        query["container"] = (
            keys.DEFAULT_USER_CONTAINER_NAME
            if keys.DEFAULT_USER_CONTAINER_NAME in containers
            else containers[0]
        )
    response = await session.get(
        connection.server + path,
        params=query,
        headers=_headers(connection),
        ssl=connection.ssl if connection.ssl is not None else True,
        server_hostname=connection.tls_server_name,
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=30),
    )
    async with response:
        if response.status >= 400:
            raise error_from_response(response.status, await response.text())
        async for chunk in response.content.iter_any():
            yield chunk


async def _print_pod(
    session: aiohttp.ClientSession,
    connection: Connection,
    pod: dict[str, Any],
    params: dict[str, str],
    prefix: bool,
) -> None:
    label = f"[{meta(pod).get('name')}] "
    pending = b""
    async for chunk in stream_log(session, connection, pod, params):
        if not prefix:
            sys.stdout.write(chunk.decode(errors="replace"))
            sys.stdout.flush()
            continue
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            print(label + line.decode(errors="replace"), flush=True)
    if pending:
        print((label if prefix else "") + pending.decode(errors="replace"), flush=True)


async def revision_of(client: ApiClient, service: str, namespace: str, revision: str | None) -> str:
    try:
        ksvc = await client.get(SERVICES, service, namespace)
    except NotFound:
        raise not_found("service", service, namespace, "service") from None
    if revision:
        return revision
    status = ksvc.get("status") or {}
    name = status.get("latestReadyRevisionName") or status.get("latestCreatedRevisionName")
    if not name:
        raise CliError(
            f'service "{service}" in namespace "{namespace}" has no revision yet; '
            f"see: kwake service describe {service} -n {namespace}"
        )
    return str(name)


def run(args: argparse.Namespace) -> int:
    async def body(client: ApiClient, namespace: str) -> int:
        revision = await revision_of(client, args.service, namespace, args.revision)
        selector = f"{keys.SERVICE_LABEL}={args.service},{keys.REVISION_LABEL}={revision}"
        pods = (await client.list(PODS, namespace, label_selector=selector))["items"]
        pods = [p for p in pods if (p.get("spec") or {}).get("nodeName")]
        if not pods:
            print(
                f'no pods of revision "{revision}" are running (scaled to zero?); '
                f"wake it with: kwake request {args.service} -n {namespace}",
                file=sys.stderr,
            )
            return 0
        params: dict[str, str] = {}
        if args.follow:
            params["follow"] = "true"
        if args.tail is not None:
            params["tailLines"] = str(args.tail)
        prefix = len(pods) > 1
        async with aiohttp.ClientSession() as session:
            try:
                if args.follow:
                    async with asyncio.TaskGroup() as group:
                        for pod in pods:
                            group.create_task(_print_pod(session, client.connection, pod, params, prefix))
                else:
                    for pod in pods:
                        await _print_pod(session, client.connection, pod, params, prefix)
            except* ApiError as group_error:
                first = group_error.exceptions[0]
                raise CliError(f"cannot read the logs: {first}") from None
        return 0

    return run_command(args, body)
