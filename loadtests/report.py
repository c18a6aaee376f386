"""Results: the per-second series, the summary, checks against the scenario's thresholds, the
JSON file, the text on stdout, and the comparison table of two results."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from pathlib import Path
from typing import Any

from loadtests.generator import Recorder
from loadtests.hdr import Histogram
from loadtests.scenario import Scenario

Z95 = 1.96
Z99 = 2.576


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    return {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "loadavg": [round(x, 2) for x in load],
        "node": platform.node(),
    }


def _ms(value: float) -> float | None:
    return None if math.isnan(value) else round(value * 1000.0, 3)


def series(recorder: Recorder, samples: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per second from the start: offered/achieved, latency percentiles, errors, replicas."""
    last = max([*recorder.seconds, *samples], default=-1)
    rows = []
    for t in range(last + 1):
        second = recorder.seconds.get(t)
        latency = second.latency if second else Histogram()
        rows.append(
            {
                "t": t,
                "offered": second.offered if second else 0,
                "achieved": second.completed if second else 0,
                "ok": second.ok if second else 0,
                "p50_ms": _ms(latency.percentile(0.5)),
                "p90_ms": _ms(latency.percentile(0.9)),
                "p99_ms": _ms(latency.percentile(0.99)),
                "max_ms": _ms(latency.max) if latency.count else None,
                "errors_by_status": dict(second.by_status) if second else {},
                "errors_by_kind": dict(second.by_kind) if second else {},
                "generator_lag_max_ms": _ms(second.lag_max) if second else None,
                **samples.get(t, {}),
            }
        )
    return rows


def wilson(successes: int, total: int, z: float) -> tuple[float, float]:
    """The Wilson score interval of a proportion (good near 0 and 1, unlike p +- z*se)."""
    if total == 0:
        return (0.0, 1.0)
    p = successes / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def shares(counts: dict[str, int], expected: dict[str, float]) -> dict[str, Any]:
    total = sum(counts.values())
    out: dict[str, Any] = {}
    for revision in sorted({*counts, *expected}):
        n = counts.get(revision, 0)
        low95, high95 = wilson(n, total, Z95)
        low99, high99 = wilson(n, total, Z99)
        want = expected.get(revision, 0.0)
        out[revision] = {
            "count": n,
            "share": round(n / total, 4) if total else None,
            "ci95": [round(low95, 4), round(high95, 4)],
            "expected": want,
            "expected_within_ci99": total > 0 and low99 <= want <= high99,
        }
    return out


def summary(recorder: Recorder, scenario: Scenario, extra: dict[str, Any]) -> dict[str, Any]:
    totals = recorder.totals()
    span = max(0.0, recorder.last_done - recorder.start)
    out: dict[str, Any] = {
        **totals,
        "latency": recorder.latency.summary_ms(),
        "ttfb": recorder.ttfb.summary_ms(),
        "seconds": round(span, 3),  # from the start to the last answer
        "achieved_rate": round(int(str(totals["completed"])) / span, 2) if span > 0 else 0.0,
        "generator": {
            "saturated": recorder.saturated,
            "late_requests": recorder.late,
            "lag_threshold_ms": recorder.lag_threshold * 1000,
            "lag": recorder.lag.summary_ms(),
        },
        "first_error": recorder.first_error,
        **extra,
    }
    counts = extra.get("revisions_from_access_log") or recorder.revisions
    if scenario.split:
        out["split"] = shares(counts, scenario.split)
    elif counts:
        out["revisions"] = counts
    return out


