"""config-autoscaler parsing: Knative's defaults, legacy fractions and every validation rule."""

from __future__ import annotations

import pytest

from autoscaler.kpa import config
from serving.api import durations


def test_empty_configmap_gives_knative_defaults() -> None:
    cfg = config.from_configmap({})
    assert cfg == config.AutoscalerConfig()
    assert cfg.target_burst_capacity == 211.0  # the code's default, not the docs' 200
    assert cfg.container_concurrency_target_fraction == 0.7
    assert cfg.stable_window == 60.0
    assert cfg.scale_to_zero_grace_period == 30.0
    assert cfg.max_scale_down_rate == 2.0
    assert cfg.pod_autoscaler_class == "kpa.autoscaling.knative.dev"


def test_every_key_is_read() -> None:
    data = {
        "container-concurrency-target-percentage": "80",
        "container-concurrency-target-default": "50",
        "requests-per-second-target-default": "150",
        "target-burst-capacity": "-1",
        "stable-window": "2m",
        "panic-window-percentage": "20",
        "panic-threshold-percentage": "300",
        "max-scale-up-rate": "10",
        "max-scale-down-rate": "4",
        "enable-scale-to-zero": "false",
        "scale-to-zero-grace-period": "45s",
        "scale-to-zero-pod-retention-period": "1m30s",
        "pod-autoscaler-class": "hpa.autoscaling.knative.dev",
        "activator-capacity": "200",
        "initial-scale": "0",
        "allow-zero-initial-scale": "true",
        "min-scale": "1",
        "max-scale": "5",
        "scale-down-delay": "10s",
        "max-scale-limit": "10",
        "_example": "ignored, as Knative ignores it",
    }
    cfg = config.from_configmap(data)
    assert cfg.container_concurrency_target_fraction == pytest.approx(0.8)
    assert cfg.container_concurrency_target_default == 50
    assert cfg.requests_per_second_target_default == 150
    assert cfg.target_burst_capacity == -1
    assert cfg.stable_window == 120
    assert cfg.panic_window_percentage == 20
    assert cfg.panic_threshold_percentage == 300
    assert cfg.max_scale_up_rate == 10
    assert cfg.max_scale_down_rate == 4
    assert cfg.enable_scale_to_zero is False
    assert cfg.scale_to_zero_grace_period == 45
    assert cfg.scale_to_zero_pod_retention_period == 90
    assert cfg.pod_autoscaler_class == "hpa.autoscaling.knative.dev"
    assert cfg.activator_capacity == 200
    assert cfg.initial_scale == 0
    assert cfg.allow_zero_initial_scale is True
    assert (cfg.min_scale, cfg.max_scale, cfg.max_scale_limit) == (1, 5, 10)
    assert cfg.scale_down_delay == 10


@pytest.mark.parametrize(("raw", "fraction"), [("0.5", 0.5), ("1", 1.0), ("50", 0.5), ("100", 1.0)])
def test_target_percentage_at_most_one_is_a_fraction(raw: str, fraction: float) -> None:
    cfg = config.from_configmap({"container-concurrency-target-percentage": raw})
    assert cfg.container_concurrency_target_fraction == pytest.approx(fraction)


@pytest.mark.parametrize(
    ("data", "bad_key"),
    [
        ({"scale-to-zero-grace-period": "0s"}, "scale-to-zero-grace-period"),
        ({"scale-down-delay": "-1s"}, "scale-down-delay"),
        ({"scale-down-delay": "1.5s"}, "scale-down-delay"),
        ({"scale-to-zero-pod-retention-period": "-1s"}, "scale-to-zero-pod-retention-period"),
        ({"target-burst-capacity": "-2"}, "target-burst-capacity"),
        ({"container-concurrency-target-percentage": "0"}, "container-concurrency-target-percentage"),
        ({"container-concurrency-target-percentage": "101"}, "container-concurrency-target-percentage"),
        (
            {"container-concurrency-target-percentage": "1", "container-concurrency-target-default": "0.001"},
            "container-concurrency-target-default",
        ),
        ({"requests-per-second-target-default": "0.001"}, "requests-per-second-target-default"),
        ({"activator-capacity": "0.5"}, "activator-capacity"),
        ({"max-scale-up-rate": "1"}, "max-scale-up-rate"),
        ({"max-scale-down-rate": "1.0"}, "max-scale-down-rate"),
        ({"stable-window": "5s"}, "stable-window"),
        ({"stable-window": "61m"}, "stable-window"),
        ({"stable-window": "6500ms"}, "stable-window"),
        ({"panic-window-percentage": "0.5"}, "panic-window-percentage"),
        ({"panic-window-percentage": "101"}, "panic-window-percentage"),
        ({"initial-scale": "0"}, "initial-scale"),
        ({"initial-scale": "-1", "allow-zero-initial-scale": "true"}, "initial-scale"),
        ({"min-scale": "-1"}, "min-scale"),
        ({"min-scale": "3", "max-scale": "2"}, "min-scale"),
        ({"max-scale-limit": "-1"}, "max-scale-limit"),
        ({"max-scale-limit": "5"}, "max-scale"),  # max-scale must be set within the limit
        ({"max-scale-limit": "5", "max-scale": "6"}, "max-scale"),
        ({"stable-window": "60"}, "stable-window"),  # no unit: Go's ParseDuration refuses it
        ({"enable-scale-to-zero": "yes"}, "enable-scale-to-zero"),
        ({"max-scale": "1.5"}, "max-scale"),
        ({"panic-threshold-percentage": "NaN"}, "panic-threshold-percentage"),
    ],
)
def test_invalid_values_are_rejected_naming_the_key(data: dict[str, str], bad_key: str) -> None:
    with pytest.raises(config.ConfigError) as caught:
        config.from_configmap(data)
    assert any(bad_key in problem for problem in caught.value.problems), caught.value.problems


def test_every_bad_key_is_listed_at_once() -> None:
    with pytest.raises(config.ConfigError) as caught:
        config.from_configmap({"max-scale-up-rate": "0.5", "max-scale-down-rate": "1", "stable-window": "1s"})
    message = str(caught.value)
    for key in ("max-scale-up-rate", "max-scale-down-rate", "stable-window"):
        assert key in message
    assert len(caught.value.problems) == 3


def test_unparsable_values_are_all_listed() -> None:
    with pytest.raises(config.ConfigError) as caught:
        config.from_configmap({"stable-window": "sixty", "max-scale": "lots"})
    assert len(caught.value.problems) == 2


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("60s", 60.0),
        ("1m30s", 90.0),
        ("1h", 3600.0),
        ("500ms", 0.5),
        ("1.5s", 1.5),
        ("-2s", -2.0),
    ],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert durations.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "60", "s", "1x", ".s", "1m-1s", " 1s"])
def test_bad_go_durations(text: str) -> None:
    with pytest.raises(durations.DurationError):
        durations.parse_duration_ns(text)
