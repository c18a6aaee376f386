"""`kwake route list|describe`: where a Service's traffic goes and at which URLs."""

from __future__ import annotations

import argparse
import time
from typing import Any

from localkube.client import ApiClient
from serving.cli.kn import output
from serving.cli.kn.session import (
    ROUTES,
    add_connection_flags,
    add_output_flag,
    describe_one,
    meta,
    run_command,
)

ROUTE_HEADERS = ("NAME", "URL", "AGE", "CONDITIONS", "READY", "REASON")


def register(parser: argparse.ArgumentParser) -> None:
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    parser.set_defaults(handler=None, print_help=parser.print_help)
    listing = verbs.add_parser("list", aliases=["ls"], help="list Routes")
    listing.add_argument("-A", "--all-namespaces", action="store_true")
    add_output_flag(listing)
    listing.set_defaults(handler=_list)
    describe = verbs.add_parser("describe", help="show a Route: URL, traffic targets, conditions")
    describe.add_argument("name")
    add_output_flag(describe)
    describe.set_defaults(handler=_describe)
    for sub in (listing, describe):
        add_connection_flags(sub)


def run(args: argparse.Namespace) -> int:
    if args.handler is None:
        args.print_help()
        return 2
    return int(args.handler(args))


def route_rows(routes: list[dict[str, Any]], now: float, *, with_namespace: bool) -> list[list[str]]:
    rows = []
    for route in sorted(routes, key=lambda r: (meta(r).get("namespace", ""), meta(r).get("name", ""))):
        md = meta(route)
        ready, reason = output.ready_cells(route)
        row = [
            str(md.get("name", "")),
            str((route.get("status") or {}).get("url", "")),
            output.age(output.created(route), now),
            output.conditions_cell(route),
            ready,
            reason,
        ]
        rows.append([str(md.get("namespace", "")), *row] if with_namespace else row)
    return rows


def _list(args: argparse.Namespace) -> int:
    async def body(client: ApiClient, namespace: str) -> int:
        ns = None if args.all_namespaces else namespace
        routes = (await client.list(ROUTES, ns))["items"]
        if args.output:
            print(output.dump(output.as_list(ROUTES.api_version, ROUTES.kind, routes), args.output))
            return 0
        if not routes:
            print("No routes found.")
            return 0
        headers = ("NAMESPACE", *ROUTE_HEADERS) if ns is None else ROUTE_HEADERS
        print(output.table(headers, route_rows(routes, time.time(), with_namespace=ns is None)))
        return 0

    return run_command(args, body)


def describe_text(route: dict[str, Any], now: float) -> str:
    md = meta(route)
    status = route.get("status") or {}
    owners = [f"{o.get('kind')}/{o.get('name')}" for o in md.get("ownerReferences") or []]
    lines = [
        f"Name:         {md.get('name', '')}",
        f"Namespace:    {md.get('namespace', '')}",
        f"Age:          {output.age(output.created(route), now)}",
        f"URL:          {status.get('url', '')}",
    ]
    if owners:
        lines.append(f"Owner:        {', '.join(owners)}")
    lines += ["", "Traffic Targets:"]
    observed = status.get("traffic")
    targets = observed or (route.get("spec") or {}).get("traffic") or []
    if not observed and targets:
        lines.append("  (as asked; not yet observed by the controller)")
    for target in targets:
        name = target.get("revisionName") or target.get("configurationName") or ""
        label = f"@latest ({name})" if target.get("latestRevision") else str(name)
        tag = f" #{target['tag']}" if target.get("tag") else ""
        url = f"  {target['url']}" if target.get("url") else ""
        lines.append(f"  {int(target.get('percent') or 0):>3}%  {label}{tag}{url}")
    lines += ["", "Conditions:", *output.condition_lines(route, now)]
    return "\n".join(lines)


def _describe(args: argparse.Namespace) -> int:
    return describe_one(args, ROUTES, "route", describe_text)
