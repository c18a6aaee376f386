"""meta.k8s.io Tables for `kubectl get`: Name, the kind's printer columns, Age.

The server formats the cells, as kube-apiserver does. Printer columns use the small JSONPath
subset CRDs use in practice: `.a.b`, `[n]`, `[*]` and `[?(@.field=="value")]`.
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

from localkube.server import objects
from localkube.server.resources import PrinterColumn, ResourceType

_FILTER = re.compile(r"""\?\(@\.([\w.-]+)\s*==\s*(?:"([^"]*)"|'([^']*)')\)""")


def evaluate(obj: Any, path: str) -> list[Any]:
    """All values the JSONPath expression selects from obj (an empty list when none)."""
    expr = path.strip()
    if expr.startswith("{") and expr.endswith("}"):
        expr = expr[1:-1]
    if expr.startswith("$"):
        expr = expr[1:]
    current = [obj]
    for token in _tokens(expr):
        nxt: list[Any] = []
        for value in current:
            nxt.extend(_step(value, token))
        current = nxt
    return current


def _tokens(expr: str) -> list[str]:
    tokens: list[str] = []
    i = 0
    while i < len(expr):
        ch = expr[i]
        if ch == ".":
            j = i + 1
            while j < len(expr) and expr[j] not in ".[":
                j += 1
            if j > i + 1:
                tokens.append(expr[i + 1 : j])
            i = j
        elif ch == "[":
            depth, j = 0, i
            while j < len(expr):
                if expr[j] == "[":
                    depth += 1
                elif expr[j] == "]":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            tokens.append(expr[i : j + 1])
            i = j + 1
        else:
            j = i
            while j < len(expr) and expr[j] not in ".[":
                j += 1
            tokens.append(expr[i:j])
            i = j
    return tokens


def _step(value: Any, token: str) -> list[Any]:
    if token.startswith("["):
        inner = token[1:-1].strip()
        if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
            key = inner[1:-1].replace("\\.", ".")
            return [value[key]] if isinstance(value, dict) and key in value else []
        if not isinstance(value, list):
            return []
        if inner == "*":
            return list(value)
        match = _FILTER.fullmatch(inner)
        if match:
            field_path, want = (
                match.group(1),
                match.group(2) if match.group(2) is not None else match.group(3),
            )
            out = []
            for item in value:
                got = evaluate(item, "." + field_path)
                if got and str(_scalar(got[0])) == want:
                    out.append(item)
            return out
        try:
            index = int(inner)
        except ValueError:
            return []
        if -len(value) <= index < len(value):
            return [value[index]]
        return []
    if token == "*":
        if isinstance(value, dict):
            return list(value.values())
        return list(value) if isinstance(value, list) else []
    if isinstance(value, dict) and token in value:
        return [value[token]]
    return []


