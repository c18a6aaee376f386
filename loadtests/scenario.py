"""Scenario files: small declarative YAML, validated into frozen dataclasses.

Every error names the file, the key (a dotted path such as `load.phases[1].rate`) and what was
expected, so a typo is fixed without reading this module. The keys:

    name: step                      # required, a word
    description: text
    mode: open | closed | cold-start | dataplane
    kwake: true                     # needs kwake: --kubeconfig (with --target) or --kwake-up
    service:                        # for --kwake-up: the hello Service, with these annotations
      annotations: {autoscaling.knative.dev/target: "10"}
    autoscaler: {stable-window: 6s} # for --kwake-up: the config-autoscaler ConfigMap's data
    path: /                         # request path (`?sleep=MS` makes the hello app slow)
    timeout: 30                     # seconds per request
    max_requests: 10000             # hard bounds of the run
    max_seconds: 300
    phases:                         # open: rate / rate_to / burst; closed: concurrency
      - {seconds: 10, rate: 50}
    count: 3                        # cold-start: requests, each after the Service is back at zero
    setup:                          # steps before the load, in order
      - wait_ready: 60              # the Service Ready (seconds)
      - patch: {...}                # a merge patch to the Service, then wait Ready
      - wait_zero: 90               # no pods of the Service left (seconds)
      - warm: 5                     # that many requests, unmeasured
    during:                         # steps at an offset into the load
      - {at: 5, patch: {...}}
    split: {hello-00001: 0.9, hello-00002: 0.1}   # expected shares of the revisions
    thresholds: {max_errors: 0, p99_ms: 500, max_seconds_to_all_done: 30, min_requests: 1}
    dataplane_args: [--rounds, "1"] # dataplane: arguments for `python -m loadtests.dataplane`
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from loadtests.generator import Phase

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
MODES = ("open", "closed", "cold-start", "dataplane")
THRESHOLDS = ("max_errors", "p99_ms", "max_ms", "max_seconds_to_all_done", "min_requests", "min_success_rate")
_TOP_KEYS = {
    "name", "description", "mode", "kwake", "service", "autoscaler", "path", "timeout", "max_requests",
    "max_seconds", "phases", "count", "setup", "during", "split", "thresholds", "dataplane_args",
}  # fmt: skip
_STEP_KEYS = {"wait_ready", "patch", "wait_zero", "warm", "at"}


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names file, key and what was expected."""


@dataclass(frozen=True)
class Step:
    wait_ready: float | None = None
    patch: dict[str, Any] | None = None
    wait_zero: float | None = None
    warm: int = 0
    at: float = 0.0


@dataclass(frozen=True)
class Scenario:
    name: str
    source: str
    mode: str
    description: str = ""
    kwake: bool = False
    annotations: dict[str, str] = field(default_factory=dict)
    autoscaler: dict[str, str] = field(default_factory=dict)
    path: str = "/"
    timeout: float = 30.0
    max_requests: int = 10_000
    max_seconds: float = 300.0
    phases: tuple[Phase, ...] = ()
    count: int = 0
    setup: tuple[Step, ...] = ()
    during: tuple[Step, ...] = ()
    split: dict[str, float] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    dataplane_args: tuple[str, ...] = ()

    @property
    def load_seconds(self) -> float:
        return sum(p.seconds for p in self.phases)


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, expected: str, got: Any = None) -> ScenarioError:
        shown = "" if got is None else f", got {got!r}"
        return ScenarioError(f"{self.source}: {key}: expected {expected}{shown}")

    def mapping(self, value: Any, key: str, allowed: set[str] | None = None) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, "a mapping", value)
        for name in value:
            if not isinstance(name, str):
                raise self.fail(key, "string keys", name)
            if allowed is not None and name not in allowed:
                where = f"{key}.{name}" if key else name
                raise self.fail(where, "one of the keys " + ", ".join(sorted(allowed)), name)
        return value

    def number(self, value: Any, key: str, *, minimum: float = 0.0, integer: bool = False) -> float:
        ok = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok or value < minimum:
            kind = "an integer" if integer else "a number"
            raise self.fail(key, f"{kind} >= {minimum:g}", value)
        return float(value)

    def string(self, value: Any, key: str) -> str:
        if not isinstance(value, str):
            raise self.fail(key, "a string", value)
        return value

    def strings(self, value: Any, key: str) -> dict[str, str]:
        data = self.mapping(value, key)
        for name, item in data.items():
            if not isinstance(item, str):
                raise self.fail(f"{key}.{name}", "a string (quote numbers)", item)
        return dict(data)

    def phase(self, value: Any, key: str, mode: str) -> Phase:
        data = self.mapping(value, key, {"seconds", "rate", "rate_to", "burst", "concurrency"})
        if "seconds" not in data:
            raise self.fail(f"{key}.seconds", "the phase's length in seconds")
        seconds = self.number(data["seconds"], f"{key}.seconds")
        if mode == "closed":
            if "concurrency" not in data:
                raise self.fail(f"{key}.concurrency", "connections for a closed-loop phase")
            return Phase(
                seconds,
                concurrency=int(
                    self.number(data["concurrency"], f"{key}.concurrency", minimum=1, integer=True)
                ),
            )
        if "concurrency" in data:
            raise self.fail(f"{key}.concurrency", "no concurrency in an open-loop phase (use rate or burst)")
        rate = self.number(data.get("rate", 0), f"{key}.rate")
        rate_to = self.number(data["rate_to"], f"{key}.rate_to") if "rate_to" in data else None
        burst = int(self.number(data.get("burst", 0), f"{key}.burst", integer=True))
        return Phase(seconds, rate, rate_to, burst)

    def step(self, value: Any, key: str, timed: bool) -> Step:
        data = self.mapping(value, key, _STEP_KEYS if timed else _STEP_KEYS - {"at"})
        actions = [k for k in data if k != "at"]
        if len(actions) != 1:
            raise self.fail(key, "exactly one of wait_ready, patch, wait_zero, warm", sorted(data))
        if timed and "at" not in data:
            raise self.fail(f"{key}.at", "seconds into the load when this step runs")
        at = self.number(data.get("at", 0), f"{key}.at")
        if "patch" in data:
            return Step(patch=self.mapping(data["patch"], f"{key}.patch"), at=at)
        if "warm" in data:
            return Step(warm=int(self.number(data["warm"], f"{key}.warm", integer=True)), at=at)
        if "wait_ready" in data:
            return Step(wait_ready=self.number(data["wait_ready"], f"{key}.wait_ready"), at=at)
        return Step(wait_zero=self.number(data["wait_zero"], f"{key}.wait_zero"), at=at)


