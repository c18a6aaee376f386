"""Every autoscaling.knative.dev annotation with its range (fact sheet §2.2, §2.6)."""

from __future__ import annotations

import pytest

from serving.api.config.autoscaler import AutoscalerConfig
from serving.api.validation.annotations import validate_autoscaling_annotations

A = "autoscaling.knative.dev/"
CASES: list[tuple[dict[str, str], list[str]]] = [
    ({}, []),
    ({A + "class": "kpa.autoscaling.knative.dev"}, []),
    ({A + "class": "hpa.autoscaling.knative.dev", A + "metric": "cpu"}, []),
    ({A + "class": "foo.autoscaling.knative.dev"}, [f"{A}class: invalid value: foo.autoscaling.knative.dev"]),
    ({A + "class": "custom.example.com", A + "metric": "anything"}, []),
    ({A + "metric": "cpu"}, [f"{A}metric: invalid value: cpu"]),
    ({A + "metric": "rps"}, []),
    ({A + "target": "0.001"}, [f"{A}target: target 0.001 should be at least 0.01"]),
    ({A + "target": "ten"}, [f"{A}target: invalid value: ten"]),
    (
        {A + "target-utilization-percentage": "0.5"},
        [f"{A}target-utilization-percentage: expected 1 <= 0.5 <= 100"],
    ),
    (
        {A + "targetUtilizationPercentage": "101"},
        [f"{A}targetUtilizationPercentage: expected 1 <= 101 <= 100"],
    ),
    ({A + "target-burst-capacity": "-1"}, []),
    ({A + "target-burst-capacity": "-2"}, [f"{A}target-burst-capacity: invalid value: -2"]),
    ({A + "min-scale": "2", A + "max-scale": "5"}, []),
    ({A + "min-scale": "x"}, [f"{A}min-scale: invalid value: x"]),
    ({A + "minScale": "-1"}, [f"{A}minScale: expected 0 <= -1 <= 2147483647"]),
    (
        {A + "min-scale": "5", A + "max-scale": "2"},
        [
            f"{A}max-scale: max-scale=2 is less than min-scale=5",
            f"{A}min-scale: max-scale=2 is less than min-scale=5",
        ],
    ),
    ({A + "min-scale": "5", A + "max-scale": "0"}, []),
    ({A + "initial-scale": "3"}, []),
    ({A + "initial-scale": "0"}, [f"{A}initial-scale=0 not allowed by cluster: invalid value: 0"]),
    ({A + "initial-scale": "-1"}, [f"{A}initial-scale must be greater than 0: invalid value: -1"]),
    ({A + "activation-scale": "3", A + "max-scale": "5"}, []),
    ({A + "activation-scale": "1"}, [f"{A}activation-scale: activation-scale=1 must be greater than 1"]),
    (
        {A + "activation-scale": "2", A + "min-scale": "3"},
        [f"{A}activation-scale: min-scale=3 is greater than activation-scale=2"],
    ),
    (
        {A + "activation-scale": "6", A + "max-scale": "5"},
        [f"{A}activation-scale: max-scale=5 is less than activation-scale=6"],
    ),
    ({A + "scale-down-delay": "30s"}, []),
    ({A + "scale-down-delay": "2h"}, [f"{A}scale-down-delay: expected 0s <= 2h <= 1h0m0s"]),
    (
        {A + "scale-down-delay": "1.5s"},
        [f"{A}scale-down-delay: must be specified with at most second precision"],
    ),
    ({A + "window": "60s"}, []),
    ({A + "window": "5s"}, [f"{A}window: expected 6s <= 5s <= 1h0m0s"]),
    ({A + "window": "6500ms"}, [f"{A}window: must be specified with at most second precision"]),
    ({A + "window": "forever"}, [f"{A}window: invalid value: forever"]),
    ({A + "panic-window-percentage": "0.5"}, [f"{A}panic-window-percentage: expected 1 <= 0.5 <= 100"]),
    (
        {A + "panic-threshold-percentage": "100"},
        [f"{A}panic-threshold-percentage: expected 110 <= 100 <= 1000"],
    ),
    ({A + "panic-threshold-percentage": "200"}, []),
    (
        {A + "scale-to-zero-pod-retention-period": "2h"},
        [f"{A}scale-to-zero-pod-retention-period: expected 0s <= 2h <= 1h0m0s"],
    ),
    ({A + "scale-to-zero-pod-retention-period": "10m"}, []),
    (
        {
            A + "class": "kpa.autoscaling.knative.dev",
            A + "metric-aggregation-algorithm": "weighted-exponential",
        },
        [],
    ),
    (
        {A + "class": "kpa.autoscaling.knative.dev", A + "metric-aggregation-algorithm": "median"},
        [f"{A}metric-aggregation-algorithm: invalid value: median"],
    ),
]


@pytest.mark.parametrize(("annotations", "want"), CASES)
def test_annotation_rules(annotations: dict[str, str], want: list[str]) -> None:
    got = validate_autoscaling_annotations(annotations, AutoscalerConfig())
    assert sorted(got.messages()) == sorted(want)


def test_max_scale_limit() -> None:
    cfg = AutoscalerConfig(max_scale_limit=10, max_scale=5)
    assert validate_autoscaling_annotations({A + "max-scale": "20"}, cfg).messages() == [
        f"{A}max-scale: expected 1 <= 20 <= 10"
    ]
    assert validate_autoscaling_annotations({A + "max-scale": "0"}, cfg).messages() == [
        f"{A}max-scale: max-scale=0 (unlimited), must be less than 10"
    ]


def test_zero_initial_scale_when_allowed() -> None:
    cfg = AutoscalerConfig(allow_zero_initial_scale=True)
    assert not validate_autoscaling_annotations({A + "initial-scale": "0"}, cfg)
