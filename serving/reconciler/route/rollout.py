"""Gradual rollout of a Configuration's newest ready Revision (route/traffic/rollout.go).

When a latestRevision target's Configuration gets a new ready Revision and a rollout duration is
set, the new Revision first gets 1% (taken from the newest older Revision that still has
traffic). Once the ingress serves that, `observe_ready()` fixes the step plan:
    min_step  = max(1 s, time the first 1% took)
    num_steps = max(1, (duration - min_step) / min_step), at most percent - 1
    step_size = round((percent - 1) / num_steps)
    step_duration = (duration - min_step) / num_steps
and `step()` moves step_size percent from the oldest Revisions to the newest every
step_duration until the newest carries the whole share. The state lives in the KIngress
annotation networking.internal.knative.dev/rollout (times are float seconds here).

kwake simplification: if a Configuration's total percent changes mid-rollout, the rollout is
dropped and the new shape applies at once (Knative rescales the in-flight shares).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from serving.api import keys
from serving.api.config import Config
from serving.api.durations import DurationError, parse_duration
from serving.api.types import Route
from serving.reconciler.route.traffic import ResolvedTraffic


@dataclass(frozen=True)
class RevisionRollout:
    revision_name: str
    percent: int


@dataclass(frozen=True)
class StepParams:
    start_time: float = 0.0
    next_step_time: float = 0.0
    step_duration: float = 0.0
    step_size: int = 0


@dataclass(frozen=True)
class ConfigurationRollout:
    configuration_name: str
    tag: str
    percent: int
    revisions: tuple[RevisionRollout, ...]
    step_params: StepParams = StepParams()

    @property
    def in_progress(self) -> bool:
        return len(self.revisions) > 1


@dataclass(frozen=True)
class Rollout:
    configurations: tuple[ConfigurationRollout, ...] = ()

    @property
    def in_progress(self) -> bool:
        return any(c.in_progress for c in self.configurations)

    def for_target(self, tag: str, configuration_name: str) -> ConfigurationRollout | None:
        for c in self.configurations:
            if c.tag == tag and c.configuration_name == configuration_name:
                return c
        return None

    def next_step_time(self) -> float | None:
        """When step() next has work to do, for a requeue; None when nothing is scheduled."""
        times = [
            c.step_params.next_step_time
            for c in self.configurations
            if c.in_progress and c.step_params.step_duration
        ]
        return min(times) if times else None

    def to_json(self) -> str:
        return json.dumps({"configurations": [_config_body(c) for c in self.configurations]}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> Rollout | None:
        if not text:
            return None
        try:
            body = json.loads(text)
            return cls(tuple(_config_from_body(c) for c in body.get("configurations") or []))
        except (ValueError, TypeError, KeyError, AttributeError):
            return None  # a damaged annotation is treated as "no previous rollout"


def _config_body(c: ConfigurationRollout) -> dict[str, Any]:
    p = c.step_params
    return {
        "configurationName": c.configuration_name,
        "tag": c.tag,
        "percent": c.percent,
        "revisions": [{"revisionName": r.revision_name, "percent": r.percent} for r in c.revisions],
        "stepParams": {
            "startTime": p.start_time,
            "nextStepTime": p.next_step_time,
            "stepDuration": p.step_duration,
            "stepSize": p.step_size,
        },
    }


def _config_from_body(b: Mapping[str, Any]) -> ConfigurationRollout:
    p = b.get("stepParams") or {}
    return ConfigurationRollout(
        configuration_name=b["configurationName"],
        tag=b.get("tag", ""),
        percent=int(b["percent"]),
        revisions=tuple(
            RevisionRollout(r["revisionName"], int(r["percent"])) for r in b.get("revisions") or []
        ),
        step_params=StepParams(
            float(p.get("startTime", 0)),
            float(p.get("nextStepTime", 0)),
            float(p.get("stepDuration", 0)),
            int(p.get("stepSize", 0)),
        ),
    )


def rollout_duration(route: Route, cfg: Config) -> float:
    """serving.knative.dev/rollout-duration on the Route, else config-network's rollout-duration."""
    raw = route.meta.annotations.get(keys.ROLLOUT_DURATION_ANNOTATION)
    if raw:
        try:
            return max(0.0, parse_duration(raw))
        except DurationError:
            pass
    return float(cfg.network.rollout_duration_seconds)