def parse(data: Any, source: str) -> Scenario:
    r = _Reader(source)
    top = r.mapping(data, "", _TOP_KEYS)
    if "name" not in top:
        raise r.fail("name", "the scenario's name")
    name = r.string(top["name"], "name")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        raise r.fail("name", "lowercase letters, digits and dashes", name)
    mode = top.get("mode")
    if mode not in MODES:
        raise r.fail("mode", "one of " + ", ".join(MODES), mode)
    phases = tuple(
        r.phase(p, f"phases[{i}]", mode) for i, p in enumerate(_list(r, top.get("phases", []), "phases"))
    )
    if mode in ("open", "closed") and not phases:
        raise r.fail("phases", f"at least one phase for mode {mode}")
    count = int(r.number(top.get("count", 0), "count", integer=True))
    if mode == "cold-start" and count < 1:
        raise r.fail("count", "requests (>= 1) for mode cold-start", top.get("count"))
    thresholds = r.mapping(top.get("thresholds", {}), "thresholds", set(THRESHOLDS))
    split_data = r.mapping(top.get("split", {}), "split")
    split = {k: r.number(v, f"split.{k}") for k, v in split_data.items()}
    if split and abs(sum(split.values()) - 1.0) > 1e-6:
        raise r.fail("split", "shares that add up to 1", split_data)
    service = r.mapping(top.get("service", {}), "service", {"annotations"})
    dataplane_args = _list(r, top.get("dataplane_args", []), "dataplane_args")
    return Scenario(
        name=name,
        source=source,
        mode=mode,
        description=r.string(top.get("description", ""), "description"),
        kwake=bool(top.get("kwake", False)),
        annotations=r.strings(service.get("annotations", {}), "service.annotations"),
        autoscaler=r.strings(top.get("autoscaler", {}), "autoscaler"),
        path=r.string(top.get("path", "/"), "path"),
        timeout=r.number(top.get("timeout", 30.0), "timeout", minimum=0.001),
        max_requests=int(r.number(top.get("max_requests", 10_000), "max_requests", minimum=1, integer=True)),
        max_seconds=r.number(top.get("max_seconds", 300.0), "max_seconds", minimum=1),
        phases=phases,
        count=count,
        setup=_steps(r, top, "setup"),
        during=_steps(r, top, "during"),
        split=split,
        thresholds={k: r.number(v, f"thresholds.{k}") for k, v in thresholds.items()},
        dataplane_args=tuple(r.string(a, f"dataplane_args[{i}]") for i, a in enumerate(dataplane_args)),
    )  # fmt: skip


def _steps(r: _Reader, top: dict[str, Any], key: str) -> tuple[Step, ...]:
    items = _list(r, top.get(key, []), key)
    return tuple(r.step(s, f"{key}[{i}]", key == "during") for i, s in enumerate(items))


def _list(r: _Reader, value: Any, key: str) -> list[Any]:
    if not isinstance(value, list):
        raise r.fail(key, "a list", value)
    return value


def load(name_or_path: str | Path) -> Scenario:
    """A scenario by file path, or by name from loadtests/scenarios/ (`cold-start`)."""
    path = Path(name_or_path)
    if not path.exists() and (SCENARIO_DIR / f"{name_or_path}.yaml").exists():
        path = SCENARIO_DIR / f"{name_or_path}.yaml"
    try:
        text = path.read_text()
    except OSError as exc:
        known = ", ".join(sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml")))
        raise ScenarioError(
            f"{name_or_path}: cannot read ({exc.strerror}); known scenarios: {known}"
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not YAML: {exc}") from exc
    return parse(data, str(path))


def bundled() -> list[Path]:
    return sorted(SCENARIO_DIR.glob("*.yaml"))
