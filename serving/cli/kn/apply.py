"""`kwake apply -f FILE_OR_DIR`: server-side apply of manifests, as `kubectl apply --server-side`.

Each object is applied whole or not at all; one that fails is reported with its file and name,
and the rest are still applied (exit code 1 when any failed). `--wait` then waits for the
applied Knative Services to be Ready.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from localkube.client import ApiClient
from serving.api import keys
from serving.cli.kn.session import SERVICES, CliError, add_connection_flags, run_command
from serving.cli.kn.wait import wait_ready
from serving.cli.manifests import Manifest, ManifestError, ResourceMap, apply, load_manifests


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f",
        "--filename",
        dest="files",
        action="append",
        type=Path,
        required=True,
        help="manifest file or folder (repeatable; folders are read recursively)",
    )
    parser.add_argument("--wait", action="store_true", help="wait for the applied Services to be Ready")
    parser.add_argument("--wait-timeout", type=float, default=300.0, help="seconds to wait for Ready")
    add_connection_flags(parser)


def _is_ksvc(manifest: Manifest) -> bool:
    return manifest.kind == keys.SERVICE and str(manifest.body.get("apiVersion", "")).startswith(
        keys.SERVING_GROUP + "/"
    )


def run(args: argparse.Namespace) -> int:
    try:
        manifests = load_manifests(args.files)
    except ManifestError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    if not manifests:
        print(f"Error: no objects found in {', '.join(map(str, args.files))}", file=sys.stderr)
        return 1

    async def body(client: ApiClient, namespace: str) -> int:
        resources = ResourceMap(client)
        failed = 0
        services: list[tuple[str, str]] = []
        for manifest in manifests:
            try:
                outcome = await apply(client, resources, manifest, namespace=namespace)
            except ManifestError as exc:
                failed += 1
                message = str(exc)
                if not message.startswith(manifest.source):
                    message = f"{manifest.source}: {manifest.kind} {manifest.name!r}: {message}"
                print(f"Error: {message}", file=sys.stderr)
                continue
            group = str(manifest.body["apiVersion"]).rpartition("/")[0]
            kind = manifest.kind.lower() + (f".{group}" if group else "")
            print(f"{kind}/{manifest.name} {outcome}")
            if _is_ksvc(manifest):
                services.append((manifest.namespace or namespace, manifest.name))
        if args.wait:
            for ns, name in services:
                ksvc = await client.get(SERVICES, name, ns)
                generation = int((ksvc.get("metadata") or {}).get("generation") or 1)
                ready = await wait_ready(client, name, ns, generation, within=args.wait_timeout)
                print(f"service/{name} is Ready at {(ready.get('status') or {}).get('url', '')}")
        if failed:
            raise CliError(f"{failed} of {len(manifests)} objects were not applied (see above)")
        return 0

    return run_command(args, body)
