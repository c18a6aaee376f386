"""Condition sets: a happy condition (Ready) computed from declared dependents.

Semantics follow knative.dev/pkg/apis/condition_set.go:
- marking a dependent False makes Ready False with the same reason and message;
- marking a dependent Unknown makes Ready Unknown, unless a dependent is already False;
- marking a dependent True makes Ready True once every dependent is True, else Ready takes the
  most recent unhappy dependent's state;
- a condition's lastTransitionTime changes only when its status, reason or message changes;
- conditions outside the set (Revision's Active) carry severity Info and never touch Ready.
Every function takes a status mapping and returns a new status dict; `now` is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from serving.api.meta import Condition, conditions_of, format_time

TRUE = "True"
FALSE = "False"
UNKNOWN = "Unknown"
SEVERITY_INFO = "Info"


@dataclass(frozen=True)
class ConditionSet:
    happy: str
    dependents: tuple[str, ...]

    def severity(self, type_: str) -> str:
        return "" if type_ == self.happy or type_ in self.dependents else SEVERITY_INFO

    def initialize(self, status: Mapping[str, Any] | None, now: float) -> dict[str, Any]:
        """Add every condition of the set as Unknown where it is missing."""
        out = _copy(status)
        present = {c.type for c in conditions_of(out)}
        happy = get(out, self.happy)
        for t in (self.happy, *self.dependents):
            if t in present:
                continue
            # A Ready=True object that gains a new dependent keeps it True (Knative does the same).
            state = TRUE if happy is not None and happy.is_true and t != self.happy else UNKNOWN
            out = _set(out, Condition(type=t, status=state, severity=self.severity(t)), now)
        return out

    def mark_true(
        self, status: Mapping[str, Any] | None, type_: str, now: float, reason: str = "", message: str = ""
    ) -> dict[str, Any]:
        out = _set(status, Condition(type_, TRUE, reason, message, severity=self.severity(type_)), now)
        if type_ == self.happy or type_ not in self.dependents:
            return out
        unhappy = self._unhappy_dependent(out)
        if unhappy is not None:
            happy = Condition(self.happy, unhappy.status, unhappy.reason, unhappy.message)
        else:
            happy = Condition(self.happy, TRUE, reason, message)
        return _set(out, happy, now)

    def mark_unknown(
        self, status: Mapping[str, Any] | None, type_: str, reason: str, message: str, now: float
    ) -> dict[str, Any]:
        out = _set(status, Condition(type_, UNKNOWN, reason, message, severity=self.severity(type_)), now)
        if type_ not in self.dependents:
            return out
        for dep in self.dependents:
            c = get(out, dep)
            if c is not None and c.is_false:
                # A failed dependent trumps an unknown one: Ready stays (or becomes) False.
                happy = get(out, self.happy)
                if happy is None or not happy.is_false:
                    out = _set(out, Condition(self.happy, FALSE, c.reason, c.message), now)
                return out
        return _set(out, Condition(self.happy, UNKNOWN, reason, message), now)

    def mark_false(
        self, status: Mapping[str, Any] | None, type_: str, reason: str, message: str, now: float
    ) -> dict[str, Any]:
        out = _set(status, Condition(type_, FALSE, reason, message, severity=self.severity(type_)), now)
        if type_ in self.dependents:
            out = _set(out, Condition(self.happy, FALSE, reason, message), now)
        return out

    def is_happy(self, status: Mapping[str, Any] | None) -> bool:
        c = get(status, self.happy)
        return c is not None and c.is_true

    def _unhappy_dependent(self, status: Mapping[str, Any]) -> Condition | None:
        """The most recently changed False dependent, else the most recent Unknown one."""
        deps = [get(status, d) or Condition(d) for d in self.dependents]
        for state in (FALSE, UNKNOWN):
            found = [c for c in deps if c.status == state or (state == UNKNOWN and c.is_unknown)]
            if found:
                return max(found, key=lambda c: c.last_transition_time)
        return None


def get(status: Mapping[str, Any] | None, type_: str) -> Condition | None:
    for c in conditions_of(status):
        if c.type == type_:
            return c
    return None


def _copy(status: Mapping[str, Any] | None) -> dict[str, Any]:
    """A copy safe to change conditions in: conditions are copied, other fields shared (they are
    only ever replaced, never changed in place, by the functions of this package)."""
    out = dict(status or {})
    if "conditions" in out:
        out["conditions"] = [dict(c) for c in out["conditions"] or []]
    return out


def _set(status: Mapping[str, Any] | None, cond: Condition, now: float) -> dict[str, Any]:
    """Put `cond` in place; keep the old lastTransitionTime when nothing about it changed."""
    out = _copy(status)
    old = get(out, cond.type)
    if (
        old is not None
        and old.status == cond.status
        and old.reason == cond.reason
        and old.message == cond.message
        and old.severity == cond.severity
    ):
        return out
    new = Condition(cond.type, cond.status, cond.reason, cond.message, format_time(now), cond.severity)
    others = [c for c in out.get("conditions") or [] if c.get("type") != cond.type]
    out["conditions"] = sorted([*others, new.to_body()], key=lambda c: str(c.get("type")))
    return out