def checks(scenario: Scenario, result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each threshold of the scenario, the measured value and whether it holds."""
    s = result.get("summary") or {}
    latency = s.get("latency") or {}
    measured: dict[str, Any] = {
        "max_errors": s.get("errors"),
        "p99_ms": latency.get("p99_ms"),
        "max_ms": latency.get("max_ms"),
        "max_seconds_to_all_done": s.get("seconds"),
        "min_requests": s.get("ok"),
        "min_success_rate": (s["ok"] / s["sent"]) if s.get("sent") else None,
    }
    out = []
    for name, limit in scenario.thresholds.items():
        value = measured[name]
        holds = value is not None and (value >= limit if name.startswith("min_") else value <= limit)
        out.append({"check": name, "limit": limit, "value": value, "pass": bool(holds)})
    for revision, share in (s.get("split") or {}).items():
        out.append(
            {"check": f"share of {revision}", "limit": share["expected"], "value": share["share"],
             "pass": bool(share["expected_within_ci99"])}
        )  # fmt: skip
    if (s.get("generator") or {}).get("saturated"):
        out.append(
            {"check": "generator kept its schedule", "limit": "<1% late", "value": "saturated", "pass": False}
        )
    return out


def verdict(result: dict[str, Any]) -> str:
    if result.get("error"):
        return "error"
    return "pass" if all(c["pass"] for c in result.get("checks") or []) else "fail"


def write(result: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    stamp = int(result.get("started_at", 0))
    path = out / f"{result['scenario']}-{stamp}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    return path


def text(result: dict[str, Any]) -> str:
    s = result.get("summary") or {}
    lines = [f"scenario {result['scenario']}: {result.get('verdict', '?').upper()}"]
    if result.get("error"):
        lines.append(f"  error: {result['error']}")
    if "sent" in s:
        lat = s.get("latency") or {}
        lines.append(
            f"  requests: {s['sent']} sent, {s['ok']} ok, {s['errors']} errors in {s['seconds']} s"
            f" ({s['achieved_rate']}/s)"
        )
        if s["errors"]:
            lines.append(f"  errors by status {s['errors_by_status']}, by kind {s['errors_by_kind']}")
            lines.append(f"  first error: {s.get('first_error')}")
        lines.append(
            f"  latency ms: p50 {lat.get('p50_ms')}  p90 {lat.get('p90_ms')}  p99 {lat.get('p99_ms')}"
            f"  max {lat.get('max_ms')}"
        )
        gen = s.get("generator") or {}
        if gen.get("saturated"):
            lines.append(
                f"  GENERATOR SATURATED: {gen['late_requests']} requests started more than"
                f" {gen['lag_threshold_ms']:g} ms late (max lag {gen['lag']['max_ms']} ms); the figures"
                " describe this machine's generator, not the target"
            )
    for row in s.get("cold_starts") or []:
        lines.append(
            f"  cold start: ttfb {row['ttfb_ms']} ms (app alone {row['app_start_alone_ms']} ms), status"
            f" {row['status']}{' ' + row['error'] if row['error'] else ''}"
        )
    for revision, share in (s.get("split") or {}).items():
        lines.append(
            f"  {revision}: {share['count']} = {share['share']} (95% CI {share['ci95'][0]}-"
            f"{share['ci95'][1]}, expected {share['expected']})"
        )
    if "dataplane_stdout" in s:
        lines.append(s["dataplane_stdout"].rstrip())
    for check in result.get("checks") or []:
        mark = "ok  " if check["pass"] else "FAIL"
        lines.append(f"  {mark} {check['check']}: {check['value']} (limit {check['limit']})")
    return "\n".join(lines)


COMPARED = (
    ("requests ok", ("ok",)),
    ("errors", ("errors",)),
    ("achieved rate /s", ("achieved_rate",)),
    ("p50 ms", ("latency", "p50_ms")),
    ("p90 ms", ("latency", "p90_ms")),
    ("p99 ms", ("latency", "p99_ms")),
    ("max ms", ("latency", "max_ms")),
    ("ttfb p50 ms", ("ttfb", "p50_ms")),
)


def _dig(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = data
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def compare_table(a: dict[str, Any], b: dict[str, Any]) -> str:
    """Headline figures of two results side by side, with B/A."""
    name_a, name_b = f"A {a.get('scenario')}", f"B {b.get('scenario')}"
    lines = [f"{'':18} {name_a:>16} {name_b:>16} {'B/A':>8}"]
    for label, path in COMPARED:
        va, vb = _dig(a.get("summary") or {}, path), _dig(b.get("summary") or {}, path)
        ratio = (
            f"{vb / va:.2f}" if isinstance(va, int | float) and isinstance(vb, int | float) and va else "-"
        )
        lines.append(f"{label:18} {va!s:>16} {vb!s:>16} {ratio:>8}")
    lines.append(f"{'verdict':18} {a.get('verdict')!s:>16} {b.get('verdict')!s:>16}")
    return "\n".join(lines)
