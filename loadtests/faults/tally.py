"""What every fault scenario reports, and the table it is printed as.

A `Trace` is the load generator's `Recorder` that also keeps each request's outcome (when it was
meant to be sent, when it ended, its status or the cause it failed for), so a scenario can tell
the requests in flight at the fault from those sent after it. A `Tally` is one scenario's
figures: requests sent, answered, failed by cause (HTTP status, or connect / timeout / reset
for requests without an answer), left unanswered, the failures the fault may explain, time to
recover, the gateway's memory high-water, plus the scenario's own named figures; and the
problems found, each a sentence (an empty list is a pass).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from loadtests.generator import Outcome, Recorder


@dataclass
class Trace(Recorder):
    """A Recorder that also keeps (intended send time, outcome) per request, in perf_counter time."""

    events: list[tuple[float, Outcome]] = field(default_factory=list)
    # time.time() - time.perf_counter() when the trace began: maps its times to wall-clock times.
    wall_offset: float = field(default_factory=lambda: time.time() - time.perf_counter())

    def outcome(self, outcome: Outcome, measured_from: float) -> None:
        self.events.append((measured_from, outcome))
        super().outcome(outcome, measured_from)

    def wall(self, perf: float) -> float:
        return perf + self.wall_offset

    def perf(self, wall: float) -> float:
        return wall - self.wall_offset


def cause(outcome: Outcome) -> str | None:
    """Why a request failed: its HTTP status ("502"), or connect / timeout / reset; None if 2xx-3xx."""
    if outcome.kind is not None:
        return outcome.kind
    if 200 <= outcome.status < 400:
        return None
    return str(outcome.status)


@dataclass
class Tally:
    scenario: str
    sent: int = 0
    answered: int = 0  # got an HTTP response, whatever its status
    ok: int = 0  # 2xx and 3xx
    failed: dict[str, int] = field(default_factory=dict)  # by cause: "502", "connect", "timeout", "reset"
    unanswered: int = 0  # sent, and neither answered nor failed with a counted cause when the run ended
    allowed: int = 0  # failures the fault explains (requests in flight on the pods it killed)
    recover_s: float | None = None
    gateway_hwm_kib: int | None = None
    figures: dict[str, float | int | str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @classmethod
    def from_trace(cls, scenario: str, trace: Trace) -> Tally:
        tally = cls(scenario)
        totals = trace.totals()
        tally.sent = int(str(totals["sent"]))
        for _, outcome in trace.events:
            if outcome.kind is None:
                tally.answered += 1
            why = cause(outcome)
            if why is None:
                tally.ok += 1
            else:
                tally.failed[why] = tally.failed.get(why, 0) + 1
        tally.unanswered = tally.sent - len(trace.events)
        return tally

    @property
    def failures(self) -> int:
        return sum(self.failed.values())

    @property
    def passed(self) -> bool:
        return not self.problems

    def check(self, condition: bool, problem: str) -> None:
        """Record `problem` unless `condition` holds."""
        if not condition:
            self.problems.append(problem)


def _num(value: float | int | str | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}{unit}"
    return f"{value}{unit}"


def _causes(tally: Tally) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(tally.failed.items())) or "none"


COLUMNS = ("scenario", "sent", "answered", "ok", "failed by cause", "unanswered", "allowed",
           "recover s", "gateway HWM MiB", "verdict")  # fmt: skip


def _row(tally: Tally) -> list[str]:
    hwm = None if tally.gateway_hwm_kib is None else tally.gateway_hwm_kib / 1024
    return [
        tally.scenario,
        str(tally.sent),
        str(tally.answered),
        str(tally.ok),
        _causes(tally),
        str(tally.unanswered),
        str(tally.allowed),
        _num(tally.recover_s),
        _num(hwm),
        "pass" if tally.passed else "FAIL",
    ]


def render(tally: Tally) -> str:
    """One scenario as a plain-text table, its own figures and problems under it."""
    rows = [list(COLUMNS), _row(tally)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for name, value in tally.figures.items():
        lines.append(f"  {name}: {_num(value)}")
    for problem in tally.problems:
        lines.append(f"  PROBLEM: {problem}")
    return "\n".join(lines)


def markdown(tallies: Sequence[Tally]) -> str:
    """The tallies as one Markdown table, then each scenario's own figures."""
    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    out += ["| " + " | ".join(_row(t)) + " |" for t in tallies]
    for tally in tallies:
        if tally.figures:
            out.append("")
            out.append(f"{tally.scenario}: " + "; ".join(f"{k} {_num(v)}" for k, v in tally.figures.items()))
    return "\n".join(out)
