"""config-autoscaler: Knative's keys, defaults and validation, for the operator and the autoscaler.

Defaults and ranges follow knative/serving `pkg/autoscaler/config/config.go` (see
shared/reference/knative-serving.md section 2.1). Unlike Knative, which stops at the first
problem, `from_configmap` reports every bad key at once so an operator fixes them in one go.
The operator reads initial-scale, allow-zero-initial-scale, max-scale-limit and the class; the
autoscaler (autoscaler/kpa) reads the rest. Durations are float seconds.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

from serving.api import durations
from serving.api.config._parse import ConfigError as _ConfigMapError

CONFIG_MAP_NAME = "config-autoscaler"
NAME = CONFIG_MAP_NAME

KPA_CLASS = "kpa.autoscaling.knative.dev"
HPA_CLASS = "hpa.autoscaling.knative.dev"

# Knative's limits on the values.
TARGET_MIN = 0.01
WINDOW_MIN_SECONDS = 6.0
WINDOW_MAX_SECONDS = 3600.0
PANIC_WINDOW_PERCENTAGE_MIN = 1.0
PANIC_WINDOW_PERCENTAGE_MAX = 100.0
PANIC_THRESHOLD_PERCENTAGE_MIN = 110.0
PANIC_THRESHOLD_PERCENTAGE_MAX = 1000.0


class ConfigError(_ConfigMapError):
    """config-autoscaler holds values Knative would reject; `problems` names each bad key."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid config-autoscaler: " + "; ".join(problems))


@dataclasses.dataclass(frozen=True)
class AutoscalerConfig:
    """Parsed config-autoscaler. Durations are in seconds; percentages already as fractions
    where Knative keeps fractions (container_concurrency_target_fraction)."""

    container_concurrency_target_fraction: float = 0.7
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
    pod_autoscaler_class: str = KPA_CLASS
    activator_capacity: float = 100.0
    initial_scale: int = 1
    allow_zero_initial_scale: bool = False
    min_scale: int = 0
    max_scale: int = 0
    scale_down_delay: float = 0.0
    max_scale_limit: int = 0

    @property
    def target_utilization(self) -> float:
        return self.container_concurrency_target_fraction

    @classmethod
    def from_data(cls, data: Mapping[str, str]) -> AutoscalerConfig:
        """As `from_configmap`: the name every serving.api config type answers to."""
        return from_configmap(data)


def _parse_bool(raw: str) -> bool:
    # strconv.ParseBool
    if raw in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if raw in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError(f"not a boolean: {raw!r}")


def _parse_float(raw: str) -> float:
    # strconv.ParseFloat takes no surrounding spaces; NaN would defeat every range check.
    if raw != raw.strip() or "_" in raw:
        raise ValueError(f"not a number: {raw!r}")
    value = float(raw)
    if math.isnan(value):
        raise ValueError(f"not a number: {raw!r}")
    return value


def _parse_int32(raw: str) -> int:
    value = int(raw, 10)
    if not -(2**31) <= value < 2**31:
        raise ValueError(f"out of int32 range: {raw!r}")
    return value


def _parse_duration(raw: str) -> float:
    return durations.parse_duration(raw)


_FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "container-concurrency-target-percentage": ("container_concurrency_target_fraction", _parse_float),
    "container-concurrency-target-default": ("container_concurrency_target_default", _parse_float),
    "requests-per-second-target-default": ("requests_per_second_target_default", _parse_float),
    "target-burst-capacity": ("target_burst_capacity", _parse_float),
    "stable-window": ("stable_window", _parse_duration),
    "panic-window-percentage": ("panic_window_percentage", _parse_float),
    "panic-threshold-percentage": ("panic_threshold_percentage", _parse_float),
    "max-scale-up-rate": ("max_scale_up_rate", _parse_float),
    "max-scale-down-rate": ("max_scale_down_rate", _parse_float),
    "enable-scale-to-zero": ("enable_scale_to_zero", _parse_bool),
    "scale-to-zero-grace-period": ("scale_to_zero_grace_period", _parse_duration),
    "scale-to-zero-pod-retention-period": ("scale_to_zero_pod_retention_period", _parse_duration),
    "pod-autoscaler-class": ("pod_autoscaler_class", str),
    "activator-capacity": ("activator_capacity", _parse_float),
    "initial-scale": ("initial_scale", _parse_int32),
    "allow-zero-initial-scale": ("allow_zero_initial_scale", _parse_bool),
    "min-scale": ("min_scale", _parse_int32),
    "max-scale": ("max_scale", _parse_int32),
    "scale-down-delay": ("scale_down_delay", _parse_duration),
    "max-scale-limit": ("max_scale_limit", _parse_int32),
}
KNOWN_KEYS = frozenset(_FIELDS)


def _whole_seconds(seconds: float) -> bool:
    return float(seconds).is_integer()


