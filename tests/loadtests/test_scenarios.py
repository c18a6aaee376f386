"""Scenario files: the bundled ones validate; bad ones are refused naming file, key and want."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from loadtests.__main__ import main
from loadtests.runner import ideal_replicas
from loadtests.scenario import ScenarioError, bundled, load, parse

EXPECTED = {"cold-start", "burst-from-zero", "step", "ramp", "split", "rollout", "scale-down", "dataplane"}


def test_every_bundled_scenario_validates() -> None:
    names = {path.stem for path in bundled()}
    assert names >= EXPECTED
    for path in bundled():
        scenario = load(path)
        assert scenario.name == path.stem
    assert load("burst-from-zero").phases[0].burst == 200
    assert [p.concurrency for p in load("step").phases] == [10, 100, 10]
    assert load("split").split == {"hello-00001": 0.9, "hello-00002": 0.1}
    assert load("rollout").during[0].patch is not None


OPEN = {"name": "x", "mode": "open"}
COLD = {"name": "x", "mode": "cold-start", "count": 1}


@pytest.mark.parametrize(
    ("data", "key", "expected"),
    [
        ({"mode": "open"}, "name", "the scenario's name"),
        ({"name": "x", "mode": "opne"}, "mode", "one of open, closed"),
        ({**OPEN, "phases": [{"seconds": 1, "rate": "fast"}]}, "phases[0].rate", "a number"),
        ({**OPEN, "phases": [{"rate": 5}]}, "phases[0].seconds", "length in seconds"),
        ({"name": "x", "mode": "closed", "phases": [{"seconds": 1}]}, "phases[0].concurrency", "connections"),
        ({**OPEN, "phases": []}, "phases", "at least one phase"),
        ({**OPEN, "phases": [{"seconds": 1, "rate": 1}], "thresold": {}}, "thresold", "one of"),
        ({"name": "x", "mode": "cold-start"}, "count", "requests"),
        ({**COLD, "during": [{"patch": {}}]}, "during[0].at", "seconds"),
        ({**COLD, "split": {"a": 0.5}}, "split", "add up to 1"),
        ({**OPEN, "phases": [{"seconds": 1}], "service": {"annotations": {"a": 10}}},
         "service.annotations.a", "a string"),
    ],
)  # fmt: skip
def test_bad_scenarios_name_file_key_and_expectation(data: object, key: str, expected: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse(data, "bad.yaml")
    message = str(caught.value)
    assert message.startswith(f"bad.yaml: {key}: expected"), message
    assert expected in message


def test_check_command_reports_bad_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"name": "bad", "mode": "open", "phases": [{"seconds": -1}]}))
    assert main(["check", str(bad)]) == 1
    assert f"{bad}: phases[0].seconds: expected a number >= 0, got -1" in capsys.readouterr().out
    assert main(["check"]) == 0


def test_run_refuses_remote_targets_and_unknown_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "step", "--target", "http://192.0.2.1:80"]) == 2
    assert "--allow-remote" in capsys.readouterr().err
    assert main(["run", "no-such-scenario", "--target", "http://127.0.0.1:1"]) == 2
    assert "known scenarios: burst-from-zero" in capsys.readouterr().err


def test_the_step_scenario_has_an_ideal_replica_timeline() -> None:
    ideal = ideal_replicas(load("step"))
    # target 10 at 70 % utilization: 10 connections want 2 pods, 100 want 15.
    assert ideal[:15] == [2] * 15 and ideal[15:35] == [15] * 20 and ideal[35:] == [2] * 15
