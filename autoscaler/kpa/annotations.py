"""Per-revision `autoscaling.knative.dev/*` annotations: validation and the resolved spec.

`validate_annotations` is the admission check of knative/serving
`pkg/apis/autoscaling/annotation_validation.go` as a pure function returning messages (empty when
valid), so the operator's webhook can reuse it. `resolve_spec` reads the annotations the way the
PodAutoscaler accessors and `MakeDecider`/`ResolveMetricTarget` do, falling back to
config-autoscaler for anything absent or unreadable (admission rejects the unreadable ones).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Final, Literal

from autoscaler.kpa import durations
from autoscaler.kpa.config import (
    HPA_CLASS,
    KPA_CLASS,
    PANIC_THRESHOLD_PERCENTAGE_MAX,
    PANIC_THRESHOLD_PERCENTAGE_MIN,
    PANIC_WINDOW_PERCENTAGE_MAX,
    PANIC_WINDOW_PERCENTAGE_MIN,
    RPS_TARGET_UTILIZATION,
    TARGET_MIN,
    WINDOW_MAX_SECONDS,
    WINDOW_MIN_SECONDS,
    AutoscalerConfig,
)

GROUP = "autoscaling.knative.dev"
_KNATIVE_DOMAIN = ".knative.dev"

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


def _get(annotations: Mapping[str, str], keys: tuple[str, ...]) -> tuple[str, str] | None:
    for key in keys:
        if key in annotations:
            return key, annotations[key]
    return None


def _float(text: str) -> float | None:
    if text != text.strip() or "_" in text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def _int32(text: str) -> int | None:
    try:
        value = int(text, 10)
    except ValueError:
        return None
    if text != text.strip() or "_" in text or not -(2**31) <= value < 2**31:
        return None
    return value


def _duration_ns(text: str) -> int | None:
    try:
        return durations.parse_duration_ns(text)
    except durations.DurationError:
        return None


# --------------------------------------------------------------------------------------------
# validation


def _validate_aliases(annotations: Mapping[str, str]) -> list[str]:
    problems = []
    for keys in ALL_KEYS:
        present = [key for key in keys if key in annotations]
        if len(present) > 1:
            problems.append(f"expected exactly one, got both: {', '.join(present)}")
    return problems


def _validate_class(annotations: Mapping[str, str]) -> list[str]:
    found = _get(annotations, CLASS)
    if found and found[1].endswith(_KNATIVE_DOMAIN) and found[1] not in (KPA_CLASS, HPA_CLASS):
        return [f"invalid value: {found[1]}: {found[0]}"]
    return []


def _validate_scale_bounds(annotations: Mapping[str, str], config: AutoscalerConfig) -> list[str]:
    problems = []
    bounds: dict[str, int] = {}
    for name, keys in (("min-scale", MIN_SCALE), ("max-scale", MAX_SCALE)):
        found = _get(annotations, keys)
        if found is None:
            bounds[name] = 0
            continue
        value = _int32(found[1])
        if value is None:
            problems.append(f"invalid value: {found[1]}: {found[0]}")
            value = 0
        elif value < 0:
            problems.append(f"expected 0 <= {found[1]} <= 2147483647: {found[0]}")
            value = 0
        bounds[name] = value
    lo, hi = bounds["min-scale"], bounds["max-scale"]
    if hi != 0 and hi < lo:
        problems.append(f"max-scale={hi} is less than min-scale={lo}: {MAX_SCALE[0]}, {MIN_SCALE[0]}")
    max_found = _get(annotations, MAX_SCALE)
    if max_found is not None and config.max_scale_limit > 0:
        if hi > config.max_scale_limit:
            problems.append(f"expected 1 <= {hi} <= {config.max_scale_limit}: {max_found[0]}")
        if hi == 0:
            problems.append(
                f"max-scale=0 (unlimited), must be less than {config.max_scale_limit}: {max_found[0]}"
            )
    activation = _get(annotations, ACTIVATION_SCALE)
    if activation is not None:
        value = _int32(activation[1])
        if value is None:
            problems.append(f"invalid value: {activation[1]}: {activation[0]}")
        elif lo > value:
            problems.append(f"min-scale={lo} is greater than activation-scale={value}: {activation[0]}")
        elif hi != 0 and hi < value:
            problems.append(f"max-scale={hi} is less than activation-scale={value}: {activation[0]}")
        elif value < 2:
            problems.append(f"activation-scale={value} must be greater than 1: {activation[0]}")
    return problems


def _validate_floats(annotations: Mapping[str, str]) -> list[str]:
    problems = []
    ranged = (
        (PANIC_WINDOW_PERCENTAGE, PANIC_WINDOW_PERCENTAGE_MIN, PANIC_WINDOW_PERCENTAGE_MAX),
        (PANIC_THRESHOLD_PERCENTAGE, PANIC_THRESHOLD_PERCENTAGE_MIN, PANIC_THRESHOLD_PERCENTAGE_MAX),
        (TARGET_UTILIZATION_PERCENTAGE, 1.0, 100.0),
    )
    for keys, lo, hi in ranged:
        found = _get(annotations, keys)
        if found is None:
            continue
        value = _float(found[1])
        if value is None:
            problems.append(f"invalid value: {found[1]}: {found[0]}")
        elif not lo <= value <= hi:
            problems.append(f"expected {lo:g} <= {found[1]} <= {hi:g}: {found[0]}")
    target = _get(annotations, TARGET)
    if target is not None:
        value = _float(target[1])
        if value is None:
            problems.append(f"invalid value: {target[1]}: {target[0]}")
        elif value < TARGET_MIN:
            problems.append(f"target {target[1]} should be at least {TARGET_MIN:g}: {target[0]}")
    tbc = _get(annotations, TARGET_BURST_CAPACITY)
    if tbc is not None:
        value = _float(tbc[1])
        if value is None or (value < 0 and value != -1):
            problems.append(f"invalid value: {tbc[1]}: {tbc[0]}")
    return problems


def _validate_durations(annotations: Mapping[str, str]) -> list[str]:
    problems = []
    window = _get(annotations, WINDOW)
    if window is not None:
        ns = _duration_ns(window[1])
        if ns is None:
            problems.append(f"invalid value: {window[1]}: {window[0]}")
        elif not WINDOW_MIN_SECONDS <= ns / durations.NANOS_PER_SECOND <= WINDOW_MAX_SECONDS:
            problems.append(f"expected 6s <= {window[1]} <= 1h0m0s: {window[0]}")
        elif not durations.is_whole_seconds(ns):
            problems.append(f"must be specified with at most second precision: {window[0]}")
    for keys, whole in ((SCALE_DOWN_DELAY, True), (SCALE_TO_ZERO_POD_RETENTION_PERIOD, False)):
        found = _get(annotations, keys)
        if found is None:
            continue
        ns = _duration_ns(found[1])
        if ns is None:
            problems.append(f"invalid value: {found[1]}: {found[0]}")
        elif not 0 <= ns / durations.NANOS_PER_SECOND <= WINDOW_MAX_SECONDS:
            problems.append(f"expected 0s <= {found[1]} <= 1h0m0s: {found[0]}")
        elif whole and not durations.is_whole_seconds(ns):
            problems.append(f"must be specified with at most second precision: {found[0]}")
    return problems


def _validate_metric(annotations: Mapping[str, str]) -> list[str]:
    found = _get(annotations, METRIC)
    if found is None:
        return []
    klass_found = _get(annotations, CLASS)
    klass = klass_found[1] if klass_found else KPA_CLASS
    if klass == KPA_CLASS and found[1] not in (CONCURRENCY, RPS):
        return [f"invalid value: {found[1]}: {METRIC[0]}"]
    if klass == HPA_CLASS and found[1] == "":
        return [f"invalid value: {found[1]}: {METRIC[0]}"]
    return []


def _validate_algorithm(annotations: Mapping[str, str]) -> list[str]:
    # As in Knative, only an explicit KPA class annotation turns this check on: custom autoscaler
    # classes may define their own algorithms.
    klass = _get(annotations, CLASS)
    if klass is None or klass[1] != KPA_CLASS:
        return []
    found = _get(annotations, METRIC_AGGREGATION_ALGORITHM)
    if found and found[1] and found[1] not in (LINEAR, WEIGHTED_EXPONENTIAL, WEIGHTED_EXPONENTIAL_ALT):
        return [f"invalid value: {found[1]}: {found[0]}"]
    return []


def _validate_initial_scale(annotations: Mapping[str, str], config: AutoscalerConfig) -> list[str]:
    found = _get(annotations, INITIAL_SCALE)
    if found is None:
        return []
    value = _int32(found[1])
    if value is None:
        return [f"invalid value: {found[1]}: {found[0]}"]
    if value < 0:
        return [f"invalid value: {found[1]}: {found[0]} must be greater than 0"]
    if value == 0 and not config.allow_zero_initial_scale:
        return [f"invalid value: {found[1]}: {found[0]}=0 not allowed by cluster"]
    return []


def validate_annotations(annotations: Mapping[str, str], config: AutoscalerConfig) -> list[str]:
    """Knative's admission rules for autoscaling annotations; an empty list means valid."""
    return [
        *_validate_aliases(annotations),
        *_validate_class(annotations),
        *_validate_scale_bounds(annotations, config),
        *_validate_floats(annotations),
        *_validate_durations(annotations),
        *_validate_metric(annotations),
        *_validate_algorithm(annotations),
        *_validate_initial_scale(annotations, config),
    ]


