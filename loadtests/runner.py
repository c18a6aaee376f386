"""Run one scenario: set kwake up (or use a running target), act, load, observe, judge.

`run(scenario, options)` never raises for the target's or the cluster's failures: it returns
the result dict with `error` set and whatever was measured until then, so a partial result is
always written.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from loadtests import report
from loadtests.generator import Client, Recorder, Target, closed_loop, open_loop
from loadtests.kwake import Cluster, KwakeUp, log_size, read_access_log
from loadtests.scale_bench import spawn_until_answering
from loadtests.scenario import Scenario, Step
from serving.api import keys

WAIT_ZERO_DEFAULT = 120.0


@dataclass(frozen=True)
class Options:
    target: str | None = None
    host: str | None = None
    kubeconfig: Path | None = None
    gateway_metrics: str | None = None
    access_log: Path | None = None
    revision_header: str | None = None
    service: str = "hello"
    namespace: str = "default"
    kwake_up: bool = False
    keep_logs: Path | None = None  # where the logs of a kwake up started for the run are copied
    allow_remote: bool = False
    lag_threshold: float = 0.05


class ScenarioFailed(RuntimeError):
    """The scenario could not run as written (missing target, cluster, ...)."""


def settings(scenario: Scenario, options: Options) -> dict[str, Any]:
    return {
        "scenario": {k: v for k, v in asdict(scenario).items() if k != "source"},
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()},
    }


async def run(scenario: Scenario, options: Options) -> dict[str, Any]:
    result: dict[str, Any] = {
        "scenario": scenario.name,
        "source": scenario.source,
        "settings": settings(scenario, options),
        "machine": report.machine(),
        "started_at": time.time(),
        "series": [],
        "summary": {},
        "error": None,
    }
    up: KwakeUp | None = None
    try:
        if scenario.mode == "dataplane":
            result["summary"] = await asyncio.to_thread(_dataplane, scenario)
        else:
            if options.kwake_up:
                up = await asyncio.to_thread(
                    KwakeUp.start, scenario.annotations, scenario.autoscaler, options.service
                )
                options = Options(
                    **{**asdict(options), "target": up.url, "host": up.host, "kubeconfig": up.kubeconfig,
                       "access_log": up.access_log, "kwake_up": True},
                )  # fmt: skip
                result["settings"] = settings(scenario, options)
            await _run_load(scenario, options, result)
    except (ScenarioFailed, RuntimeError, OSError, TimeoutError, ValueError) as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        if up is not None:
            await asyncio.to_thread(up.stop, options.keep_logs)
            if options.keep_logs is not None:
                result["kwake_logs"] = str(options.keep_logs)
    result["finished_at"] = time.time()
    result["checks"] = report.checks(scenario, result)
    result["verdict"] = report.verdict(result)
    return result


def _dataplane(scenario: Scenario) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kwake-dataplane-result-") as tmp:
        out = Path(tmp) / "dataplane.json"
        argv = [sys.executable, "-m", "loadtests.dataplane", *scenario.dataplane_args, "--json", str(out)]
        done = subprocess.run(argv, check=False, timeout=scenario.max_seconds, capture_output=True, text=True)
        if done.returncode != 0 or not out.exists():
            raise ScenarioFailed(f"loadtests.dataplane exited {done.returncode}: {done.stderr[-2000:]}")
        data: dict[str, Any] = json.loads(out.read_text())
        return {"dataplane": data, "dataplane_stdout": done.stdout}


async def _run_load(scenario: Scenario, options: Options, result: dict[str, Any]) -> None:
    if scenario.kwake and options.kubeconfig is None:
        raise ScenarioFailed(
            f"scenario {scenario.name} needs kwake: pass --kwake-up, or --target with --kubeconfig"
        )
    if options.target is None:
        raise ScenarioFailed("no target: pass --target URL (with --host) or --kwake-up")
    cluster = (
        Cluster.connect(options.kubeconfig, options.service, options.namespace, options.gateway_metrics)
        if options.kubeconfig is not None
        else None
    )
    recorder = Recorder(lag_threshold=options.lag_threshold)
    samples: dict[int, dict[str, Any]] = {}
    extra: dict[str, Any] = {}
    try:
        host = options.host
        if host is None and cluster is not None:
            host = await cluster.url_host()
        target = Target.from_url(
            options.target,
            host,
            path=scenario.path,
            timeout=scenario.timeout,
            revision_header=options.revision_header,
            allow_remote=options.allow_remote,
        )
        for step in scenario.setup:
            await _step(step, cluster, target)
        log_offset = log_size(options.access_log) if options.access_log else 0
        recorder.start = time.perf_counter() + 0.05
        wall_start = time.time() + 0.05
        sampler = asyncio.create_task(_sample(cluster, recorder, samples)) if cluster else None
        actions = [
            asyncio.create_task(_at(recorder.start + s.at, _step(s, cluster, target)))
            for s in scenario.during
        ]
        try:
            async with asyncio.timeout(scenario.max_seconds):
                extra = await _load(scenario, target, recorder, cluster)
            for action in actions:
                await action  # an action's failure is the run's failure
        except TimeoutError as exc:
            raise ScenarioFailed(f"the run exceeded max_seconds={scenario.max_seconds:g}") from exc
        finally:
            for task in [*actions, *([sampler] if sampler else [])]:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if cluster is not None:
                # The state the load left behind (a short run may end between two ticks).
                await _sample_once(cluster, recorder, samples)
            if options.access_log is not None:
                await asyncio.sleep(0.5)  # the gateway writes its access log from a thread
                extra["revisions_from_access_log"] = read_access_log(
                    options.access_log, log_offset, target.host, since=wall_start
                )
    finally:
        for t, ideal in enumerate(ideal_replicas(scenario)):
            samples.setdefault(t, {})["ideal_replicas"] = ideal
        result["series"] = report.series(recorder, samples)
        result["summary"] = report.summary(recorder, scenario, extra)
        if cluster is not None:
            await cluster.close()


def ideal_replicas(scenario: Scenario) -> list[int]:
    """Per second of a closed-loop run, the replicas the KPA should want for its concurrency:
    ceil(concurrency / (target x target utilization)), Knative's defaults 100 and 70 %."""
    if scenario.mode != "closed":
        return []
    target = float(scenario.annotations.get(keys.TARGET_ANNOTATION, "100"))
    utilization = float(scenario.annotations.get(keys.TARGET_UTILIZATION_ANNOTATION, "70")) / 100.0
    out: list[int] = []
    for phase in scenario.phases:
        out += [math.ceil(phase.concurrency / (target * utilization))] * math.ceil(phase.seconds)
    return out


