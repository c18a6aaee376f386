"""Readiness and liveness probes (knative/serving pkg/apis/serving/k8s_validation.go).

Paths are relative to the probe (`periodSeconds`, `httpGet.port`). A probe must name exactly
one handler (defaulting gives a readiness probe `tcpSocket` when it names none), may not probe
another port than the container's, and a readiness probe's periods and thresholds follow
Knative's rules: `periodSeconds: 0` means Knative's aggressive probing, which sets its own
timeout and failure threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from serving.api import errors
from serving.api.errors import FieldError, FieldErrors
from serving.api.validation.numbers import as_int

_INT32_MAX = 2**31 - 1
HANDLERS = ("httpGet", "tcpSocket", "exec", "grpc")


def validate_probe(probe: Mapping[str, Any] | None, port: int | None, *, readiness: bool) -> FieldErrors:
    """`port` is the container's port when the container names one."""
    if not probe:
        return FieldErrors()
    if not isinstance(probe, Mapping):
        return FieldErrors().also(errors.invalid_value(probe, ""))
    errs = FieldErrors()
    handlers = [h for h in HANDLERS if probe.get(h) is not None]
    if not handlers:
        errs = errs.also(errors.missing_one_of(*HANDLERS))
    elif len(handlers) > 1:
        errs = errs.also(errors.multiple_one_of(*handlers))
    for handler in ("httpGet", "tcpSocket", "grpc"):
        action = probe.get(handler)
        if isinstance(action, Mapping) and port is not None:
            probed = as_int(action.get("port"))
            # A named port (a string) is resolved against the container's own ports.
            if probed and isinstance(action.get("port"), int) and probed != port:
                errs = errs.also(
                    errors.generic(
                        "may not be set to a port different from the container port", f"{handler}.port"
                    )
                )
    values: dict[str, int] = {}
    for field in (
        "periodSeconds",
        "initialDelaySeconds",
        "timeoutSeconds",
        "failureThreshold",
        "successThreshold",
    ):
        raw = probe.get(field)
        if raw is None:
            values[field] = 0
            continue
        value = as_int(raw)
        if value is None:
            errs = errs.also(errors.invalid_value(raw, field))
            values[field] = 0
        else:
            values[field] = value
    if probe.get("periodSeconds") is not None and as_int(probe.get("periodSeconds")) is None:
        return errs  # the period-dependent rules cannot be judged against an unreadable period
    if not readiness:
        for field in ("periodSeconds", "initialDelaySeconds", "timeoutSeconds", "failureThreshold"):
            if values[field] < 0:
                errs = errs.also(errors.out_of_bounds(values[field], 0, _INT32_MAX, field))
        return errs
    return errs.also(_readiness_rules(probe, values))


def _readiness_rules(probe: Mapping[str, Any], values: Mapping[str, int]) -> FieldErrors:
    errs = FieldErrors()
    for field in ("periodSeconds", "initialDelaySeconds"):
        if values[field] < 0:
            errs = errs.also(errors.out_of_bounds(values[field], 0, _INT32_MAX, field))
    if "successThreshold" in probe and values["successThreshold"] < 1:
        errs = errs.also(errors.out_of_bounds(values["successThreshold"], 1, _INT32_MAX, "successThreshold"))
    if values["periodSeconds"] == 0:
        for field in ("failureThreshold", "timeoutSeconds"):
            if values[field] != 0:
                errs = errs.also(FieldError(f"{field} is disallowed when periodSeconds is zero", (field,)))
    elif values["periodSeconds"] > 0:
        for field in ("timeoutSeconds", "failureThreshold"):
            if values[field] < 1:
                errs = errs.also(errors.out_of_bounds(values[field], 1, _INT32_MAX, field))
    return errs
