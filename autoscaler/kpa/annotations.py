"""A revision's resolved scaling spec, from its annotations, containerConcurrency and config.

`resolve_spec` reads the annotations the way the PodAutoscaler accessors and Knative's
`MakeDecider`/`ResolveMetricTarget` do, falling back to config-autoscaler for anything absent
or unreadable (admission rejects the unreadable ones; see `validation`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from autoscaler.kpa.config import (
    KPA_CLASS,
    RPS_TARGET_UTILIZATION,
    TARGET_MIN,
    WINDOW_MAX_SECONDS,
    WINDOW_MIN_SECONDS,
    AutoscalerConfig,
)
from autoscaler.kpa.keys import (
    ACTIVATION_SCALE,
    CLASS,
    CONCURRENCY,
    GROUP,
    INITIAL_SCALE,
    LINEAR,
    MAX_SCALE,
    METRIC,
    METRIC_AGGREGATION_ALGORITHM,
    MIN_SCALE,
    PANIC_THRESHOLD_PERCENTAGE,
    PANIC_WINDOW_PERCENTAGE,
    PROGRESS_DEADLINE,
    RPS,
    SCALE_DOWN_DELAY,
    SCALE_TO_ZERO_POD_RETENTION_PERIOD,
    TARGET,
    TARGET_BURST_CAPACITY,
    TARGET_UTILIZATION_PERCENTAGE,
    WEIGHTED_EXPONENTIAL,
    WEIGHTED_EXPONENTIAL_ALT,
    WINDOW,
    Aggregation,
    Metric,
    get_annotation,
    parse_duration_ns,
    parse_float,
    parse_int32,
)
from serving.api import durations
from serving.api.validation.annotations import validate_autoscaling_annotations

# Re-exported so callers find the annotation API in one place.
__all__ = [
    "GROUP",
    "RPS",
    "RevisionScalingSpec",
    "panic_window_seconds",
    "resolve_spec",
    "resolve_target",
    "validate_annotations",
]


def validate_annotations(annotations: Mapping[str, str], cfg: AutoscalerConfig) -> list[str]:
    """Knative's admission rules for the annotations, as `path: message` lines (empty: valid).
    The operator's webhook runs the same rules; the autoscaler checks again because objects can
    reach it without passing the webhook (created before it ran, or with it disabled)."""
    return validate_autoscaling_annotations(annotations, cfg).messages()


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
    found = get_annotation(annotations, keys)
    return None if found is None else parse_float(found[1])


def _annotation_int(annotations: Mapping[str, str], keys: tuple[str, ...]) -> int | None:
    found = get_annotation(annotations, keys)
    return None if found is None else parse_int32(found[1])


def _annotation_seconds(annotations: Mapping[str, str], keys: tuple[str, ...]) -> float | None:
    found = get_annotation(annotations, keys)
    if found is None:
        return None
    ns = parse_duration_ns(found[1])
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
    klass_found = get_annotation(annotations, CLASS)
    klass = klass_found[1] if klass_found else config.pod_autoscaler_class
    metric_found = get_annotation(annotations, METRIC)
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
    algorithm_found = get_annotation(annotations, METRIC_AGGREGATION_ALGORITHM)
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
