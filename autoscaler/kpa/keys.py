"""The `autoscaling.knative.dev/*` annotation keys (with Knative's camelCase aliases) and strict
parsers for their values, as Go's strconv and time.ParseDuration read them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final, Literal

from serving.api import durations

GROUP = "autoscaling.knative.dev"
KNATIVE_DOMAIN = ".knative.dev"

CONCURRENCY: Final = "concurrency"
RPS: Final = "rps"
LINEAR: Final = "linear"
WEIGHTED_EXPONENTIAL: Final = "weighted-exponential"
WEIGHTED_EXPONENTIAL_ALT: Final = "weightedExponential"

Metric = Literal["concurrency", "rps"]
Aggregation = Literal["linear", "weighted-exponential"]

# Each annotation with its accepted spellings, in Knative's priority order (kmap.KeyPriority).
CLASS = (f"{GROUP}/class",)
METRIC = (f"{GROUP}/metric",)
TARGET = (f"{GROUP}/target",)
TARGET_UTILIZATION_PERCENTAGE = (
    f"{GROUP}/target-utilization-percentage",
    f"{GROUP}/targetUtilizationPercentage",
)
TARGET_BURST_CAPACITY = (f"{GROUP}/target-burst-capacity", f"{GROUP}/targetBurstCapacity")
MIN_SCALE = (f"{GROUP}/min-scale", f"{GROUP}/minScale")
MAX_SCALE = (f"{GROUP}/max-scale", f"{GROUP}/maxScale")
INITIAL_SCALE = (f"{GROUP}/initial-scale", f"{GROUP}/initialScale")
ACTIVATION_SCALE = (f"{GROUP}/activation-scale",)
SCALE_DOWN_DELAY = (f"{GROUP}/scale-down-delay", f"{GROUP}/scaleDownDelay")
WINDOW = (f"{GROUP}/window",)
PANIC_WINDOW_PERCENTAGE = (f"{GROUP}/panic-window-percentage", f"{GROUP}/panicWindowPercentage")
PANIC_THRESHOLD_PERCENTAGE = (
    f"{GROUP}/panic-threshold-percentage",
    f"{GROUP}/panicThresholdPercentage",
)
SCALE_TO_ZERO_POD_RETENTION_PERIOD = (f"{GROUP}/scale-to-zero-pod-retention-period",)
METRIC_AGGREGATION_ALGORITHM = (
    f"{GROUP}/metric-aggregation-algorithm",
    f"{GROUP}/metricAggregationAlgorithm",
)
# Not an autoscaling annotation (the serving webhook validates it), but it bounds activation.
PROGRESS_DEADLINE = ("serving.knative.dev/progress-deadline",)
ALL_KEYS: tuple[tuple[str, ...], ...] = (
    CLASS,
    METRIC,
    TARGET,
    TARGET_UTILIZATION_PERCENTAGE,
    TARGET_BURST_CAPACITY,
    MIN_SCALE,
    MAX_SCALE,
    INITIAL_SCALE,
    ACTIVATION_SCALE,
    SCALE_DOWN_DELAY,
    WINDOW,
    PANIC_WINDOW_PERCENTAGE,
    PANIC_THRESHOLD_PERCENTAGE,
    SCALE_TO_ZERO_POD_RETENTION_PERIOD,
    METRIC_AGGREGATION_ALGORITHM,
)


def get_annotation(annotations: Mapping[str, str], keys: tuple[str, ...]) -> tuple[str, str] | None:
    for key in keys:
        if key in annotations:
            return key, annotations[key]
    return None


def parse_float(text: str) -> float | None:
    if text != text.strip() or "_" in text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def parse_int32(text: str) -> int | None:
    try:
        value = int(text, 10)
    except ValueError:
        return None
    if text != text.strip() or "_" in text or not -(2**31) <= value < 2**31:
        return None
    return value


def parse_duration_ns(text: str) -> int | None:
    try:
        return durations.parse_duration_ns(text)
    except durations.DurationError:
        return None