def goal_rollout(resolved: ResolvedTraffic) -> Rollout:
    """The shape traffic should end in: each latestRevision share on its newest ready Revision."""
    out = []
    for tag in sorted(resolved.targets):
        for t in resolved.targets[tag]:
            if t.latest_revision and t.configuration_name and t.percent > 0:
                out.append(
                    ConfigurationRollout(
                        t.configuration_name, tag, t.percent, (RevisionRollout(t.revision_name, t.percent),)
                    )
                )
    return Rollout(tuple(sorted(out, key=lambda c: (c.tag, c.configuration_name))))


def step(prev: Rollout | None, goal: Rollout, now: float) -> Rollout:
    """Merge the previous state with the goal at time `now`."""
    if prev is None:
        return goal
    return Rollout(
        tuple(_step_config(prev.for_target(g.tag, g.configuration_name), g, now) for g in goal.configurations)
    )


def _step_config(
    prev: ConfigurationRollout | None, goal: ConfigurationRollout, now: float
) -> ConfigurationRollout:
    if prev is None or not prev.revisions or prev.percent != goal.percent:
        return goal
    newest = goal.revisions[-1].revision_name
    if prev.revisions[-1].revision_name != newest:
        if goal.percent < 2:
            return goal  # nothing to share out
        revs = [r for r in prev.revisions if r.revision_name != newest]
        for i in range(len(revs) - 1, -1, -1):
            if revs[i].percent > 0:
                revs[i] = replace(revs[i], percent=revs[i].percent - 1)
                break
        revs = [r for r in revs if r.percent > 0]
        return replace(
            goal, revisions=(*revs, RevisionRollout(newest, 1)), step_params=StepParams(start_time=now)
        )
    if not prev.in_progress:
        return goal
    params = prev.step_params
    if not params.step_duration or now < params.next_step_time:
        return prev
    return _advance(prev, goal, now)


def _advance(prev: ConfigurationRollout, goal: ConfigurationRollout, now: float) -> ConfigurationRollout:
    params = prev.step_params
    revs = list(prev.revisions)
    move = params.step_size
    for i in range(len(revs) - 1):
        if move <= 0:
            break
        take = min(move, revs[i].percent)
        revs[i] = replace(revs[i], percent=revs[i].percent - take)
        revs[-1] = replace(revs[-1], percent=revs[-1].percent + take)
        move -= take
    revs = [r for r in revs if r.percent > 0]
    if len(revs) == 1:
        return goal
    return replace(
        prev, revisions=tuple(revs), step_params=replace(params, next_step_time=now + params.step_duration)
    )


def observe_ready(rollout: Rollout, now: float, duration: float) -> Rollout:
    """The ingress serves the current shape: plan the steps of rollouts that have none yet."""
    out = []
    for c in rollout.configurations:
        if not c.in_progress or c.step_params.step_duration:
            out.append(c)
            continue
        min_step = max(1.0, now - c.step_params.start_time)
        remaining = c.percent - c.revisions[-1].percent
        num_steps = max(1, min(remaining, math.floor((duration - min_step) / min_step)))
        step_size = max(1, round(remaining / num_steps))
        step_duration = max(0.0, duration - min_step) / num_steps
        # A zero step duration would read as "not planned yet"; a tiny one steps at once instead.
        params = StepParams(c.step_params.start_time, now + step_duration, step_duration or 1e-9, step_size)
        out.append(replace(c, step_params=params))
    return Rollout(tuple(out))