def _scalar(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def age(created: str | None, now: datetime.datetime) -> str:
    moment = objects.parse_rfc3339(created or "")
    if moment is None:
        return "<unknown>"
    seconds = max(0, int((now - moment).total_seconds()))
    return human_duration(seconds)


def human_duration(seconds: int) -> str:
    """kubectl's short durations: 45s, 3m20s, 5h, 2d3h, 400d."""
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if days < 8:
        rest = hours % 24
        return f"{days}d{rest}h" if rest else f"{days}d"
    return f"{days}d"


def _cell(column: PrinterColumn, obj: dict[str, Any], now: datetime.datetime) -> Any:
    values = evaluate(obj, column.json_path)
    if not values:
        return None
    if column.type == "date":
        return age(values[0] if isinstance(values[0], str) else None, now)
    if len(values) == 1:
        value = values[0]
        if isinstance(value, dict | list):
            return json.dumps(value, separators=(",", ":"))
        return _scalar(value)
    return ",".join(str(_scalar(v)) for v in values)


def _definition(
    name: str, type_: str, description: str = "", priority: int = 0, fmt: str = ""
) -> dict[str, Any]:
    return {"name": name, "type": type_, "format": fmt, "description": description, "priority": priority}


def _builtin_cells(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """Columns whose cells are computed, not selected (READY as ready/total)."""
    status = obj.get("status") or {}
    if rt.plural == "pods" and not rt.group:
        statuses = status.get("containerStatuses") or []
        total = len((obj.get("spec") or {}).get("containers") or [])
        ready = sum(1 for s in statuses if s.get("ready"))
        phase = status.get("phase", "")
        for s in statuses:
            waiting = (s.get("state") or {}).get("waiting")
            if waiting and waiting.get("reason"):
                phase = waiting["reason"]
        if (obj.get("metadata") or {}).get("deletionTimestamp"):
            phase = "Terminating"
        return {
            "Ready": f"{ready}/{total}",
            "Status": phase,
            "Restarts": sum(int(s.get("restartCount", 0)) for s in statuses),
        }
    if rt.plural == "deployments":
        replicas = (obj.get("spec") or {}).get("replicas", 0)
        return {
            "Ready": f"{status.get('readyReplicas', 0)}/{replicas}",
            "Up-to-date": status.get("updatedReplicas", 0),
            "Available": status.get("availableReplicas", 0),
        }
    if rt.plural == "endpoints" and not rt.group:
        addrs = []
        for subset in obj.get("subsets") or []:
            for addr in subset.get("addresses") or []:
                for port in subset.get("ports") or [{}]:
                    addrs.append(
                        f"{addr.get('ip')}:{port.get('port')}" if port.get("port") else str(addr.get("ip"))
                    )
        return {
            "Endpoints": ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
            or "<none>"
        }
    if rt.plural == "services" and not rt.group:
        port_texts = [
            f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in (obj.get("spec") or {}).get("ports") or []
        ]
        return {"Ports": ",".join(port_texts) or "<none>"}
    if rt.plural == "nodes" and not rt.group:
        node_ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
        return {"Status": "Ready" if node_ready and node_ready[0].get("status") == "True" else "NotReady"}
    return {}


_BUILTIN_EXTRA_FIRST = {"pods": ("Ready",), "deployments": ("Ready",)}


def columns(rt: ResourceType) -> list[dict[str, Any]]:
    defs = [_definition("Name", "string", "Name must be unique within a namespace.", fmt="name")]
    custom = rt.printer_columns
    if rt.from_crd:
        if custom is None:
            defs.append(_definition("Age", "date", "CreationTimestamp"))
            return defs
        defs.extend(_definition(c.name, c.type, c.description, c.priority, c.format) for c in custom)
        return defs
    for name in _BUILTIN_EXTRA_FIRST.get(rt.plural, ()):
        defs.append(_definition(name, "string"))
    for col in custom or ():
        if col.name not in [d["name"] for d in defs]:
            defs.append(_definition(col.name, col.type, col.description, col.priority, col.format))
    if rt.plural != "customresourcedefinitions":
        defs.append(_definition("Age", "date", "CreationTimestamp"))
    return defs


def row(rt: ResourceType, obj: dict[str, Any], now: datetime.datetime, include_object: str) -> dict[str, Any]:
    md = obj.get("metadata") or {}
    cells: list[Any] = [md.get("name", "")]
    try:
        computed = _builtin_cells(rt, obj) if not rt.from_crd else {}
    except (TypeError, AttributeError, ValueError):
        computed = {}  # a malformed stored object still lists, with empty computed cells
    custom = rt.printer_columns
    if rt.from_crd:
        if custom is None:
            cells.append(age(md.get("creationTimestamp"), now))
        else:
            cells.extend(_cell(c, obj, now) for c in custom)
    else:
        names = [d["name"] for d in columns(rt)][1:]
        by_name = {c.name: c for c in custom or ()}
        for name in names:
            if name == "Age":
                cells.append(age(md.get("creationTimestamp"), now))
            elif name in computed:
                cells.append(computed[name])
            elif name in by_name:
                cells.append(_cell(by_name[name], obj, now))
            else:
                cells.append(None)
    result: dict[str, Any] = {"cells": cells}
    if include_object == "Object":
        result["object"] = obj
    elif include_object != "None":
        result["object"] = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": md,
        }
    return result


def table(
    rt: ResourceType,
    items: list[dict[str, Any]],
    resource_version: str,
    now: datetime.datetime,
    *,
    api_version: str = "meta.k8s.io/v1",
    include_object: str = "Metadata",
) -> dict[str, Any]:
    return {
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": columns(rt),
        "rows": [row(rt, item, now, include_object) for item in items],
    }
