"""Judging a run: Wilson intervals for revision shares, thresholds, the verdict."""

from __future__ import annotations

from typing import Any

import pytest

from loadtests.report import checks, shares, verdict, wilson
from loadtests.scenario import parse


def test_wilson_interval_covers_the_truth_and_narrows_with_samples() -> None:
    low, high = wilson(90, 100, 1.96)
    assert low < 0.9 < high
    wide = high - low
    low, high = wilson(900, 1000, 1.96)
    assert low < 0.9 < high and high - low < wide / 2
    assert wilson(0, 50, 1.96)[0] == 0.0 and wilson(0, 50, 1.96)[1] > 0  # no zero-width at 0


def test_a_split_off_its_expected_share_fails_its_check() -> None:
    scenario = parse(
        {"name": "s", "mode": "open", "phases": [{"seconds": 1, "rate": 1}], "split": {"a": 0.9, "b": 0.1},
         "thresholds": {"max_errors": 0}},
        "s.yaml",
    )  # fmt: skip
    fair: dict[str, Any] = {
        "summary": {"errors": 0, "ok": 600, "sent": 600, "split": shares({"a": 538, "b": 62}, scenario.split)}
    }
    fair["checks"] = checks(scenario, fair)
    assert verdict(fair) == "pass"
    skewed: dict[str, Any] = {
        "summary": {"errors": 0, "ok": 600, "sent": 600, "split": shares({"a": 570, "b": 30}, scenario.split)}
    }
    skewed["checks"] = checks(scenario, skewed)
    assert verdict(skewed) == "fail"
    assert [c["check"] for c in skewed["checks"] if not c["pass"]] == ["share of a", "share of b"]
    assert skewed["summary"]["split"]["b"]["share"] == pytest.approx(0.05)


def test_errors_over_the_limit_fail_and_an_error_wins() -> None:
    scenario = parse(
        {"name": "s", "mode": "cold-start", "count": 1, "thresholds": {"max_errors": 0}}, "s.yaml"
    )
    result: dict[str, Any] = {"summary": {"errors": 2, "ok": 1, "sent": 3}}
    result["checks"] = checks(scenario, result)
    assert verdict(result) == "fail"
    result["error"] = "TimeoutError: not Ready"
    assert verdict(result) == "error"
