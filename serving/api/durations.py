"""Go `time.ParseDuration` strings ("48h", "1m30s", "500ms", "0"), as Go parses them.

Knative reads every duration in its ConfigMaps and autoscaling annotations with
time.ParseDuration, so kwake parses the same syntax: "60" (no unit) is an error while "0" is
allowed, and nothing is trimmed. Values are kept as integer nanoseconds so that the "whole
seconds" checks are exact; `parse_duration` gives float seconds for everyone else.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Final

NANOS_PER_SECOND: Final = 1_000_000_000

_UNIT_NANOS: Final = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek mu
    "ms": 1_000_000,
    "s": NANOS_PER_SECOND,
    "m": 60 * NANOS_PER_SECOND,
    "h": 3600 * NANOS_PER_SECOND,
}
_COMPONENT: Final = re.compile(r"(\d*)(?:\.(\d*))?(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")


class DurationError(ValueError):
    """The text is not a Go duration."""


def parse_duration_ns(text: str) -> int:
    """Integer nanoseconds in a Go duration (truncating below 1 ns, as Go does)."""
    s, sign = text, 1
    if s[:1] in ("+", "-"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise DurationError(f'time: invalid duration "{text}"')
    total, pos = Fraction(0), 0
    while pos < len(s):
        match = _COMPONENT.match(s, pos)
        whole, frac = (match.group(1), match.group(2)) if match else ("", None)
        if match is None or (not whole and not frac):
            raise DurationError(f'time: invalid duration "{text}"')
        value = Fraction(int(whole or "0"))
        if frac:
            value += Fraction(int(frac), 10 ** len(frac))
        total += value * _UNIT_NANOS[match.group(3)]
        pos = match.end()
    return sign * int(total)


def parse_duration(text: str) -> float:
    """Seconds in a Go duration string; raises DurationError on bad syntax."""
    return parse_duration_ns(text) / NANOS_PER_SECOND


def is_whole_seconds(nanos: int) -> bool:
    return nanos % NANOS_PER_SECOND == 0


def format_duration(seconds: float) -> str:
    """Seconds as Go prints a Duration (`90` -> `1m30s`, `3600` -> `1h0m0s`), used in messages."""
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds}s"
    if whole == 0:
        return "0s"
    hours, rest = divmod(abs(whole), 3600)
    minutes, secs = divmod(rest, 60)
    out = "-" if whole < 0 else ""
    if hours:
        out += f"{hours}h"
    if hours or minutes:
        out += f"{minutes}m"
    return out + f"{secs}s"