# --------------------------------------------------------------------------------------------
# the resolved spec


@dataclasses.dataclass(frozen=True)
class RevisionScalingSpec:
    """Everything the decider needs for one revision, resolved from annotations and config.

    Durations are seconds. `target` is the per-pod target after utilization; `total` is the
    per-pod capacity before utilization (Knative's TotalValue, used for burst capacity).
    """

    autoscaler_class: str = KPA_CLASS
    metric: Metric = "concurrency"
    container_concurrency: int = 0
    target: float = 70.0
    total: float = 100.0
    target_utilization: float = 0.7
    target_burst_capacity: float = 211.0
    min_scale: int = 0
    max_scale: int = 0
    initial_scale: int = 1
    activation_scale: int = 1
    stable_window: float = 60.0
    panic_window: float = 6.0
    panic_threshold: float = 2.0
    scale_down_delay: float = 0.0
    scale_to_zero_pod_retention: float = 0.0
    aggregation: Aggregation = "linear"
    max_scale_up_rate: float = 1000.0
    max_scale_down_rate: float = 2.0
    activator_capacity: float = 100.0
    enable_scale_to_zero: bool = True
    scale_to_zero_grace_period: float = 30.0
    # serving.knative.dev/progress-deadline; None: config-deployment's progress-deadline applies
    progress_deadline: float | None = None


