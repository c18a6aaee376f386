"""Knative's admission rules for autoscaling annotations, as a pure function.

`validate_annotations` follows knative/serving `pkg/apis/autoscaling/annotation_validation.go`
and returns messages (empty when valid), so the operator's webhook can reuse it.
"""

from __future__ import annotations

from collections.abc import Mapping

from autoscaler.kpa.config import (
    HPA_CLASS,
    KPA_CLASS,
    PANIC_THRESHOLD_PERCENTAGE_MAX,
    PANIC_THRESHOLD_PERCENTAGE_MIN,
    PANIC_WINDOW_PERCENTAGE_MAX,
    PANIC_WINDOW_PERCENTAGE_MIN,
    TARGET_MIN,
    WINDOW_MAX_SECONDS,
    WINDOW_MIN_SECONDS,
    AutoscalerConfig,
)
from autoscaler.kpa.keys import (
    ACTIVATION_SCALE,
    ALL_KEYS,
    CLASS,
    CONCURRENCY,
    INITIAL_SCALE,
    KNATIVE_DOMAIN,
    LINEAR,
    MAX_SCALE,
    METRIC,
    METRIC_AGGREGATION_ALGORITHM,
    MIN_SCALE,
    PANIC_THRESHOLD_PERCENTAGE,
    PANIC_WINDOW_PERCENTAGE,
    RPS,
    SCALE_DOWN_DELAY,
    SCALE_TO_ZERO_POD_RETENTION_PERIOD,
    TARGET,
    TARGET_BURST_CAPACITY,
    TARGET_UTILIZATION_PERCENTAGE,
    WEIGHTED_EXPONENTIAL,
    WEIGHTED_EXPONENTIAL_ALT,
    WINDOW,
    get_annotation,
    parse_duration_ns,
    parse_float,
    parse_int32,
)
from serving.api import durations


def _validate_aliases(annotations: Mapping[str, str]) -> list[str]:
    problems = []
    for keys in ALL_KEYS:
        present = [key for key in keys if key in annotations]
        if len(present) > 1:
            problems.append(f"expected exactly one, got both: {', '.join(present)}")
    return problems


def _validate_class(annotations: Mapping[str, str]) -> list[str]:
    found = get_annotation(annotations, CLASS)
    if found and found[1].endswith(KNATIVE_DOMAIN) and found[1] not in (KPA_CLASS, HPA_CLASS):
        return [f"invalid value: {found[1]}: {found[0]}"]
    return []


def _validate_scale_bounds(annotations: Mapping[str, str], config: AutoscalerConfig) -> list[str]:
    problems = []
    bounds: dict[str, int] = {}
    for name, keys in (("min-scale", MIN_SCALE), ("max-scale", MAX_SCALE)):
        found = get_annotation(annotations, keys)
        if found is None:
            bounds[name] = 0
            continue
        value = parse_int32(found[1])
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
    max_found = get_annotation(annotations, MAX_SCALE)
    if max_found is not None and config.max_scale_limit > 0:
        if hi > config.max_scale_limit:
            problems.append(f"expected 1 <= {hi} <= {config.max_scale_limit}: {max_found[0]}")
        if hi == 0:
            problems.append(
                f"max-scale=0 (unlimited), must be less than {config.max_scale_limit}: {max_found[0]}"
            )
    activation = get_annotation(annotations, ACTIVATION_SCALE)
    if activation is not None:
        value = parse_int32(activation[1])
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
        found = get_annotation(annotations, keys)
        if found is None:
            continue
        value = parse_float(found[1])
        if value is None:
            problems.append(f"invalid value: {found[1]}: {found[0]}")
        elif not lo <= value <= hi:
            problems.append(f"expected {lo:g} <= {found[1]} <= {hi:g}: {found[0]}")
    target = get_annotation(annotations, TARGET)
    if target is not None:
        value = parse_float(target[1])
        if value is None:
            problems.append(f"invalid value: {target[1]}: {target[0]}")
        elif value < TARGET_MIN:
            problems.append(f"target {target[1]} should be at least {TARGET_MIN:g}: {target[0]}")
    tbc = get_annotation(annotations, TARGET_BURST_CAPACITY)
    if tbc is not None:
        value = parse_float(tbc[1])
        if value is None or (value < 0 and value != -1):
            problems.append(f"invalid value: {tbc[1]}: {tbc[0]}")
    return problems


def _validate_durations(annotations: Mapping[str, str]) -> list[str]:
    problems = []
    window = get_annotation(annotations, WINDOW)
    if window is not None:
        ns = parse_duration_ns(window[1])
        if ns is None:
            problems.append(f"invalid value: {window[1]}: {window[0]}")
        elif not WINDOW_MIN_SECONDS <= ns / durations.NANOS_PER_SECOND <= WINDOW_MAX_SECONDS:
            problems.append(f"expected 6s <= {window[1]} <= 1h0m0s: {window[0]}")
        elif not durations.is_whole_seconds(ns):
            problems.append(f"must be specified with at most second precision: {window[0]}")
    for keys, whole in ((SCALE_DOWN_DELAY, True), (SCALE_TO_ZERO_POD_RETENTION_PERIOD, False)):
        found = get_annotation(annotations, keys)
        if found is None:
            continue
        ns = parse_duration_ns(found[1])
        if ns is None:
            problems.append(f"invalid value: {found[1]}: {found[0]}")
        elif not 0 <= ns / durations.NANOS_PER_SECOND <= WINDOW_MAX_SECONDS:
            problems.append(f"expected 0s <= {found[1]} <= 1h0m0s: {found[0]}")
        elif whole and not durations.is_whole_seconds(ns):
            problems.append(f"must be specified with at most second precision: {found[0]}")
    return problems


def _validate_metric(annotations: Mapping[str, str]) -> list[str]:
    found = get_annotation(annotations, METRIC)
    if found is None:
        return []
    klass_found = get_annotation(annotations, CLASS)
    klass = klass_found[1] if klass_found else KPA_CLASS
    if klass == KPA_CLASS and found[1] not in (CONCURRENCY, RPS):
        return [f"invalid value: {found[1]}: {METRIC[0]}"]
    if klass == HPA_CLASS and found[1] == "":
        return [f"invalid value: {found[1]}: {METRIC[0]}"]
    return []


def _validate_algorithm(annotations: Mapping[str, str]) -> list[str]:
    # As in Knative, only an explicit KPA class annotation turns this check on: custom autoscaler
    # classes may define their own algorithms.
    klass = get_annotation(annotations, CLASS)
    if klass is None or klass[1] != KPA_CLASS:
        return []
    found = get_annotation(annotations, METRIC_AGGREGATION_ALGORITHM)
    if found and found[1] and found[1] not in (LINEAR, WEIGHTED_EXPONENTIAL, WEIGHTED_EXPONENTIAL_ALT):
        return [f"invalid value: {found[1]}: {found[0]}"]
    return []


def _validate_initial_scale(annotations: Mapping[str, str], config: AutoscalerConfig) -> list[str]:
    found = get_annotation(annotations, INITIAL_SCALE)
    if found is None:
        return []
    value = parse_int32(found[1])
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
