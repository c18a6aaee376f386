"""autoscaling.knative.dev/* annotation checks, with Knative's messages and ranges.

Source: knative/serving pkg/apis/autoscaling/annotation_validation.go (fact sheet §2.2, §2.6).
Paths are the annotation keys; callers place them with `.via_field("metadata.annotations")`.
"""

from __future__ import annotations

from collections.abc import Mapping

from serving.api import errors, keys
from serving.api.config.autoscaler import TARGET_MIN, AutoscalerConfig
from serving.api.config.autoscaler import WINDOW_MAX_SECONDS as WINDOW_MAX
from serving.api.config.autoscaler import WINDOW_MIN_SECONDS as WINDOW_MIN
from serving.api.durations import DurationError, format_duration, parse_duration
from serving.api.errors import FieldError, FieldErrors

_INT32_MAX = 2**31 - 1


def get(annotations: Mapping[str, str], canonical: str) -> tuple[str, str] | None:
    """(key as written, value) for a canonical key or one of its aliases."""
    for key in keys.AUTOSCALING_ALIASES.get(canonical, (canonical,)):
        if key in annotations:
            return key, annotations[key]
    return None


def _int_ge0(annotations: Mapping[str, str], canonical: str) -> tuple[int, FieldError | None]:
    found = get(annotations, canonical)
    if found is None:
        return 0, None
    k, v = found
    try:
        i = int(v.strip())
    except ValueError:
        return 0, errors.invalid_value(v, k)
    if i < 0 or i > _INT32_MAX:
        return 0, errors.out_of_bounds(v, 0, _INT32_MAX, k)
    return i, None


def _float(v: str) -> float | None:
    try:
        return float(v)
    except ValueError:
        return None


def validate_autoscaling_annotations(annotations: Mapping[str, str], cfg: AutoscalerConfig) -> FieldErrors:
    """Knative's rules for autoscaling.knative.dev annotations; the webhook and the autoscaler
    (which never trusts that the webhook ran) both call this."""
    return FieldErrors().also(
        _aliases(annotations),
        _class(annotations),
        _min_max_scale(annotations, cfg),
        _floats(annotations),
        _window(annotations),
        _retention(annotations),
        _scale_down_delay(annotations),
        _metric(annotations),
        _algorithm(annotations),
        _initial_scale(annotations, cfg),
    )


def _aliases(a: Mapping[str, str]) -> FieldErrors:
    """An annotation given under two of its spellings (min-scale and minScale) is ambiguous."""
    return FieldErrors().also(
        *(
            errors.multiple_one_of(*present)
            for spellings in keys.AUTOSCALING_ALIASES.values()
            if len(present := [k for k in spellings if k in a]) > 1
        )
    )


def _class(a: Mapping[str, str]) -> FieldError | None:
    found = get(a, keys.CLASS_ANNOTATION)
    if found:
        k, v = found
        if v.endswith(".knative.dev") and v not in (keys.KPA_CLASS, keys.HPA_CLASS):
            return errors.invalid_value(v, k)
    return None


def _min_max_scale(a: Mapping[str, str], cfg: AutoscalerConfig) -> FieldErrors:
    lo, e1 = _int_ge0(a, keys.MIN_SCALE_ANNOTATION)
    hi, e2 = _int_ge0(a, keys.MAX_SCALE_ANNOTATION)
    errs = FieldErrors().also(e1, e2)
    if hi != 0 and hi < lo:
        errs = errs.also(
            FieldError(
                f"max-scale={hi} is less than min-scale={lo}",
                (keys.MAX_SCALE_ANNOTATION, keys.MIN_SCALE_ANNOTATION),
            )
        )
    found = get(a, keys.MAX_SCALE_ANNOTATION)
    if found and cfg.max_scale_limit:
        k = found[0]
        if hi > cfg.max_scale_limit:
            errs = errs.also(errors.out_of_bounds(hi, 1, cfg.max_scale_limit, k))
        if hi == 0:
            errs = errs.also(
                FieldError(f"max-scale=0 (unlimited), must be less than {cfg.max_scale_limit}", (k,))
            )
    found = get(a, keys.ACTIVATION_SCALE_ANNOTATION)
    if found:
        k, v = found
        try:
            act = int(v.strip())
        except ValueError:
            return errs.also(errors.invalid_value(v, k))
        if lo > act:
            errs = errs.also(FieldError(f"min-scale={lo} is greater than activation-scale={act}", (k,)))
        elif hi != 0 and hi < act:
            errs = errs.also(FieldError(f"max-scale={hi} is less than activation-scale={act}", (k,)))
        elif act < 2:
            errs = errs.also(FieldError(f"activation-scale={act} must be greater than 1", (k,)))
    return errs


