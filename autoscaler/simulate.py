"""`python -m autoscaler.simulate TRACE.csv`: tune KPA settings against a recorded load.

The trace is a CSV with a header `second,concurrency` (average in-flight requests each second)
or `second,arrivals` (requests started each second, held `--mean-duration` seconds). Missing
seconds count as zero. The result is printed as JSON; with `--out DIR` it is also written to
DIR/simulation.json with a plot DIR/simulation.png when matplotlib (the `plot` extra) is
installed.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from autoscaler.kpa import annotations as kpa_annotations
from autoscaler.kpa import config as kpa_config
from autoscaler.simulator import Result, Trace, simulate


class TraceError(ValueError):
    pass


def read_trace(path: Path, mean_duration: float) -> Trace:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        fields = [name.strip() for name in reader.fieldnames or []]
        if "second" not in fields or not {"concurrency", "arrivals"} & set(fields):
            raise TraceError(f"{path}: need columns second,concurrency or second,arrivals; got {fields}")
        column = "concurrency" if "concurrency" in fields else "arrivals"
        rows: dict[int, float] = {}
        for line, row in enumerate(reader, start=2):
            clean = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
            try:
                second = int(float(clean["second"]))
                value = float(clean[column])
            except ValueError as err:
                raise TraceError(f"{path}:{line}: {err}") from err
            if second < 0 or not np.isfinite(value) or value < 0:
                raise TraceError(f"{path}:{line}: seconds and values must be non-negative numbers")
            rows[second] = rows.get(second, 0.0) + value
    if not rows:
        raise TraceError(f"{path}: no data rows")
    values = np.zeros(max(rows) + 1)
    for second, value in rows.items():
        values[second] = value
    if column == "concurrency":
        return Trace.from_concurrency(values, mean_duration)
    return Trace.from_arrivals(values, mean_duration)


def _pairs(items: Sequence[str], what: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--{what} expects key=value, got {item!r}")
        pairs[key.strip()] = value.strip()
    return pairs


def _annotation_key(key: str) -> str:
    return key if "/" in key else f"{kpa_annotations.GROUP}/{key}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autoscaler.simulate", description=__doc__)
    parser.add_argument("trace", type=Path, help="CSV: second,concurrency or second,arrivals")
    parser.add_argument(
        "--annotation",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an autoscaling annotation, e.g. target=10 or autoscaling.knative.dev/window=30s",
    )
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config-autoscaler key, e.g. scale-to-zero-grace-period=10s",
    )
    parser.add_argument("--container-concurrency", type=int, default=0)
    parser.add_argument("--pod-start-seconds", type=float, default=5.0)
    parser.add_argument("--mean-duration", type=float, default=1.0, help="seconds per request")
    parser.add_argument("--initial-pods", type=int, default=0)
    parser.add_argument("--tail-seconds", type=int, default=0, help="idle seconds after the trace")
    parser.add_argument("--out", type=Path, help="directory for simulation.json and simulation.png")
    return parser


def plot(result: Result, path: Path) -> bool:
    """Write a PNG of demand and replicas; False when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: PLC0415 - optional extra

        matplotlib.use("Agg")
        from matplotlib import pyplot  # noqa: PLC0415
    except ImportError:
        return False
    figure, demand_axis = pyplot.subplots(figsize=(11, 4.5))
    demand_axis.plot(result.seconds, result.demand, color="tab:gray", linewidth=0.8, label="demand")
    demand_axis.set_xlabel("second")
    demand_axis.set_ylabel(result.spec.metric)
    pods_axis = demand_axis.twinx()
    pods_axis.step(result.seconds, result.replicas, where="post", color="tab:blue", label="replicas")
    pods_axis.step(result.seconds, result.ready, where="post", color="tab:green", label="ready")
    pods_axis.set_ylabel("pods")
    figure.legend(loc="upper center", ncol=3, frameon=False)
    figure.tight_layout(rect=(0, 0, 1, 0.93))
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = kpa_config.from_configmap(_pairs(args.config, "config"))
    except kpa_config.ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    annotations = {_annotation_key(k): v for k, v in _pairs(args.annotation, "annotation").items()}
    problems = kpa_annotations.validate_annotations(annotations, cfg)
    if problems:
        print("invalid annotations: " + "; ".join(problems), file=sys.stderr)
        return 2
    if args.mean_duration <= 0 or args.pod_start_seconds < 0:
        print("--mean-duration must be positive and --pod-start-seconds non-negative", file=sys.stderr)
        return 2
    try:
        trace = read_trace(args.trace, args.mean_duration)
    except (OSError, TraceError) as err:
        print(err, file=sys.stderr)
        return 2
    result = simulate(
        trace,
        annotations=annotations,
        container_concurrency=args.container_concurrency,
        config=cfg,
        pod_start_seconds=args.pod_start_seconds,
        initial_pods=args.initial_pods,
        tail_seconds=args.tail_seconds,
    )
    summary = result.summary()
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        png = args.out / "simulation.png"
        summary["plot"] = str(png) if plot(result, png) else None
        (args.out / "simulation.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
