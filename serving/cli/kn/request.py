"""`kwake request SERVICE [PATH]`: one request through the gateway, as a client would send it.

The Host header is the Service's URL host, so the gateway routes it as it routes real traffic.
The gateway names the revision that served a request only in its access log (one JSON line per
request, with our `X-Request-Id`), not in the response, so the revision is found there: in
`--access-log`, else in the log of the `kwake up` whose kubeconfig is used, else in the default
state dir's. Without an access log, a Service whose traffic all goes to one revision still
names it; otherwise the revision is reported unknown.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from localkube.client import ApiClient, NotFound
from serving.cli.kn.session import SERVICES, CliError, add_connection_flags, not_found, run_command
from serving.cli.up import default_state_dir

REVISION_HEADER = "Knative-Serving-Revision"  # not sent by kwake's gateway today; read if it ever is
ACCESS_LOG_TAIL_BYTES = 1 << 20
ACCESS_LOG_WAIT_SECONDS = 1.0  # the gateway writes its access log in batches every 50 ms


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("service")
    parser.add_argument("path", nargs="?", default="/", help="path and query (default /)")
    parser.add_argument("--gateway", default="http://127.0.0.1:8080", help="the gateway's base URL")
    parser.add_argument("-X", "--method", default="GET")
    parser.add_argument("-d", "--data", help="request body")
    parser.add_argument("-H", "--header", dest="headers", action="append", default=[], help="NAME: VALUE")
    parser.add_argument("--tag", help="send to the tag's own URL (TAG-SERVICE...) instead")
    parser.add_argument("--access-log", type=Path, help="the gateway's access log (to name the revision)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the answer")
    parser.add_argument("-q", "--quiet", action="store_true", help="do not print the response body")
    add_connection_flags(parser)


@dataclass(frozen=True)
class Served:
    revision: str | None
    pod: str | None
    how: str  # where the revision's name came from


def find_in_access_log(lines: Iterable[str], request_id: str) -> Served | None:
    """The revision and pod the access log records for `request_id`."""
    for line in lines:
        if request_id not in line:
            continue
        try:
            entry: dict[str, Any] = json.loads(line)
        except ValueError:
            continue
        if entry.get("request_id") == request_id:
            pod = entry.get("pod")
            return Served(entry.get("revision"), str(pod) if pod else None, "the gateway's access log")
    return None


def _tail(path: Path) -> list[str]:
    with path.open("rb") as stream:
        size = stream.seek(0, os.SEEK_END)
        stream.seek(max(0, size - ACCESS_LOG_TAIL_BYTES))
        return stream.read().decode(errors="replace").splitlines()


def access_log_candidates(explicit: Path | None, kubeconfig: str | None) -> list[Path]:
    if explicit is not None:
        return [explicit]
    out: list[Path] = []
    for config in [kubeconfig, *os.environ.get("KUBECONFIG", "").split(os.pathsep)]:
        if config:
            # `kwake up` writes STATE/cluster/kubeconfig and STATE/logs/access.log.
            out.append(Path(config).resolve().parent.parent / "logs" / "access.log")
    out.append(default_state_dir() / "logs" / "access.log")
    return out


async def revision_from_logs(paths: list[Path], request_id: str, within: float) -> Served | None:
    existing = [p for p in paths if p.is_file()]
    if not existing:
        return None
    deadline = time.monotonic() + within
    while True:
        for path in existing:
            found = find_in_access_log(await asyncio.to_thread(_tail, path), request_id)
            if found is not None:
                return found
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(0.05)


def sole_revision(ksvc: dict[str, Any]) -> str | None:
    """The revision that takes all of the Service's traffic, if one does."""
    traffic = (ksvc.get("status") or {}).get("traffic") or []
    full = [t for t in traffic if int(t.get("percent") or 0) == 100 and t.get("revisionName")]
    return str(full[0]["revisionName"]) if full else None


def _host(ksvc: dict[str, Any], tag: str | None) -> str:
    status = ksvc.get("status") or {}
    url = str(status.get("url") or "")
    if tag:
        tagged = [t for t in status.get("traffic") or [] if t.get("tag") == tag and t.get("url")]
        if not tagged:
            name = (ksvc.get("metadata") or {}).get("name")
            raise CliError(
                f'service "{name}" has no tag "{tag}"; see its tags with: kwake service describe {name}'
            )
        url = str(tagged[0]["url"])
    return urlsplit(url).netloc


def run(args: argparse.Namespace) -> int:
    path = args.path if args.path.startswith("/") else "/" + args.path
    headers: dict[str, str] = {}
    for raw in args.headers:
        name, sep, value = raw.partition(":")
        if not sep or not name.strip():
            print(f"Error: --header {raw!r}: expected NAME: VALUE")
            return 1
        headers[name.strip()] = value.strip()

    async def body(client: ApiClient, namespace: str) -> int:
        try:
            ksvc = await client.get(SERVICES, args.service, namespace)
        except NotFound:
            raise not_found("service", args.service, namespace, "service") from None
        host = _host(ksvc, args.tag)
        if not host:
            raise CliError(
                f'service "{args.service}" has no URL yet (not Ready?); '
                f"see: kwake service describe {args.service} -n {namespace}"
            )
        request_id = f"kwake-{uuid.uuid4().hex}"
        sent = {**headers, "Host": host, "X-Request-Id": request_id}
        started = time.monotonic()
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.request(
                    args.method,
                    args.gateway.rstrip("/") + path,
                    headers=sent,
                    data=args.data.encode() if args.data is not None else None,
                    timeout=aiohttp.ClientTimeout(total=args.timeout),
                    allow_redirects=False,
                ) as response,
            ):
                payload = await response.read()
                elapsed = time.monotonic() - started
                named = response.headers.get(REVISION_HEADER)
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise CliError(
                f"cannot reach the gateway at {args.gateway} ({type(exc).__name__}: {exc}); "
                "is kwake up running? choose another with --gateway"
            ) from exc
        served = Served(named, None, f"the {REVISION_HEADER} header") if named else None
        if served is None:
            candidates = access_log_candidates(args.access_log, args.kubeconfig)
            served = await revision_from_logs(candidates, request_id, ACCESS_LOG_WAIT_SECONDS)
        if served is None and (only := sole_revision(ksvc)) is not None:
            served = Served(only, None, "all traffic goes to it")
        print(
            f"{response.status} {response.reason} in {elapsed * 1000:.1f} ms"
            f" (Host: {host}, {args.method} {path})"
        )
        if served is not None and served.revision:
            pod = f", pod at {served.pod}" if served.pod else ""
            print(f"revision: {served.revision}{pod} (from {served.how})")
        else:
            print("revision: unknown (the gateway's response names none; pass its --access-log to find it)")
        if not args.quiet and payload:
            print(payload.decode(errors="replace").rstrip("\n"))
        return 0

    return run_command(args, body)