def _annotation_float(annotations: Mapping[str, str], keys: tuple[str, ...]) -> float | None:
    found = _get(annotations, keys)
    return None if found is None else _float(found[1])


def _annotation_int(annotations: Mapping[str, str], keys: tuple[str, ...]) -> int | None:
    found = _get(annotations, keys)
    return None if found is None else _int32(found[1])


def _annotation_seconds(annotations: Mapping[str, str], keys: tuple[str, ...]) -> float | None:
    found = _get(annotations, keys)
    if found is None:
        return None
    ns = _duration_ns(found[1])
    return None if ns is None else ns / durations.NANOS_PER_SECOND


def panic_window_seconds(stable_window: float, percentage: float) -> float:
    """stable x pct/100 rounded to whole seconds (half away from zero, as Go's Round), >= 1 s."""
    raw_ns = int(stable_window * durations.NANOS_PER_SECOND * percentage / 100.0)
    whole, rest = divmod(raw_ns, durations.NANOS_PER_SECOND)
    if rest * 2 >= durations.NANOS_PER_SECOND:
        whole += 1
    return float(max(1, whole))


def resolve_target(
    annotations: Mapping[str, str], container_concurrency: int, metric: str, config: AutoscalerConfig
) -> tuple[float, float, float]:
    """(target, total, utilization) as knative's ResolveMetricTarget computes them."""
    if metric == RPS:
        total = config.requests_per_second_target_default
        utilization = RPS_TARGET_UTILIZATION
    else:
        total = float(container_concurrency) or config.container_concurrency_target_default
        utilization = config.container_concurrency_target_fraction
    annotated = _annotation_float(annotations, TARGET)
    if annotated is not None:
        total = annotated
        if metric != RPS and container_concurrency != 0:
            total = min(annotated, float(container_concurrency))
    annotated_utilization = _annotation_float(annotations, TARGET_UTILIZATION_PERCENTAGE)
    if annotated_utilization is not None:
        utilization = annotated_utilization / 100.0
    return max(TARGET_MIN, total * utilization), total, utilization


