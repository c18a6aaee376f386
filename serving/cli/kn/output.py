"""How the CLI shows objects: aligned tables, kn-style ages and condition summaries, YAML/JSON.

Pure functions over raw objects; `now` (epoch seconds) is passed in so ages are testable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from serving.api.meta import Condition, conditions_of, get_condition, parse_time

OUTPUT_FORMATS = ("table", "yaml", "json")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, three spaces apart, as kubectl and kn print them."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in [list(headers), *rows]:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("   ".join(cells).rstrip())
    return "\n".join(lines)


def age(timestamp: str | None, now: float) -> str:
    """`45s`, `3m`, `5h`, `2d`: the largest unit, as kn shows ages."""
    if not timestamp:
        return ""
    try:
        seconds = max(0, int(now - parse_time(timestamp)))
    except ValueError:
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def created(obj: Mapping[str, Any]) -> str | None:
    return (obj.get("metadata") or {}).get("creationTimestamp")


def conditions_cell(obj: Mapping[str, Any]) -> str:
    """`3 OK / 3`: how many conditions are True out of all (kn's CONDITIONS column)."""
    conds = conditions_of(obj.get("status"))
    ok = sum(1 for c in conds if c.is_true)
    return f"{ok} OK / {len(conds)}"


def ready_cells(obj: Mapping[str, Any]) -> tuple[str, str]:
    """READY and REASON: the Ready condition's status and reason (`Unknown` before any status)."""
    ready = get_condition(obj.get("status"), "Ready")
    if ready is None:
        return "Unknown", ""
    return ready.status, ready.reason


def condition_lines(obj: Mapping[str, Any], now: float) -> list[str]:
    """One line per condition for `describe`: mark, type, age, reason and message."""
    marks = {"True": "++", "False": "!!", "Unknown": "??"}
    lines: list[str] = []
    for cond in conditions_of(obj.get("status")):
        mark = marks.get(cond.status, "??")
        if cond.severity in ("Warning", "Info") and not cond.is_true:
            mark = " W" if cond.severity == "Warning" else " I"
        lines.append(_condition_line(mark, cond, now))
    return lines


def _condition_line(mark: str, cond: Condition, now: float) -> str:
    detail = " ".join(x for x in (cond.reason, cond.message) if x)
    return f"  {mark} {cond.type:<26} {age(cond.last_transition_time, now):>5} {detail}".rstrip()


def dump(obj: Any, fmt: str) -> str:
    """`yaml` or `json` text for an object or a list of objects."""
    if fmt == "json":
        return json.dumps(obj, indent=2, sort_keys=False)
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False).rstrip("\n")


def as_list(api_version: str, kind: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": f"{kind}List", "items": items, "metadata": {}}
