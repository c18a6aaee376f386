"""End to end: a short cold-start scenario against a `kwake up` the harness starts itself."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from loadtests import plot
from loadtests.__main__ import main
from tests.test_up_e2e import processes_mentioning


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_cold_start_scenario_against_kwake_up_writes_a_result_and_a_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "cold.yaml"
    scenario.write_text(
        yaml.safe_dump(
            {
                "name": "cold-start-short",
                "mode": "cold-start",
                "kwake": True,
                "autoscaler": {"stable-window": "6s", "scale-to-zero-grace-period": "1s"},
                "count": 1,
                "timeout": 30,
                "max_seconds": 120,
                "setup": [{"wait_zero": 90}],
                "thresholds": {"max_errors": 0, "min_requests": 1},
            }
        )
    )
    out = tmp_path / "out"
    code = main(["run", str(scenario), "--kwake-up", "--keep-logs", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0, text
    [path] = out.glob("*.json")
    result = json.loads(path.read_text())
    assert result["verdict"] == "pass"
    [cold] = result["summary"]["cold_starts"]
    assert cold["status"] == 200
    assert cold["ttfb_ms"] > 0 and cold["app_start_alone_ms"] > 0
    # The autoscaler's view was sampled each second: the revision went 0 -> 1 ready.
    ready = [(row.get("replicas") or {}).get("hello-00001", {}).get("ready") for row in result["series"]]
    assert 1 in ready
    assert "cold start: ttfb" in text
    assert path.with_suffix(".png").exists() == plot.available()
    # Its logs were kept: the access log holds the cold request, served by hello-00001.
    access = (out / "cold-start-short-kwake-logs" / "access.log").read_text().splitlines()
    assert [json.loads(line)["revision"] for line in access] == ["hello-00001"]
    # kwake up was stopped: nothing of it is left.
    state = str(Path(result["settings"]["options"]["kubeconfig"]).parent.parent)
    deadline = time.monotonic() + 10
    while processes_mentioning(state) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_mentioning(state) == []
