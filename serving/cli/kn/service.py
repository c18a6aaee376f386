"""`kwake service create|update|list|describe|delete`: Knative Services, the kn way."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from localkube.client import AlreadyExists, ApiClient, ApiError, Conflict, NotFound
from serving.cli.kn import build, output
from serving.cli.kn import flags as service_flags
from serving.cli.kn.flags import FlagError
from serving.cli.kn.session import (
    REVISIONS,
    SERVICES,
    CliError,
    add_connection_flags,
    add_output_flag,
    delete_named,
    meta,
    not_found,
    run_command,
)
from serving.cli.kn.wait import wait_ready

DEFAULT_WAIT_SECONDS = 300.0
UPDATE_ATTEMPTS = 5


def register(parser: argparse.ArgumentParser) -> None:
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    parser.set_defaults(handler=None, print_help=parser.print_help)

    create = verbs.add_parser("create", help="create a Service from flags")
    create.add_argument("name")
    service_flags.register(create, update=False)
    _wait_flags(create)
    create.add_argument("--dry-run", action="store_true", help="print the Service as yaml, send nothing")
    create.add_argument("--force", action="store_true", help="replace the Service if it exists")
    create.set_defaults(handler=_create)

    update = verbs.add_parser("update", help="change a Service: a new revision, or its traffic")
    update.add_argument("name")
    service_flags.register(update, update=True)
    _wait_flags(update)
    update.set_defaults(handler=_update)

    listing = verbs.add_parser("list", aliases=["ls"], help="list Services")
    listing.add_argument("-A", "--all-namespaces", action="store_true")
    add_output_flag(listing)
    listing.set_defaults(handler=_list)

    describe = verbs.add_parser("describe", help="show a Service: URL, traffic, revisions, conditions")
    describe.add_argument("name")
    add_output_flag(describe)
    describe.set_defaults(handler=_describe)

    delete = verbs.add_parser("delete", help="delete Services (their revisions and routes go with them)")
    delete.add_argument("names", nargs="+", metavar="NAME")
    delete.set_defaults(handler=_delete)

    for sub in (create, update, listing, describe, delete):
        add_connection_flags(sub)


def _wait_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="wait until the Service is Ready (default: wait)",
    )
    parser.add_argument(
        "--wait-timeout", type=float, default=DEFAULT_WAIT_SECONDS, help="seconds to wait for Ready"
    )


def run(args: argparse.Namespace) -> int:
    if args.handler is None:
        args.print_help()
        return 2
    try:
        return int(args.handler(args))
    except FlagError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1


# --- create / update ------------------------------------------------------------------------------


def _create(args: argparse.Namespace) -> int:
    flags = service_flags.from_args(args)
    if args.dry_run:
        manifest = build.service_from_flags(args.name, args.namespace or "default", flags)
        print(output.dump(manifest, "yaml"))
        return 0

    async def body(client: ApiClient, namespace: str) -> int:
        ksvc = build.service_from_flags(args.name, namespace, flags)
        try:
            created = await client.create(SERVICES, ksvc, namespace)
        except AlreadyExists:
            if args.force:
                return await _replace(client, args, namespace, ksvc)
            raise CliError(
                f'service "{args.name}" already exists in namespace "{namespace}"; '
                f"change it with: kwake service update {args.name} -n {namespace}"
            ) from None
        except ApiError as exc:
            raise _refused(args.name, namespace, exc) from None
        print(f"Service '{args.name}' created in namespace '{namespace}'.")
        return await _after_write(client, args, namespace, created)

    return run_command(args, body)


def _update(args: argparse.Namespace) -> int:
    flags = service_flags.from_args(args)
    if not flags.changes_template and not flags.changes_traffic:
        raise FlagError("nothing to change: give flags such as --image, --env, --traffic or --tag")

    async def body(client: ApiClient, namespace: str) -> int:
        for attempt in range(UPDATE_ATTEMPTS):
            try:
                existing = await client.get(SERVICES, args.name, namespace)
            except NotFound:
                raise not_found("service", args.name, namespace, "service") from None
            try:
                updated = await client.replace(SERVICES, build.update_service(existing, flags), namespace)
                break
            except Conflict:
                if attempt == UPDATE_ATTEMPTS - 1:
                    raise CliError(
                        f'service "{args.name}" kept changing under us ({UPDATE_ATTEMPTS} tries); try again'
                    ) from None
            except ApiError as exc:
                raise _refused(args.name, namespace, exc) from None
        if meta(updated).get("generation") == meta(existing).get("generation"):
            print(f"Service '{args.name}' in namespace '{namespace}' is unchanged.")
        else:
            print(f"Service '{args.name}' updated in namespace '{namespace}'.")
        return await _after_write(client, args, namespace, updated)

    return run_command(args, body)


async def _replace(client: ApiClient, args: argparse.Namespace, namespace: str, ksvc: dict[str, Any]) -> int:
    """`create --force` on an existing Service: its spec becomes exactly the flags' (a new revision)."""
    for _ in range(UPDATE_ATTEMPTS):
        existing = await client.get(SERVICES, args.name, namespace)
        ksvc["metadata"]["resourceVersion"] = meta(existing).get("resourceVersion")
        try:
            replaced = await client.replace(SERVICES, ksvc, namespace)
        except Conflict:
            continue
        except ApiError as exc:
            raise _refused(args.name, namespace, exc) from None
        print(f"Service '{args.name}' replaced in namespace '{namespace}'.")
        return await _after_write(client, args, namespace, replaced)
    raise CliError(f'service "{args.name}" kept changing under us ({UPDATE_ATTEMPTS} tries); try again')


