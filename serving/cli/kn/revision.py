"""`kwake revision list|describe|delete`: the immutable snapshots a Service's template stamps out."""

from __future__ import annotations

import argparse
import time
from typing import Any

from localkube.client import ApiClient
from serving.api import keys
from serving.cli.kn import output
from serving.cli.kn.session import (
    REVISIONS,
    SERVICES,
    add_connection_flags,
    add_output_flag,
    delete_named,
    describe_one,
    meta,
    not_found,
    run_command,
)

REVISION_HEADERS = (
    "NAME",
    "SERVICE",
    "TRAFFIC",
    "TAGS",
    "GENERATION",
    "AGE",
    "CONDITIONS",
    "READY",
    "REASON",
)


def register(parser: argparse.ArgumentParser) -> None:
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    parser.set_defaults(handler=None, print_help=parser.print_help)
    listing = verbs.add_parser("list", aliases=["ls"], help="list Revisions, newest first")
    listing.add_argument("-s", "--service", help="only the revisions of this Service")
    listing.add_argument("-A", "--all-namespaces", action="store_true")
    add_output_flag(listing)
    listing.set_defaults(handler=_list)
    describe = verbs.add_parser("describe", help="show a Revision: image, command, scaling, conditions")
    describe.add_argument("name")
    add_output_flag(describe)
    describe.set_defaults(handler=_describe)
    delete = verbs.add_parser("delete", help="delete Revisions (not ones that receive traffic)")
    delete.add_argument("names", nargs="+", metavar="NAME")
    delete.set_defaults(handler=_delete)
    for sub in (listing, describe, delete):
        add_connection_flags(sub)


def run(args: argparse.Namespace) -> int:
    if args.handler is None:
        args.print_help()
        return 2
    return int(args.handler(args))


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return dict(meta(obj).get("labels") or {})


def traffic_of(services: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[int, list[str]]]:
    """(namespace, revision) -> (percent, tags), from the Services' observed traffic."""
    out: dict[tuple[str, str], tuple[int, list[str]]] = {}
    for ksvc in services:
        ns = str(meta(ksvc).get("namespace", ""))
        for target in (ksvc.get("status") or {}).get("traffic") or []:
            key = (ns, str(target.get("revisionName") or ""))
            pct, tags = out.get(key, (0, []))
            out[key] = (
                pct + int(target.get("percent") or 0),
                [*tags, *([target["tag"]] if target.get("tag") else [])],
            )
    return out


def revision_rows(
    revisions: list[dict[str, Any]], services: list[dict[str, Any]], now: float, *, with_namespace: bool
) -> list[list[str]]:
    traffic = traffic_of(services)

    def order(rev: dict[str, Any]) -> tuple[str, str, int]:
        labels = _labels(rev)
        generation = labels.get(keys.CONFIGURATION_GENERATION_LABEL, "0")
        return (
            str(meta(rev).get("namespace", "")),
            labels.get(keys.SERVICE_LABEL, ""),
            -int(generation) if generation.isdigit() else 0,
        )

    rows = []
    for rev in sorted(revisions, key=order):
        md, labels = meta(rev), _labels(rev)
        pct, tags = traffic.get((str(md.get("namespace", "")), str(md.get("name", ""))), (0, []))
        ready, reason = output.ready_cells(rev)
        row = [
            str(md.get("name", "")),
            labels.get(keys.SERVICE_LABEL, ""),
            f"{pct}%" if pct else "",
            ",".join(tags),
            labels.get(keys.CONFIGURATION_GENERATION_LABEL, ""),
            output.age(output.created(rev), now),
            output.conditions_cell(rev),
            ready,
            reason,
        ]
        rows.append([str(md.get("namespace", "")), *row] if with_namespace else row)
    return rows


def _list(args: argparse.Namespace) -> int:
    async def body(client: ApiClient, namespace: str) -> int:
        ns = None if args.all_namespaces else namespace
        selector = f"{keys.SERVICE_LABEL}={args.service}" if args.service else None
        revisions = (await client.list(REVISIONS, ns, label_selector=selector))["items"]
        if args.output:
            print(output.dump(output.as_list(REVISIONS.api_version, REVISIONS.kind, revisions), args.output))
            return 0
        if not revisions:
            if args.service and await client.get_or_none(SERVICES, args.service, namespace) is None:
                raise not_found("service", args.service, namespace, "service")
            print("No revisions found.")
            return 0
        services = (await client.list(SERVICES, ns))["items"]
        headers = ("NAMESPACE", *REVISION_HEADERS) if ns is None else REVISION_HEADERS
        print(
            output.table(headers, revision_rows(revisions, services, time.time(), with_namespace=ns is None))
        )
        return 0

    return run_command(args, body)


def describe_text(rev: dict[str, Any], now: float) -> str:
    md, labels = meta(rev), _labels(rev)
    spec = rev.get("spec") or {}
    container = (spec.get("containers") or [{}])[0]
    annotations = md.get("annotations") or {}
    lines = [
        f"Name:         {md.get('name', '')}",
        f"Namespace:    {md.get('namespace', '')}",
        f"Age:          {output.age(output.created(rev), now)}",
        f"Service:      {labels.get(keys.SERVICE_LABEL, '')}",
        f"Generation:   {labels.get(keys.CONFIGURATION_GENERATION_LABEL, '')}",
    ]
    if container.get("image"):
        lines.append(f"Image:        {container['image']}")
    if container.get("command") or container.get("args"):
        argv = [*(container.get("command") or []), *(container.get("args") or [])]
        lines.append(f"Command:      {' '.join(map(str, argv))}")
    for port in container.get("ports") or []:
        lines.append(
            f"Port:         {port.get('containerPort')}" + (f" ({port['name']})" if port.get("name") else "")
        )
    for env in container.get("env") or []:
        lines.append(f"Env:          {env.get('name')}={env.get('value', '')}")
    if spec.get("containerConcurrency") is not None:
        lines.append(f"Concurrency:  {spec['containerConcurrency']}")
    scaling = {
        k.removeprefix(keys.AUTOSCALING_PREFIX): v
        for k, v in annotations.items()
        if k.startswith(keys.AUTOSCALING_PREFIX)
    }
    if scaling:
        lines.append("Scaling:      " + ", ".join(f"{k}={v}" for k, v in sorted(scaling.items())))
    status = rev.get("status") or {}
    if status.get("actualReplicas") is not None:
        lines.append(f"Replicas:     {status.get('actualReplicas')}/{status.get('desiredReplicas', '?')}")
    lines += ["", "Conditions:", *output.condition_lines(rev, now)]
    return "\n".join(lines)


def _describe(args: argparse.Namespace) -> int:
    return describe_one(args, REVISIONS, "revision", describe_text)


def _delete(args: argparse.Namespace) -> int:
    return delete_named(args, REVISIONS, "revision")