def validate(cfg: AutoscalerConfig) -> list[str]:
    """Every rule of Knative's config validation, as messages naming the key."""
    problems: list[str] = []
    if cfg.scale_to_zero_grace_period <= 0:
        problems.append(f"scale-to-zero-grace-period must be positive, was {cfg.scale_to_zero_grace_period}s")
    if cfg.scale_down_delay < 0:
        problems.append(f"scale-down-delay cannot be negative, was {cfg.scale_down_delay}s")
    elif not _whole_seconds(cfg.scale_down_delay):
        problems.append(f"scale-down-delay = {cfg.scale_down_delay}s, must be whole seconds")
    if cfg.scale_to_zero_pod_retention_period < 0:
        problems.append(
            "scale-to-zero-pod-retention-period cannot be negative, "
            f"was {cfg.scale_to_zero_pod_retention_period}s"
        )
    if cfg.target_burst_capacity < 0 and cfg.target_burst_capacity != -1:
        problems.append(
            f"target-burst-capacity must be non-negative or -1 (unlimited), was {cfg.target_burst_capacity}"
        )
    fraction = cfg.container_concurrency_target_fraction
    if fraction <= 0 or fraction > 1:
        problems.append(
            f"container-concurrency-target-percentage = {fraction * 100:g} is outside of (0, 100]"
        )
    elif fraction * cfg.container_concurrency_target_default < TARGET_MIN:
        problems.append(
            "container-concurrency-target-percentage and container-concurrency-target-default yield "
            f"a target of {fraction * cfg.container_concurrency_target_default:g}, less than {TARGET_MIN}"
        )
    if cfg.requests_per_second_target_default < TARGET_MIN:
        problems.append(
            f"requests-per-second-target-default must be at least {TARGET_MIN}, "
            f"was {cfg.requests_per_second_target_default}"
        )
    if cfg.activator_capacity < 1:
        problems.append(f"activator-capacity = {cfg.activator_capacity}, must be at least 1")
    if cfg.max_scale_up_rate <= 1:
        problems.append(f"max-scale-up-rate = {cfg.max_scale_up_rate}, must be greater than 1.0")
    if cfg.max_scale_down_rate <= 1:
        problems.append(f"max-scale-down-rate = {cfg.max_scale_down_rate}, must be greater than 1.0")
    if not WINDOW_MIN_SECONDS <= cfg.stable_window <= WINDOW_MAX_SECONDS:
        problems.append(f"stable-window = {cfg.stable_window}s, must be in [6s, 1h]")
    elif not _whole_seconds(cfg.stable_window):
        problems.append(f"stable-window = {cfg.stable_window}s, must be whole seconds")
    if not PANIC_WINDOW_PERCENTAGE_MIN <= cfg.panic_window_percentage <= PANIC_WINDOW_PERCENTAGE_MAX:
        problems.append(f"panic-window-percentage = {cfg.panic_window_percentage}, must be in [1, 100]")
    if cfg.initial_scale < 0 or (cfg.initial_scale == 0 and not cfg.allow_zero_initial_scale):
        problems.append(
            f"initial-scale = {cfg.initial_scale}, must be at least 1 "
            "(or 0 when allow-zero-initial-scale is true)"
        )
    if cfg.min_scale < 0:
        problems.append(f"min-scale = {cfg.min_scale}, must be at least 0")
    elif cfg.max_scale > 0 and cfg.min_scale > cfg.max_scale:
        problems.append(f"min-scale = {cfg.min_scale} is greater than max-scale = {cfg.max_scale}")
    if cfg.max_scale_limit < 0:
        problems.append(f"max-scale-limit = {cfg.max_scale_limit}, must be at least 0")
    else:
        lowest_max = 1 if cfg.max_scale_limit > 0 else 0
        if cfg.max_scale < lowest_max or (cfg.max_scale_limit > 0 and cfg.max_scale > cfg.max_scale_limit):
            problems.append(
                f"max-scale = {cfg.max_scale}, "
                f"must be in [{lowest_max}, max-scale-limit({cfg.max_scale_limit})]"
            )
    return problems


def from_configmap(data: Mapping[str, str]) -> AutoscalerConfig:
    """Parse and validate config-autoscaler's data. Unknown keys (such as `_example`) are ignored.

    Raises ConfigError listing every key that does not parse or is out of range.
    """
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, (field, parse) in _FIELDS.items():
        raw = data.get(key)
        if raw is None:
            continue
        try:
            values[field] = parse(raw)
        except ValueError as err:
            problems.append(f"{key}: cannot parse {raw!r} ({err})")
    fraction = values.get("container_concurrency_target_fraction")
    # For legacy reasons Knative reads a value in (0, 1] as a fraction, anything larger as a percent.
    if fraction is not None and fraction > 1.0:
        values["container_concurrency_target_fraction"] = fraction / 100.0
    if problems:
        raise ConfigError(problems)
    cfg = AutoscalerConfig(**values)
    problems = validate(cfg)
    if problems:
        raise ConfigError(problems)
    return cfg
