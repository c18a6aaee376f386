"""Per-revision autoscaling annotations: admission validation and the resolved spec."""

from __future__ import annotations

import pytest

from autoscaler.kpa import annotations as ann
from autoscaler.kpa.config import AutoscalerConfig

G = "autoscaling.knative.dev"
CFG = AutoscalerConfig()


@pytest.mark.parametrize(
    "annotations",
    [
        {},
        {f"{G}/class": "kpa.autoscaling.knative.dev", f"{G}/metric": "rps"},
        {f"{G}/class": "hpa.autoscaling.knative.dev", f"{G}/metric": "cpu"},
        {f"{G}/class": "example.com/custom", f"{G}/metric": "anything"},
        {f"{G}/target": "0.01"},
        {f"{G}/target-utilization-percentage": "1"},
        {f"{G}/targetUtilizationPercentage": "100"},
        {f"{G}/target-burst-capacity": "-1"},
        {f"{G}/target-burst-capacity": "0"},
        {f"{G}/min-scale": "2", f"{G}/max-scale": "2"},
        {f"{G}/minScale": "3", f"{G}/maxScale": "0"},
        {f"{G}/activation-scale": "2", f"{G}/min-scale": "1", f"{G}/max-scale": "3"},
        {f"{G}/scale-down-delay": "0"},
        {f"{G}/scale-down-delay": "1h"},
        {f"{G}/window": "6s"},
        {f"{G}/window": "1h"},
        {f"{G}/panic-window-percentage": "1"},
        {f"{G}/panic-threshold-percentage": "110"},
        {f"{G}/panic-threshold-percentage": "1000"},
        {f"{G}/scale-to-zero-pod-retention-period": "1m5s"},
        {f"{G}/scale-to-zero-pod-retention-period": "1.5s"},
        {
            f"{G}/class": "kpa.autoscaling.knative.dev",
            f"{G}/metric-aggregation-algorithm": "weightedExponential",
        },
        {f"{G}/initial-scale": "3"},
        # Knative checks the algorithm only with an explicit KPA class annotation.
        {f"{G}/metric-aggregation-algorithm": "median"},
    ],
)
def test_valid_annotations(annotations: dict[str, str]) -> None:
    assert ann.validate_annotations(annotations, CFG) == []


@pytest.mark.parametrize(
    ("annotations", "fragment"),
    [
        ({f"{G}/class": "xpa.autoscaling.knative.dev"}, "class"),
        ({f"{G}/metric": "cpu"}, "metric"),
        ({f"{G}/class": "kpa.autoscaling.knative.dev", f"{G}/metric": "memory"}, "metric"),
        ({f"{G}/target": "0.001"}, "should be at least 0.01"),
        ({f"{G}/target": "ten"}, "target"),
        ({f"{G}/target-utilization-percentage": "0.5"}, "target-utilization-percentage"),
        ({f"{G}/target-utilization-percentage": "101"}, "target-utilization-percentage"),
        ({f"{G}/target-burst-capacity": "-2"}, "target-burst-capacity"),
        ({f"{G}/min-scale": "-1"}, "min-scale"),
        ({f"{G}/max-scale": "never"}, "max-scale"),
        ({f"{G}/min-scale": "3", f"{G}/max-scale": "2"}, "is less than min-scale"),
        ({f"{G}/activation-scale": "1"}, "must be greater than 1"),
        ({f"{G}/activation-scale": "2", f"{G}/min-scale": "3"}, "greater than activation-scale"),
        ({f"{G}/activation-scale": "4", f"{G}/max-scale": "3"}, "less than activation-scale"),
        ({f"{G}/scale-down-delay": "-1s"}, "scale-down-delay"),
        ({f"{G}/scale-down-delay": "61m"}, "scale-down-delay"),
        ({f"{G}/scale-down-delay": "42.5s"}, "second precision"),
        ({f"{G}/window": "5s"}, "window"),
        ({f"{G}/window": "2h"}, "window"),
        ({f"{G}/window": "6500ms"}, "second precision"),
        ({f"{G}/window": "sixty"}, "window"),
        ({f"{G}/panic-window-percentage": "0.5"}, "panic-window-percentage"),
        ({f"{G}/panic-window-percentage": "101"}, "panic-window-percentage"),
        ({f"{G}/panic-threshold-percentage": "109"}, "panic-threshold-percentage"),
        ({f"{G}/panic-threshold-percentage": "1001"}, "panic-threshold-percentage"),
        ({f"{G}/panicThresholdPercentage": "fifty"}, "panicThresholdPercentage"),
        ({f"{G}/scale-to-zero-pod-retention-period": "-1s"}, "retention"),
        ({f"{G}/scale-to-zero-pod-retention-period": "2h"}, "retention"),
        (
            {f"{G}/class": "kpa.autoscaling.knative.dev", f"{G}/metric-aggregation-algorithm": "median"},
            "median",
        ),
        ({f"{G}/initial-scale": "0"}, "not allowed by cluster"),
        ({f"{G}/initial-scale": "-1"}, "initial-scale"),
        ({f"{G}/min-scale": "1", f"{G}/minScale": "2"}, "expected exactly one"),
    ],
)
def test_invalid_annotations(annotations: dict[str, str], fragment: str) -> None:
    problems = ann.validate_annotations(annotations, CFG)
    assert problems, "expected a validation error"
    assert any(fragment in problem for problem in problems), problems