def resolve_spec(
    annotations: Mapping[str, str], container_concurrency: int, config: AutoscalerConfig
) -> RevisionScalingSpec:
    """Resolve one revision's scaling spec from its annotations, containerConcurrency and config."""
    klass_found = _get(annotations, CLASS)
    klass = klass_found[1] if klass_found else config.pod_autoscaler_class
    metric_found = _get(annotations, METRIC)
    metric: Metric = RPS if metric_found is not None and metric_found[1] == RPS else CONCURRENCY
    target, total, utilization = resolve_target(annotations, container_concurrency, metric, config)

    stable = _annotation_seconds(annotations, WINDOW)
    if stable is None or not WINDOW_MIN_SECONDS <= stable <= WINDOW_MAX_SECONDS:
        stable = config.stable_window
    panic_pct = _annotation_float(annotations, PANIC_WINDOW_PERCENTAGE)
    if panic_pct is None:
        panic_pct = config.panic_window_percentage
    threshold_pct = _annotation_float(annotations, PANIC_THRESHOLD_PERCENTAGE)
    if threshold_pct is None:
        threshold_pct = config.panic_threshold_percentage

    tbc = _annotation_float(annotations, TARGET_BURST_CAPACITY)
    min_scale = _annotation_int(annotations, MIN_SCALE)
    max_scale = _annotation_int(annotations, MAX_SCALE)
    initial = _annotation_int(annotations, INITIAL_SCALE)
    if initial is None or (initial == 0 and not config.allow_zero_initial_scale):
        initial = config.initial_scale
    activation = _annotation_int(annotations, ACTIVATION_SCALE)
    delay = _annotation_seconds(annotations, SCALE_DOWN_DELAY)
    retention = _annotation_seconds(annotations, SCALE_TO_ZERO_POD_RETENTION_PERIOD)
    algorithm_found = _get(annotations, METRIC_AGGREGATION_ALGORITHM)
    aggregation: Aggregation = (
        WEIGHTED_EXPONENTIAL
        if algorithm_found is not None
        and algorithm_found[1] in (WEIGHTED_EXPONENTIAL, WEIGHTED_EXPONENTIAL_ALT)
        else LINEAR
    )
    return RevisionScalingSpec(
        autoscaler_class=klass,
        metric=metric,
        container_concurrency=container_concurrency,
        target=target,
        total=total,
        target_utilization=utilization,
        target_burst_capacity=config.target_burst_capacity if tbc is None else tbc,
        min_scale=max(0, config.min_scale if min_scale is None else min_scale),
        max_scale=max(0, config.max_scale if max_scale is None else max_scale),
        initial_scale=initial,
        activation_scale=1 if activation is None else activation,
        stable_window=stable,
        panic_window=panic_window_seconds(stable, panic_pct),
        panic_threshold=threshold_pct / 100.0,
        scale_down_delay=config.scale_down_delay if delay is None else delay,
        scale_to_zero_pod_retention=(
            config.scale_to_zero_pod_retention_period if retention is None else retention
        ),
        aggregation=aggregation,
        max_scale_up_rate=config.max_scale_up_rate,
        max_scale_down_rate=config.max_scale_down_rate,
        activator_capacity=config.activator_capacity,
        enable_scale_to_zero=config.enable_scale_to_zero,
        scale_to_zero_grace_period=config.scale_to_zero_grace_period,
        progress_deadline=_positive(_annotation_seconds(annotations, PROGRESS_DEADLINE)),
    )


def _positive(seconds: float | None) -> float | None:
    return seconds if seconds is not None and seconds > 0 else None
