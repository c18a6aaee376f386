"""kwake's load-test harness.

    python -m loadtests list
    python -m loadtests check [SCENARIO...]               # validate scenario files
    python -m loadtests run SCENARIO [--kwake-up | --target URL [--host H] [--kubeconfig F]] [--out DIR]
    python -m loadtests compare A.json B.json [--out DIR]

SCENARIO is a file or a name from loadtests/scenarios/. Targets must be loopback unless
--allow-remote is given. Exit status: 0 pass, 1 fail, 2 error (a result is written anyway).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from loadtests import plot, report, runner
from loadtests.generator import RemoteTargetError, Target
from loadtests.scenario import ScenarioError, bundled, load


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m loadtests", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the bundled scenarios")
    check = sub.add_parser("check", help="validate scenario files")
    check.add_argument("scenarios", nargs="*")
    run = sub.add_parser("run", help="run one scenario")
    run.add_argument("scenario")
    run.add_argument("--target", help="base URL, e.g. http://127.0.0.1:8080")
    run.add_argument("--host", help="Host header (default: the Service's URL host, or the target's)")
    run.add_argument("--kubeconfig", type=Path, help="observe (and act on) kwake through this API")
    run.add_argument(
        "--gateway-metrics", help="the gateway's Prometheus URL, e.g. http://127.0.0.1:9090/metrics"
    )
    run.add_argument("--access-log", type=Path, help="the gateway's access log, for revision shares")
    run.add_argument("--revision-header", help="a response header naming the revision, for revision shares")
    run.add_argument("--service", default="hello", help="the kwake Service under test (default hello)")
    run.add_argument("--namespace", default="default")
    run.add_argument("--kwake-up", action="store_true", help="start kwake up on free ports for this run")
    run.add_argument(
        "--keep-logs", action="store_true", help="with --kwake-up: copy its logs next to the result"
    )
    run.add_argument("--allow-remote", action="store_true", help="allow a target outside loopback")
    run.add_argument(
        "--lag-threshold-ms", type=float, default=50.0, help="generator lateness that counts as late"
    )
    run.add_argument("--out", type=Path, default=Path("loadtest-results"))
    compare = sub.add_parser("compare", help="compare two results")
    compare.add_argument("a", type=Path)
    compare.add_argument("b", type=Path)
    compare.add_argument("--out", type=Path, default=None, help="where the comparison PNG goes")
    return parser


def _run(args: argparse.Namespace) -> int:
    try:
        scenario = load(args.scenario)
        if args.target:
            Target.from_url(args.target, allow_remote=args.allow_remote)
    except (ScenarioError, RemoteTargetError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    options = runner.Options(
        target=args.target,
        host=args.host,
        kubeconfig=args.kubeconfig,
        gateway_metrics=args.gateway_metrics,
        access_log=args.access_log,
        revision_header=args.revision_header,
        service=args.service,
        namespace=args.namespace,
        kwake_up=args.kwake_up,
        keep_logs=args.out / f"{scenario.name}-kwake-logs" if args.keep_logs else None,
        allow_remote=args.allow_remote,
        lag_threshold=args.lag_threshold_ms / 1000.0,
    )
    try:
        import uvloop  # noqa: PLC0415 - the generator keeps faster schedules on uvloop when it is there

        result = uvloop.run(runner.run(scenario, options))
    except ImportError:
        result = asyncio.run(runner.run(scenario, options))
    path = report.write(result, args.out)
    png = plot.result_png(result, path.with_suffix(".png")) if result.get("series") else None
    print(report.text(result))
    print(f"  result: {path}" + (f"\n  plot:   {png}" if png else ""))
    return {"pass": 0, "fail": 1}.get(result["verdict"], 2)


def _compare(args: argparse.Namespace) -> int:
    try:
        a, b = (json.loads(p.read_text()) for p in (args.a, args.b))
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.compare_table(a, b))
    out = args.out or args.b.parent
    out.mkdir(parents=True, exist_ok=True)
    png = plot.compare_png(a, b, out / f"compare-{args.a.stem}-vs-{args.b.stem}.png")
    if png:
        print(f"plot: {png}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "list":
        for path in bundled():
            print(f"{path.stem:16} {load(path).description}")
        return 0
    if args.command == "check":
        bad = 0
        for name in args.scenarios or [str(p) for p in bundled()]:
            try:
                load(name)
            except ScenarioError as exc:
                print(f"error: {exc}")
                bad += 1
            else:
                print(f"ok: {name}")
        return 1 if bad else 0
    if args.command == "compare":
        return _compare(args)
    # SIGTERM unwinds like Ctrl-C, so that a kwake up started for this run is stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
