"""The gateway-to-autoscaler messages, parsed and validated (no I/O).

Agreed with the gateway:

* `POST /stats` `{"gateway": "<pod or process id>", "timestamp": <unix seconds>, "stats":
  [{"namespace": str, "revision": str, "concurrency": float, "requests": int}]}` where
  concurrency is the time-weighted average over the last second and requests the count started
  in it;
* `POST /poke` `{"namespace": str, "revision": str}`: a request waits for a revision.

A message with any negative, NaN or mistyped value is rejected whole, so a broken gateway is
seen at once rather than half-counted.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any


class InvalidMessage(ValueError):
    def __init__(self, problems: list[str], bad_stats: int = 0) -> None:
        self.problems = problems
        self.bad_stats = bad_stats
        super().__init__("; ".join(problems))


@dataclasses.dataclass(frozen=True)
class RevisionStat:
    namespace: str
    revision: str
    concurrency: float
    requests: float


@dataclasses.dataclass(frozen=True)
class StatsMessage:
    gateway: str
    timestamp: float
    stats: tuple[RevisionStat, ...]


@dataclasses.dataclass(frozen=True)
class Poke:
    namespace: str
    revision: str


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _name(body: dict[str, Any], field: str, problems: list[str], where: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value:
        problems.append(f"{where}{field} must be a non-empty string")
        return ""
    return value


def parse_stats(body: Any) -> StatsMessage:
    if not isinstance(body, dict):
        raise InvalidMessage(["the body must be a JSON object"])
    problems: list[str] = []
    gateway = _name(body, "gateway", problems, "")
    timestamp = _number(body.get("timestamp"))
    if timestamp is None or not math.isfinite(timestamp) or timestamp < 0:
        problems.append("timestamp must be a non-negative number of seconds")
    raw_stats = body.get("stats")
    if not isinstance(raw_stats, list):
        raise InvalidMessage([*problems, "stats must be a list"])
    stats: list[RevisionStat] = []
    bad = 0
    for i, raw in enumerate(raw_stats):
        where = f"stats[{i}]."
        if not isinstance(raw, dict):
            problems.append(f"stats[{i}] must be an object")
            bad += 1
            continue
        before = len(problems)
        namespace = _name(raw, "namespace", problems, where)
        revision = _name(raw, "revision", problems, where)
        concurrency = _number(raw.get("concurrency"))
        if concurrency is None or not math.isfinite(concurrency) or concurrency < 0:
            problems.append(f"{where}concurrency must be a finite number >= 0")
        requests = _number(raw.get("requests"))
        if requests is None or not math.isfinite(requests) or requests < 0 or not requests.is_integer():
            problems.append(f"{where}requests must be an integer >= 0")
        if len(problems) > before:
            bad += 1
            continue
        assert concurrency is not None and requests is not None
        stats.append(RevisionStat(namespace, revision, concurrency, requests))
    if problems:
        raise InvalidMessage(problems, bad_stats=bad)
    assert timestamp is not None
    return StatsMessage(gateway=gateway, timestamp=timestamp, stats=tuple(stats))


def parse_poke(body: Any) -> Poke:
    if not isinstance(body, dict):
        raise InvalidMessage(["the body must be a JSON object"])
    problems: list[str] = []
    namespace = _name(body, "namespace", problems, "")
    revision = _name(body, "revision", problems, "")
    if problems:
        raise InvalidMessage(problems)
    return Poke(namespace, revision)
