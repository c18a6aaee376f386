"""config-autoscaler: KPA settings with Knative's defaults and checks.

Source: knative/serving pkg/autoscaler/config/config.go (see the fact sheet §2.1). The
operator reads initial-scale, allow-zero-initial-scale, max-scale-limit and the class; the
autoscaler reads the rest. Durations are float seconds; percentages stay percentages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from serving.api.config._parse import ConfigError, get_bool, get_duration, get_float, get_int, get_str

NAME: Final = "config-autoscaler"
KPA: Final = "kpa.autoscaling.knative.dev"
HPA: Final = "hpa.autoscaling.knative.dev"
TARGET_MIN: Final = 0.01
WINDOW_MIN: Final = 6.0
WINDOW_MAX: Final = 3600.0


@dataclass(frozen=True)
class AutoscalerConfig:
    container_concurrency_target_percentage: float = 70.0
    container_concurrency_target_default: float = 100.0
    requests_per_second_target_default: float = 200.0
    target_burst_capacity: float = 211.0
    stable_window: float = 60.0
    panic_window_percentage: float = 10.0
    panic_threshold_percentage: float = 200.0
    max_scale_up_rate: float = 1000.0
    max_scale_down_rate: float = 2.0
    enable_scale_to_zero: bool = True
    scale_to_zero_grace_period: float = 30.0
    scale_to_zero_pod_retention_period: float = 0.0
    pod_autoscaler_class: str = KPA
    activator_capacity: float = 100.0
    initial_scale: int = 1
    allow_zero_initial_scale: bool = False
    min_scale: int = 0
    max_scale: int = 0
    scale_down_delay: float = 0.0
    max_scale_limit: int = 0

    @property
    def target_utilization(self) -> float:
        """The percentage as a fraction (a value <= 1 in the ConfigMap already is one)."""
        pct = self.container_concurrency_target_percentage
        return pct if pct <= 1 else pct / 100.0

    @classmethod
    def from_data(cls, data: Mapping[str, str]) -> AutoscalerConfig:
        cfg = cls(
            container_concurrency_target_percentage=get_float(
                data, "container-concurrency-target-percentage", 70.0
            ),
            container_concurrency_target_default=get_float(
                data, "container-concurrency-target-default", 100.0
            ),
            requests_per_second_target_default=get_float(data, "requests-per-second-target-default", 200.0),
            target_burst_capacity=get_float(data, "target-burst-capacity", 211.0),
            stable_window=get_duration(data, "stable-window", 60.0),
            panic_window_percentage=get_float(data, "panic-window-percentage", 10.0),
            panic_threshold_percentage=get_float(data, "panic-threshold-percentage", 200.0),
            max_scale_up_rate=get_float(data, "max-scale-up-rate", 1000.0),
            max_scale_down_rate=get_float(data, "max-scale-down-rate", 2.0),
            enable_scale_to_zero=get_bool(data, "enable-scale-to-zero", True),
            scale_to_zero_grace_period=get_duration(data, "scale-to-zero-grace-period", 30.0),
            scale_to_zero_pod_retention_period=get_duration(data, "scale-to-zero-pod-retention-period", 0.0),
            pod_autoscaler_class=get_str(data, "pod-autoscaler-class", KPA),
            activator_capacity=get_float(data, "activator-capacity", 100.0),
            initial_scale=get_int(data, "initial-scale", 1),
            allow_zero_initial_scale=get_bool(data, "allow-zero-initial-scale", False),
            min_scale=get_int(data, "min-scale", 0),
            max_scale=get_int(data, "max-scale", 0),
            scale_down_delay=get_duration(data, "scale-down-delay", 0.0),
            max_scale_limit=get_int(data, "max-scale-limit", 0),
        )
        cfg.check()
        return cfg

    def check(self) -> None:
        """Knative's validate(): raise ConfigError for the first value it would refuse."""
        pct = self.container_concurrency_target_percentage
        util = self.target_utilization
        if not 0 < util <= 1:
            raise ConfigError(
                f"container-concurrency-target-percentage = {pct} is outside of valid range of (0, 100]"
            )
        if self.container_concurrency_target_default * util < TARGET_MIN:
            raise ConfigError(
                "container-concurrency-target-default * target percentage must be at least 0.01"
            )
        if self.requests_per_second_target_default < TARGET_MIN:
            raise ConfigError("requests-per-second-target-default must be at least 0.01")
        if self.target_burst_capacity < 0 and self.target_burst_capacity != -1:
            raise ConfigError(
                f"target-burst-capacity must be either non-negative or -1, was {self.target_burst_capacity}"
            )
        if not WINDOW_MIN <= self.stable_window <= WINDOW_MAX:
            raise ConfigError(f"stable-window = {self.stable_window}s, must be in [6s; 1h] range")
        if self.stable_window != int(self.stable_window):
            raise ConfigError("stable-window must be specified with at most second precision")
        if not 1 <= self.panic_window_percentage <= 100:
            raise ConfigError(
                f"panic-window-percentage = {self.panic_window_percentage}, must be in [1, 100] range"
            )
        if self.max_scale_up_rate <= 1:
            raise ConfigError(f"max-scale-up-rate = {self.max_scale_up_rate}, must be greater than 1.0")
        if self.max_scale_down_rate <= 1:
            raise ConfigError(f"max-scale-down-rate = {self.max_scale_down_rate}, must be greater than 1.0")
        if self.scale_to_zero_grace_period <= 0:
            raise ConfigError("scale-to-zero-grace-period must be positive")
        if self.scale_to_zero_pod_retention_period < 0:
            raise ConfigError("scale-to-zero-pod-retention-period cannot be negative")
        if self.activator_capacity < 1:
            raise ConfigError(f"activator-capacity = {self.activator_capacity}, must be at least 1")
        if self.initial_scale < 0 or (self.initial_scale == 0 and not self.allow_zero_initial_scale):
            raise ConfigError(
                f"initial-scale = {self.initial_scale}, must be at least 1 "
                "(or 0 when allow-zero-initial-scale is true)"
            )
        if self.scale_down_delay < 0 or self.scale_down_delay != int(self.scale_down_delay):
            raise ConfigError("scale-down-delay must be non-negative and whole seconds")
        if self.min_scale < 0 or self.max_scale < 0 or self.max_scale_limit < 0:
            raise ConfigError("min-scale, max-scale and max-scale-limit must be non-negative")
        if self.max_scale and self.min_scale > self.max_scale:
            raise ConfigError(f"min-scale ({self.min_scale}) must be less than max-scale ({self.max_scale})")
        if self.max_scale_limit and (self.max_scale == 0 or self.max_scale > self.max_scale_limit):
            raise ConfigError(f"max-scale = {self.max_scale}, must be in [1, max-scale-limit] range")
