"""PNG plots of a result (matplotlib, the optional extra `plot`): latency percentiles over time,
offered vs achieved rate, replicas desired vs ready per revision, errors; and a comparison of
two results. Without matplotlib every function returns None and nothing is written."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any


def available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def _pyplot() -> Any:
    import matplotlib  # noqa: PLC0415 - optional

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 - optional

    return plt


def result_png(result: dict[str, Any], path: Path) -> Path | None:
    if not available():
        return None
    plt = _pyplot()
    rows = result.get("series") or []
    t = [r["t"] for r in rows]
    fig, axes = plt.subplots(4, 1, figsize=(9, 11), sharex=True)
    lat, rate, reps, errs = axes
    for key in ("p50_ms", "p90_ms", "p99_ms", "max_ms"):
        lat.plot(
            t, [r.get(key) if r.get(key) is not None else float("nan") for r in rows], ".-", label=key[:-3]
        )
    lat.set_ylabel("latency ms")
    lat.set_yscale("log")
    lat.legend(loc="upper right")
    rate.plot(t, [r["offered"] for r in rows], label="offered")
    rate.plot(t, [r["achieved"] for r in rows], label="achieved")
    rate.set_ylabel("requests / s")
    rate.legend(loc="upper right")
    revisions = sorted({rev for r in rows for rev in (r.get("replicas") or {})})
    for revision in revisions:
        for kind, style in (("desired", "--"), ("ready", "-")):
            values = [((r.get("replicas") or {}).get(revision) or {}).get(kind, float("nan")) for r in rows]
            reps.step(t, values, style, where="post", label=f"{revision} {kind}")
    if any("ideal_replicas" in r for r in rows):
        ideal = [r.get("ideal_replicas", float("nan")) for r in rows]
        reps.step(t, ideal, ":", where="post", color="black", label="ideal")
    if any("queue_depth" in r for r in rows):
        reps.plot(t, [sum((r.get("queue_depth") or {}).values()) for r in rows], ":", label="gateway queue")
    reps.set_ylabel("replicas")
    if revisions or any("ideal_replicas" in r for r in rows):
        reps.legend(loc="upper right", fontsize="small")
    kinds = sorted({k for r in rows for k in (*r["errors_by_status"], *r["errors_by_kind"])})
    for kind in kinds:
        errs.plot(
            t,
            [r["errors_by_status"].get(kind, 0) + r["errors_by_kind"].get(kind, 0) for r in rows],
            label=kind,
        )
    errs.set_ylabel("errors / s")
    errs.set_xlabel("seconds")
    if kinds:
        errs.legend(loc="upper right")
    fig.suptitle(f"{result['scenario']}: {result.get('verdict', '')}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def compare_png(a: dict[str, Any], b: dict[str, Any], path: Path) -> Path | None:
    if not available():
        return None
    plt = _pyplot()
    fig, (lat, rate) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    for label, result in (("A", a), ("B", b)):
        rows = result.get("series") or []
        t = [r["t"] for r in rows]
        for key, style in (("p50_ms", "-"), ("p99_ms", "--")):
            values = [r.get(key) if r.get(key) is not None else float("nan") for r in rows]
            lat.plot(t, values, style, label=f"{label} {result['scenario']} {key[:-3]}")
        rate.plot(t, [r["achieved"] for r in rows], label=f"{label} achieved")
    lat.set_yscale("log")
    lat.set_ylabel("latency ms")
    lat.legend(fontsize="small")
    rate.set_ylabel("requests / s")
    rate.set_xlabel("seconds")
    rate.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
