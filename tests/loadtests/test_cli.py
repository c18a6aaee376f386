"""`python -m loadtests run` against bad targets still writes a result; `compare` reads two."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from loadtests import plot
from loadtests.__main__ import main
from loadtests.dataplane import _free_port


def _scenario(tmp_path: Path, **extra: object) -> Path:
    path = tmp_path / "quick.yaml"
    body = {"name": "quick", "mode": "open", "timeout": 2, "phases": [{"seconds": 0.5, "rate": 20}]}
    path.write_text(yaml.safe_dump({**body, **extra}))
    return path


def _only_result(out: Path) -> dict[str, object]:
    [path] = out.glob("*.json")
    result: dict[str, object] = json.loads(path.read_text())
    return result


def test_an_unreachable_target_fails_clearly_with_a_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    target = f"http://127.0.0.1:{_free_port()}"
    code = main(
        ["run", str(_scenario(tmp_path, thresholds={"max_errors": 0})), "--target", target, "--out", str(out)]
    )
    assert code == 1
    result = _only_result(out)
    assert result["verdict"] == "fail"
    summary = result["summary"]
    assert isinstance(summary, dict)
    assert summary["ok"] == 0 and summary["errors_by_kind"] == {"connect": 10}
    assert "connect" in str(summary["first_error"])
    text = capsys.readouterr().out
    assert "FAIL max_errors: 10" in text and "by kind {'connect': 10}" in text


def test_a_kwake_scenario_without_kwake_is_an_error_with_a_partial_result(tmp_path: Path) -> None:
    out = tmp_path / "out"
    scenario = _scenario(tmp_path, kwake=True)
    assert main(["run", str(scenario), "--target", "http://127.0.0.1:9", "--out", str(out)]) == 2
    result = _only_result(out)
    assert result["verdict"] == "error"
    assert "--kwake-up" in str(result["error"])
    assert isinstance(result["machine"], dict) and result["machine"]["cpus"]


def test_compare_prints_a_table_and_plots_when_it_can(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    target = f"http://127.0.0.1:{_free_port()}"
    main(["run", str(_scenario(tmp_path)), "--target", target, "--out", str(out)])
    [a] = out.glob("*.json")
    b = a.with_name("b.json")
    b.write_text(a.read_text())
    capsys.readouterr()
    assert main(["compare", str(a), str(b), "--out", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert "errors" in table and "p99 ms" in table
    assert bool(list(tmp_path.glob("compare-*.png"))) == plot.available()