def _refused(name: str, namespace: str, exc: ApiError) -> CliError:
    return CliError(f'service "{name}" in namespace "{namespace}" was refused: {exc.message or exc}')


async def _after_write(
    client: ApiClient, args: argparse.Namespace, namespace: str, obj: dict[str, Any]
) -> int:
    if not args.wait:
        return 0
    started = time.monotonic()
    print("Waiting for it to become Ready...", flush=True)
    generation = int(meta(obj).get("generation") or 1)
    ready = await wait_ready(client, args.name, namespace, generation, within=args.wait_timeout)
    status = ready.get("status") or {}
    print(
        f"Service '{args.name}' is Ready with latest revision '{status.get('latestReadyRevisionName', '')}' "
        f"({time.monotonic() - started:.1f}s), at URL:\n{status.get('url', '')}"
    )
    return 0


# --- list / describe / delete ---------------------------------------------------------------------


def service_rows(items: list[dict[str, Any]], now: float, *, with_namespace: bool) -> list[list[str]]:
    rows = []
    for ksvc in items:
        status = ksvc.get("status") or {}
        ready, reason = output.ready_cells(ksvc)
        row = [
            str(meta(ksvc).get("name", "")),
            str(status.get("url", "")),
            str(status.get("latestCreatedRevisionName") or status.get("latestReadyRevisionName") or ""),
            output.age(output.created(ksvc), now),
            output.conditions_cell(ksvc),
            ready,
            reason,
        ]
        rows.append([str(meta(ksvc).get("namespace", "")), *row] if with_namespace else row)
    return rows


SERVICE_HEADERS = ("NAME", "URL", "LATEST", "AGE", "CONDITIONS", "READY", "REASON")


def _list(args: argparse.Namespace) -> int:
    async def body(client: ApiClient, namespace: str) -> int:
        ns = None if args.all_namespaces else namespace
        items = (await client.list(SERVICES, ns))["items"]
        items.sort(key=lambda o: (meta(o).get("namespace", ""), meta(o).get("name", "")))
        if args.output:
            print(output.dump(output.as_list(SERVICES.api_version, SERVICES.kind, items), args.output))
            return 0
        if not items:
            where = "any namespace" if ns is None else f'namespace "{ns}"'
            print(f"No services found in {where}; create one with: kwake service create NAME --cmd ...")
            return 0
        headers = ("NAMESPACE", *SERVICE_HEADERS) if ns is None else SERVICE_HEADERS
        print(output.table(headers, service_rows(items, time.time(), with_namespace=ns is None)))
        return 0

    return run_command(args, body)


def describe_text(ksvc: dict[str, Any], revisions: dict[str, dict[str, Any]], now: float) -> str:
    md = meta(ksvc)
    status = ksvc.get("status") or {}
    lines = [
        f"Name:         {md.get('name', '')}",
        f"Namespace:    {md.get('namespace', '')}",
    ]
    annotations = {k: v for k, v in (md.get("annotations") or {}).items() if "serving.knative.dev/" not in k}
    if annotations:
        lines.append("Annotations:  " + ", ".join(f"{k}={v}" for k, v in sorted(annotations.items())))
    lines += [
        f"Age:          {output.age(output.created(ksvc), now)}",
        f"URL:          {status.get('url', '')}",
        "",
        "Revisions:",
    ]
    traffic = status.get("traffic") or (ksvc.get("spec") or {}).get("traffic") or []
    for target in traffic:
        name = str(target.get("revisionName") or "")
        label = f"@latest ({name})" if target.get("latestRevision") else name
        tag = f" #{target['tag']}" if target.get("tag") else ""
        lines.append(f"  {int(target.get('percent') or 0):>3}%  {label}{tag}")
        revision = revisions.get(name)
        if revision is not None:
            lines.extend(_revision_summary(revision, now))
        if target.get("url"):
            lines.append(f"        URL:     {target['url']}")
    if not traffic:
        lines.append("  (no traffic yet)")
    lines += ["", "Conditions:", *output.condition_lines(ksvc, now)]
    return "\n".join(lines)


def _revision_summary(revision: dict[str, Any], now: float) -> list[str]:
    spec = revision.get("spec") or {}
    container = (spec.get("containers") or [{}])[0]
    out = []
    if container.get("image"):
        out.append(f"        Image:   {container['image']}")
    if container.get("command"):
        out.append(
            f"        Command: {' '.join(map(str, container['command'] + (container.get('args') or [])))}"
        )
    ready, reason = output.ready_cells(revision)
    out.append(
        f"        Ready:   {ready} {reason}".rstrip() + f" ({output.age(output.created(revision), now)})"
    )
    return out


def _describe(args: argparse.Namespace) -> int:
    async def body(client: ApiClient, namespace: str) -> int:
        try:
            ksvc = await client.get(SERVICES, args.name, namespace)
        except NotFound:
            raise not_found("service", args.name, namespace, "service") from None
        if args.output:
            print(output.dump(ksvc, args.output))
            return 0
        revisions = (
            await client.list(REVISIONS, namespace, label_selector=f"serving.knative.dev/service={args.name}")
        )["items"]
        by_name = {str(meta(r).get("name")): r for r in revisions}
        print(describe_text(ksvc, by_name, time.time()))
        return 0

    return run_command(args, body)


def _delete(args: argparse.Namespace) -> int:
    return delete_named(args, SERVICES, "service")
