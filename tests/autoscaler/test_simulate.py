"""The trace-replay simulator and its command line, on small generated traces."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from autoscaler import simulate as cli
from autoscaler.simulator import Trace, simulate


def write_trace(path: Path, column: str, values: list[float]) -> Path:
    lines = [f"second,{column}"] + [f"{s},{v}" for s, v in enumerate(values)]
    path.write_text("\n".join(lines) + "\n")
    return path


def burst_then_idle() -> list[float]:
    return [5.0] * 30 + [300.0] * 40 + [0.0] * 10


def test_cli_prints_a_summary_and_writes_the_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = write_trace(tmp_path / "trace.csv", "concurrency", burst_then_idle())
    out = tmp_path / "out"
    code = cli.main([str(trace), "--tail-seconds", "150", "--pod-start-seconds", "3", "--out", str(out)])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads((out / "simulation.json").read_text())
    assert printed["cold_starts"] == written["cold_starts"] == 1
    assert printed["seconds"] == 230
    assert printed["max_replicas"] == 5  # ceil(300 / 70)
    assert printed["seconds_over_capacity"] > 0
    assert printed["excess_demand"] > 0
    assert printed["pod_seconds"] >= printed["ready_pod_seconds"] > 0
    timeline = printed["timeline"]
    assert timeline["replicas"][-1] == 0  # idle long enough: scaled to zero
    assert len(timeline["second"]) == len(timeline["replicas"]) == 230
    png = out / "simulation.png"
    assert (written["plot"] is None) == (not png.exists())


def test_annotations_change_the_outcome(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = write_trace(tmp_path / "trace.csv", "concurrency", burst_then_idle())
    assert cli.main([str(trace), "--annotation", "min-scale=2", "--tail-seconds", "150"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["spec"]["min_scale"] == 2
    assert summary["timeline"]["replicas"][-1] == 2


def test_arrivals_trace_with_mean_duration(tmp_path: Path) -> None:
    trace = cli.read_trace(write_trace(tmp_path / "a.csv", "arrivals", [10.0, 10.0, 10.0, 0.0, 0.0]), 2.0)
    np.testing.assert_array_equal(trace.concurrency, [10.0, 20.0, 20.0, 10.0, 0.0])
    np.testing.assert_array_equal(trace.requests, [10.0, 10.0, 10.0, 0.0, 0.0])
    half = Trace.from_arrivals(np.array([4.0, 0.0]), 0.5)
    np.testing.assert_array_equal(half.concurrency, [2.0, 0.0])


def test_missing_seconds_count_as_zero(tmp_path: Path) -> None:
    path = tmp_path / "sparse.csv"
    path.write_text("second,concurrency\n0,4\n3,8\n")
    trace = cli.read_trace(path, 1.0)
    np.testing.assert_array_equal(trace.concurrency, [4.0, 0.0, 0.0, 8.0])


@pytest.mark.parametrize(
    "content",
    ["time,load\n0,1\n", "second,concurrency\n", "second,concurrency\n0,-1\n", "second,concurrency\nx,1\n"],
)
def test_bad_traces_are_rejected(tmp_path: Path, content: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert cli.main([str(path)]) == 2
    assert capsys.readouterr().err


def test_invalid_annotation_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = write_trace(tmp_path / "t.csv", "concurrency", [1.0])
    assert cli.main([str(trace), "--annotation", "window=2s"]) == 2
    assert "window" in capsys.readouterr().err


def test_slower_pods_spend_more_time_over_capacity() -> None:
    trace = Trace.from_concurrency(np.array(burst_then_idle()), 1.0)
    fast = simulate(trace, pod_start_seconds=1.0)
    slow = simulate(trace, pod_start_seconds=20.0)
    assert slow.seconds_over_capacity > fast.seconds_over_capacity
    assert slow.excess_demand > fast.excess_demand
    assert fast.cold_starts == slow.cold_starts == 1


def test_scale_from_zero_with_initial_pods_idle() -> None:
    trace = Trace.from_concurrency(np.array([0.0] * 100 + [50.0] * 20), 1.0)
    result = simulate(trace, pod_start_seconds=2.0, initial_pods=1, tail_seconds=0)
    assert result.replicas[99] == 0  # idle: scaled to zero
    assert result.cold_starts == 1  # and back up when traffic came
    assert result.ready[-1] == 1