def _floats(a: Mapping[str, str]) -> FieldErrors:
    errs = FieldErrors()
    ranges = (
        (keys.PANIC_WINDOW_PERCENTAGE_ANNOTATION, 1.0, 100.0),
        (keys.PANIC_THRESHOLD_PERCENTAGE_ANNOTATION, 110.0, 1000.0),
        (keys.TARGET_UTILIZATION_ANNOTATION, 1.0, 100.0),
    )
    for canonical, lo, hi in ranges:
        found = get(a, canonical)
        if found:
            k, v = found
            f = _float(v)
            if f is None:
                errs = errs.also(errors.invalid_value(v, k))
            elif not lo <= f <= hi:
                errs = errs.also(errors.out_of_bounds(v, lo, hi, k))
    found = get(a, keys.TARGET_ANNOTATION)
    if found:
        k, v = found
        f = _float(v)
        if f is None:
            errs = errs.also(errors.invalid_value(v, k))
        elif f < TARGET_MIN:
            errs = errs.also(errors.generic(f"target {v} should be at least {TARGET_MIN:g}", k))
    found = get(a, keys.TARGET_BURST_CAPACITY_ANNOTATION)
    if found:
        k, v = found
        f = _float(v)
        if f is None or (f < 0 and f != -1):
            errs = errs.also(errors.invalid_value(v, k))
    return errs


def _duration(v: str) -> float | None:
    try:
        return parse_duration(v)
    except DurationError:
        return None


def _window(a: Mapping[str, str]) -> FieldError | None:
    found = get(a, keys.WINDOW_ANNOTATION)
    if not found:
        return None
    k, v = found
    d = _duration(v)
    if d is None:
        return errors.invalid_value(v, k)
    if not WINDOW_MIN <= d <= WINDOW_MAX:
        return errors.out_of_bounds(v, format_duration(WINDOW_MIN), format_duration(WINDOW_MAX), k)
    if d != int(d):
        return errors.generic("must be specified with at most second precision", k)
    return None


def _retention(a: Mapping[str, str]) -> FieldError | None:
    found = get(a, keys.SCALE_TO_ZERO_POD_RETENTION_ANNOTATION)
    if not found:
        return None
    k, v = found
    d = _duration(v)
    if d is None:
        return errors.invalid_value(v, k)
    if not 0 <= d <= WINDOW_MAX:
        return errors.out_of_bounds(v, "0s", format_duration(WINDOW_MAX), k)
    return None


def _scale_down_delay(a: Mapping[str, str]) -> FieldError | None:
    found = get(a, keys.SCALE_DOWN_DELAY_ANNOTATION)
    if not found:
        return None
    k, v = found
    d = _duration(v)
    if d is None:
        return errors.invalid_value(v, k)
    if not 0 <= d <= WINDOW_MAX:
        return errors.out_of_bounds(v, "0s", format_duration(WINDOW_MAX), k)
    if d != round(d):
        return errors.generic("must be specified with at most second precision", k)
    return None


def _metric(a: Mapping[str, str]) -> FieldError | None:
    found = get(a, keys.METRIC_ANNOTATION)
    if not found:
        return None
    metric = found[1]
    cls_found = get(a, keys.CLASS_ANNOTATION)
    cls = cls_found[1] if cls_found else keys.KPA_CLASS
    if cls == keys.KPA_CLASS and metric not in (keys.METRIC_CONCURRENCY, keys.METRIC_RPS):
        return errors.invalid_value(metric, keys.METRIC_ANNOTATION)
    if cls == keys.HPA_CLASS and metric == "":
        return errors.invalid_value(metric, keys.METRIC_ANNOTATION)
    return None


def _algorithm(a: Mapping[str, str]) -> FieldError | None:
    cls_found = get(a, keys.CLASS_ANNOTATION)
    if not cls_found or cls_found[1] != keys.KPA_CLASS:
        return None  # Knative only checks the algorithm when the class is KPA explicitly
    found = get(a, keys.METRIC_AGGREGATION_ANNOTATION)
    if found and found[1] and found[1] not in ("linear", "weighted-exponential", "weightedExponential"):
        return errors.invalid_value(found[1], found[0])
    return None


def _initial_scale(a: Mapping[str, str], cfg: AutoscalerConfig) -> FieldError | None:
    found = get(a, keys.INITIAL_SCALE_ANNOTATION)
    if not found:
        return None
    k, v = found
    try:
        n = int(v.strip())
    except ValueError:
        return errors.invalid_value(v, k)
    if n < 0:
        return errors.invalid_value(v, f"{k} must be greater than 0")
    if n == 0 and not cfg.allow_zero_initial_scale:
        return errors.invalid_value(v, f"{k}=0 not allowed by cluster")
    return None
