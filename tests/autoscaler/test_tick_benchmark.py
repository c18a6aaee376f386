"""The tick benchmark runs and reports its figures (speed itself is not asserted here)."""

from __future__ import annotations

from loadtests import autoscaler_tick


def test_measure_reports_every_figure() -> None:
    result = autoscaler_tick.measure(50, ticks=3, max_seconds=10.0)
    assert result["revisions"] == 50
    assert result["ticks"] == 3
    for key in ("tick_ms_median", "tick_ms_p99", "record_ms_median", "array_mb", "allocated_peak_mb"):
        assert result[key] > 0, key
    assert result["tick_ms_p99"] >= result["tick_ms_median"]