async def _at(when: float, action: Awaitable[None]) -> None:
    await asyncio.sleep(max(0.0, when - time.perf_counter()))
    await action


async def _step(step: Step, cluster: Cluster | None, target: Target) -> None:
    if step.warm:
        client = Client(target)
        try:
            for _ in range(step.warm):
                await client.request()
        finally:
            await client.close()
        return
    if cluster is None:
        raise ScenarioFailed("this scenario's steps act on the Service: pass --kubeconfig or --kwake-up")
    if step.patch is not None:
        await cluster.patch(step.patch)
        await cluster.wait_ready(120)
    elif step.wait_ready is not None:
        await cluster.wait_ready(step.wait_ready)
    elif step.wait_zero is not None:
        await cluster.wait_zero(step.wait_zero)


async def _sample(cluster: Cluster, recorder: Recorder, samples: dict[int, dict[str, Any]]) -> None:
    """Once a second: desired/ready replicas per revision, and the gateway's queue depth."""
    while True:
        await _sample_once(cluster, recorder, samples)
        await asyncio.sleep(1.0 - (time.perf_counter() - recorder.start) % 1.0)


async def _sample_once(cluster: Cluster, recorder: Recorder, samples: dict[int, dict[str, Any]]) -> None:
    second = max(0, int(time.perf_counter() - recorder.start))
    sample: dict[str, Any] = {}
    with contextlib.suppress(Exception):  # a failed sample is a gap in the series, not a failure
        sample["replicas"] = await cluster.replicas()
    depth = await cluster.queue_depth()
    if depth is not None:
        sample["queue_depth"] = depth
    samples[second] = sample


async def _load(
    scenario: Scenario, target: Target, recorder: Recorder, cluster: Cluster | None
) -> dict[str, Any]:
    if scenario.mode == "open":
        client = await open_loop(target, scenario.phases, recorder, max_requests=scenario.max_requests)
        return {"connection_waits": client.waits, "resent_on_closed_keepalive": client.retries}
    if scenario.mode == "closed":
        await closed_loop(target, scenario.phases, recorder, max_requests=scenario.max_requests)
        return {}
    return await _cold_starts(scenario, target, recorder, cluster)


async def _cold_starts(
    scenario: Scenario, target: Target, recorder: Recorder, cluster: Cluster | None
) -> dict[str, Any]:
    """One request at a time, each after the Service is back at zero; the app's own start beside."""
    assert cluster is not None  # checked: cold-start scenarios need kwake
    rows: list[dict[str, Any]] = []
    wait_zero = next((s.wait_zero for s in scenario.setup if s.wait_zero is not None), WAIT_ZERO_DEFAULT)
    client = Client(target, max_connections=1)
    try:
        for _ in range(scenario.count):
            idle = await cluster.wait_zero(wait_zero)
            await client.close()  # a new connection each time, as a new user would open
            started = time.perf_counter()
            recorder.offered(started, started)
            outcome = await client.request()
            recorder.outcome(outcome, started)
            app_alone = await spawn_until_answering(1)
            rows.append(
                {
                    "ttfb_ms": _ms(outcome.first_byte - started),
                    "total_ms": _ms(outcome.done - started),
                    "status": outcome.status,
                    "error": outcome.kind,
                    "app_start_alone_ms": _ms(app_alone),
                    "waited_for_zero_s": round(idle, 2),
                }
            )
    finally:
        await client.close()
    return {"cold_starts": rows}


def _ms(seconds: float) -> float | None:
    return None if math.isnan(seconds) else round(seconds * 1000.0, 2)
