"""Traffic block rules (knative/serving pkg/apis/serving/v1/route_validation.go).

Paths are relative to the traffic list (`[0].percent`, or "" for the list itself); callers add
`.via_field("traffic")`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from serving.api import errors
from serving.api.errors import FieldError, FieldErrors
from serving.api.kmeta import dns1035_label_errors, qualified_name_errors
from serving.api.types import TrafficTarget


def validate_traffic(traffic: Sequence[Mapping[str, Any]], *, in_service: bool) -> FieldErrors:
    """Rules for spec.traffic; `in_service` means configurationName is implied (and disallowed)."""
    errs = FieldErrors()
    first_by_tag: dict[str, int] = {}
    total = 0
    for i, body in enumerate(traffic):
        t = TrafficTarget.from_body(body)
        errs = errs.also(validate_target(t, in_service=in_service).via_index(i))
        total += t.percent or 0
        if not t.tag:
            continue
        msgs = dns1035_label_errors(t.tag)
        if msgs:
            errs = errs.also(
                errors.invalid_array_value(f"not a DNS 1035 label: [{' '.join(msgs)}]", "tag", i)
            )
        if t.tag in first_by_tag:
            errs = errs.also(
                FieldError(
                    f'Multiple definitions for "{t.tag}"', (f"[{i}].tag", f"[{first_by_tag[t.tag]}].tag")
                )
            )
        else:
            first_by_tag[t.tag] = i
    if total != 100:
        errs = errs.also(FieldError(f"Traffic targets sum to {total}, want 100", ("",)))
    return errs


def validate_target(t: TrafficTarget, *, in_service: bool) -> FieldErrors:
    errs = FieldErrors()
    if t.latest_revision is not None:
        pinned = bool(t.revision_name)
        if pinned == t.latest_revision:
            lr = "true" if t.latest_revision else "false"
            errs = errs.also(
                errors.generic(
                    f'may not set revisionName "{t.revision_name}" when latestRevision is {lr}',
                    "latestRevision",
                )
            )
    if in_service and t.configuration_name:
        errs = errs.also(errors.disallowed_fields("configurationName"))
    elif t.revision_name and t.configuration_name:
        errs = errs.also(errors.multiple_one_of("revisionName", "configurationName"))
    elif t.revision_name:
        msgs = qualified_name_errors(t.revision_name)
        if msgs:
            errs = errs.also(errors.invalid_key_name(t.revision_name, "revisionName", msgs))
    elif t.configuration_name:
        msgs = qualified_name_errors(t.configuration_name)
        if msgs:
            errs = errs.also(errors.invalid_key_name(t.configuration_name, "configurationName", msgs))
    elif not in_service:
        errs = errs.also(errors.missing_one_of("revisionName", "configurationName"))
    if t.percent is not None and not 0 <= t.percent <= 100:
        errs = errs.also(errors.out_of_bounds(t.percent, 0, 100, "percent"))
    if t.url:
        errs = errs.also(errors.disallowed_fields("url"))
    return errs
