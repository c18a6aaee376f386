"""Go duration strings ("60s", "1m30s", "500ms"), parsed as Go's time.ParseDuration does.

Knative reads every duration in config-autoscaler and in the autoscaling annotations with
time.ParseDuration, so "60" (no unit) is an error while "0" is allowed. We keep integer
nanoseconds so that the "whole seconds" checks are exact.
"""

from __future__ import annotations

import re
from fractions import Fraction

NANOS_PER_SECOND = 1_000_000_000

_UNIT_NANOS: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek mu
    "ms": 1_000_000,
    "s": NANOS_PER_SECOND,
    "m": 60 * NANOS_PER_SECOND,
    "h": 3600 * NANOS_PER_SECOND,
}
_COMPONENT = re.compile(r"(\d*)(?:\.(\d*))?(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")


class DurationError(ValueError):
    """The text is not a Go duration."""


def parse_duration_ns(text: str) -> int:
    """Parse a Go duration into integer nanoseconds (truncating below 1 ns, as Go does)."""
    s = text
    sign = 1
    if s[:1] in ("+", "-"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise DurationError(f"invalid duration {text!r}")
    total = Fraction(0)
    pos = 0
    while pos < len(s):
        match = _COMPONENT.match(s, pos)
        if match is None:
            raise DurationError(f"invalid duration {text!r}")
        whole, frac, unit = match.group(1), match.group(2), match.group(3)
        if not whole and not frac:
            raise DurationError(f"invalid duration {text!r}")
        value = Fraction(int(whole or "0"))
        if frac:
            value += Fraction(int(frac), 10 ** len(frac))
        total += value * _UNIT_NANOS[unit]
        pos = match.end()
    return sign * int(total)


def parse_duration_seconds(text: str) -> float:
    return parse_duration_ns(text) / NANOS_PER_SECOND


def is_whole_seconds(nanos: int) -> bool:
    return nanos % NANOS_PER_SECOND == 0


def format_seconds(seconds: float) -> str:
    """Render seconds the way Go prints a Duration for whole seconds (e.g. 1m30s, 1h0m0s)."""
    total = int(seconds)
    if total != seconds:
        return f"{seconds}s"
    if total == 0:
        return "0s"
    sign = "-" if total < 0 else ""
    total = abs(total)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{sign}{minutes}m{secs}s"
    return f"{sign}{secs}s"