def test_max_scale_limit_rules() -> None:
    cfg = AutoscalerConfig(max_scale_limit=10, max_scale=5)
    assert ann.validate_annotations({f"{G}/max-scale": "10"}, cfg) == []
    assert any("expected 1 <= 11 <= 10" in p for p in ann.validate_annotations({f"{G}/max-scale": "11"}, cfg))
    assert any("max-scale=0 (unlimited)" in p for p in ann.validate_annotations({f"{G}/max-scale": "0"}, cfg))


def test_zero_initial_scale_when_allowed() -> None:
    cfg = AutoscalerConfig(allow_zero_initial_scale=True)
    assert ann.validate_annotations({f"{G}/initial-scale": "0"}, cfg) == []
    assert ann.resolve_spec({f"{G}/initial-scale": "0"}, 0, cfg).initial_scale == 0
    # Not allowed by the cluster: the config's initial scale applies instead.
    assert ann.resolve_spec({f"{G}/initial-scale": "0"}, 0, CFG).initial_scale == 1


def test_several_problems_are_all_reported() -> None:
    problems = ann.validate_annotations(
        {
            f"{G}/panic-threshold-percentage": "fifty",
            f"{G}/panic-window-percentage": "-11",
            f"{G}/min-scale": "-4",
            f"{G}/max-scale": "never",
        },
        CFG,
    )
    assert len(problems) == 4


@pytest.mark.parametrize(
    ("annotations", "cc", "target", "total"),
    [
        ({}, 0, 70.0, 100.0),  # CC=0: container-concurrency-target-default x 70 %
        ({}, 10, 7.0, 10.0),  # CC=10: target 7
        ({f"{G}/target": "50"}, 0, 35.0, 50.0),
        ({f"{G}/target": "50"}, 10, 7.0, 10.0),  # min(annotation, CC)
        ({f"{G}/target": "5"}, 10, 3.5, 5.0),
        ({f"{G}/target-utilization-percentage": "50"}, 10, 5.0, 10.0),
        ({f"{G}/metric": "rps"}, 0, 140.0, 200.0),  # rps: 200 x fixed 0.7
        ({f"{G}/metric": "rps", f"{G}/target": "100"}, 5, 70.0, 100.0),  # CC does not cap rps
        ({f"{G}/target": "0.01", f"{G}/target-utilization-percentage": "1"}, 0, 0.01, 0.01),  # floor
    ],
)
def test_targets(annotations: dict[str, str], cc: int, target: float, total: float) -> None:
    spec = ann.resolve_spec(annotations, cc, CFG)
    assert spec.target == pytest.approx(target)
    assert spec.total == pytest.approx(total)


def test_rps_utilization_ignores_the_configmap_percentage() -> None:
    cfg = AutoscalerConfig(container_concurrency_target_fraction=0.5)
    assert ann.resolve_spec({f"{G}/metric": "rps"}, 0, cfg).target == pytest.approx(140.0)
    assert ann.resolve_spec({}, 0, cfg).target == pytest.approx(50.0)


def test_spec_defaults_come_from_config() -> None:
    spec = ann.resolve_spec({}, 0, CFG)
    assert spec.stable_window == 60.0
    assert spec.panic_window == 6.0
    assert spec.panic_threshold == 2.0
    assert spec.target_burst_capacity == 211.0
    assert (spec.min_scale, spec.max_scale, spec.initial_scale, spec.activation_scale) == (0, 0, 1, 1)
    assert spec.aggregation == "linear"
    assert spec.metric == "concurrency"


def test_spec_reads_every_annotation() -> None:
    spec = ann.resolve_spec(
        {
            f"{G}/window": "2m",
            f"{G}/panicWindowPercentage": "25",
            f"{G}/panic-threshold-percentage": "150",
            f"{G}/targetBurstCapacity": "-1",
            f"{G}/minScale": "1",
            f"{G}/max-scale": "9",
            f"{G}/initialScale": "3",
            f"{G}/activation-scale": "2",
            f"{G}/scaleDownDelay": "30s",
            f"{G}/scale-to-zero-pod-retention-period": "10s",
            f"{G}/metricAggregationAlgorithm": "weightedExponential",
        },
        0,
        CFG,
    )
    assert spec.stable_window == 120.0
    assert spec.panic_window == 30.0
    assert spec.panic_threshold == pytest.approx(1.5)
    assert spec.target_burst_capacity == -1
    assert (spec.min_scale, spec.max_scale, spec.initial_scale, spec.activation_scale) == (1, 9, 3, 2)
    assert spec.scale_down_delay == 30.0
    assert spec.scale_to_zero_pod_retention == 10.0
    assert spec.aggregation == "weighted-exponential"


@pytest.mark.parametrize(
    ("stable", "pct", "panic"),
    [
        (60.0, 10.0, 6.0),
        (6.0, 1.0, 1.0),
        (7.0, 50.0, 4.0),
        (13.0, 50.0, 7.0),
        (60.0, 100.0, 60.0),
        (45.0, 11.0, 5.0),
    ],
)
def test_panic_window_rounds_to_whole_seconds(stable: float, pct: float, panic: float) -> None:
    assert ann.panic_window_seconds(stable, pct) == panic
