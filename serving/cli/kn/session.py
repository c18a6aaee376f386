"""What every kn-style command shares: the connection flags, the resources, running, and errors.

A command's coroutine gets an open `ApiClient` and the namespace; it raises `CliError` with a
message that names the object and what to do. `run_command` turns that (and API, connection
and kubeconfig failures) into one line on stderr and exit code 1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from localkube.client import ApiClient, ApiError, ConfigError, NotFound, Resource, load_connection
from serving.api import keys
from serving.cli.kn import output

SERVICES = Resource.custom(keys.SERVING_GROUP, keys.SERVING_VERSION, "services", keys.SERVICE)
REVISIONS = Resource.custom(keys.SERVING_GROUP, keys.SERVING_VERSION, "revisions", keys.REVISION)
ROUTES = Resource.custom(keys.SERVING_GROUP, keys.SERVING_VERSION, "routes", keys.ROUTE)
CONFIGURATIONS = Resource.custom(
    keys.SERVING_GROUP, keys.SERVING_VERSION, "configurations", keys.CONFIGURATION
)


class CliError(Exception):
    """A failure to report as is: the message names the object and what to do."""


def add_connection_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)")
    parser.add_argument("--context", help="kubeconfig context (default: its current-context)")
    parser.add_argument("-n", "--namespace", help="namespace (default: the context's, else default)")


def add_output_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o", "--output", choices=("yaml", "json"), help="print the objects as yaml or json, not a table"
    )


def not_found(kind: str, name: str, namespace: str, noun: str) -> CliError:
    return CliError(
        f'{kind} "{name}" not found in namespace "{namespace}"; '
        f"list them with: kwake {noun} list -n {namespace}"
    )


def api_message(exc: ApiError) -> str:
    if exc.status == 404 and "the server could not find the requested resource" in exc.message.lower():
        return "the server does not serve Knative Serving (are kwake's CRDs installed? try: kwake up)"
    return exc.message or str(exc)


Body = Callable[[ApiClient, str], Awaitable[int]]


async def _connected(args: argparse.Namespace, body: Body) -> int:
    try:
        connection = load_connection(args.kubeconfig, args.context)
    except ConfigError as exc:
        raise CliError(
            f"cannot find the cluster: {exc}; pass --kubeconfig or start one with: kwake up"
        ) from exc
    async with ApiClient(connection, keep_warm_seconds=None, user_agent="kwake-cli") as client:
        namespace = args.namespace or client.default_namespace
        try:
            return await body(client, namespace)
        except aiohttp.ClientConnectionError as exc:
            raise CliError(
                f"cannot reach the API server at {connection.server}: {exc}; is it running (kwake up)?"
            ) from exc


def run_command(args: argparse.Namespace, body: Body) -> int:
    """Run `body(client, namespace)` to completion; errors are one line on stderr and exit 1."""
    try:
        return asyncio.run(_connected(args, body))
    except CliError as exc:
        print(f"Error: {exc}", file=sys.stderr)
    except ApiError as exc:
        print(f"Error: {api_message(exc)}", file=sys.stderr)
    except (TimeoutError, OSError, aiohttp.ClientError) as exc:
        print(f"Error: {type(exc).__name__}: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    return 1


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def describe_one(
    args: argparse.Namespace, resource: Resource, noun: str, text: Callable[[dict[str, Any], float], str]
) -> int:
    """`kwake NOUN describe NAME`: the object as text, or as yaml/json with `-o`."""

    async def body(client: ApiClient, namespace: str) -> int:
        try:
            obj = await client.get(resource, args.name, namespace)
        except NotFound:
            raise not_found(noun, args.name, namespace, noun) from None
        print(output.dump(obj, args.output) if args.output else text(obj, time.time()))
        return 0

    return run_command(args, body)


def delete_named(args: argparse.Namespace, resource: Resource, noun: str) -> int:
    """`kwake NOUN delete NAME...`: each deleted in turn; the ones not found named in one error."""

    async def body(client: ApiClient, namespace: str) -> int:
        missing = []
        for name in args.names:
            try:
                await client.delete(resource, name, namespace)
            except NotFound:
                missing.append(name)
                continue
            print(f"{noun.capitalize()} '{name}' deleted in namespace '{namespace}'.")
        if missing:
            raise not_found(noun, ", ".join(missing), namespace, noun)
        return 0

    return run_command(args, body)
