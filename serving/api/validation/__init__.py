"""Validation of whole objects, as Knative's validating webhook does it.

Each `validate_<kind>(body, cfg, old=None)` returns FieldErrors with full paths
(`spec.traffic`, `spec.template.spec.containers[0].image`); empty means admitted. `old` is the
stored object on an update. Bodies are expected to be defaulted first (serving.api.defaults).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from serving.api import errors, keys
from serving.api.config import Config
from serving.api.durations import DurationError, parse_duration
from serving.api.errors import FieldError, FieldErrors
from serving.api.kmeta import dns1035_label_errors
from serving.api.meta import ObjectMeta
from serving.api.validation import shape
from serving.api.validation.annotations import validate_autoscaling_annotations
from serving.api.validation.revision import (
    validate_revision_spec,
    validate_revision_update,
    validate_template,
    verify_name_change,
)
from serving.api.validation.traffic import validate_traffic

__all__ = [
    "VALIDATORS",
    "validate_autoscaling_annotations",
    "validate_configuration",
    "validate_revision",
    "validate_revision_spec",
    "validate_route",
    "validate_service",
    "validate_traffic",
]

Validator = Callable[[Mapping[str, Any], Config, "Mapping[str, Any] | None"], FieldErrors]


_AUTOSCALING_ONLY_IN_TEMPLATE = (
    'autoscaling annotations must be put under "spec.template.metadata.annotations" to work'
)


def _validate_metadata(
    meta: ObjectMeta, *, check_name: bool = True, allow_autoscaling: bool = False
) -> FieldErrors:
    """Name rules, the visibility label, the rollout-duration annotation, and (except on a
    Revision) no autoscaling annotations, which only act in a template; paths under metadata."""
    errs = FieldErrors()
    if not allow_autoscaling:
        for key in sorted(meta.annotations):
            if key.startswith(keys.AUTOSCALING_PREFIX):
                errs = errs.also(
                    errors.invalid_key_name(key, "", (_AUTOSCALING_ONLY_IN_TEMPLATE,)).via_field(
                        "annotations"
                    )
                )
    if check_name:
        if not meta.name and not meta.generate_name:
            errs = errs.also(errors.missing_one_of("name", "generateName"))
        elif meta.name and dns1035_label_errors(meta.name):
            errs = errs.also(
                errors.invalid_value(
                    f"not a DNS 1035 label: [{' '.join(dns1035_label_errors(meta.name))}]", "name"
                )
            )
    vis = meta.labels.get(keys.VISIBILITY_LABEL)
    if vis is not None and vis != keys.VISIBILITY_CLUSTER_LOCAL:
        errs = errs.also(errors.invalid_value(vis, keys.VISIBILITY_LABEL).via_field("labels"))
    raw = meta.annotations.get(keys.ROLLOUT_DURATION_ANNOTATION)
    if raw is not None:
        try:
            if parse_duration(raw) < 0:
                errs = errs.also(
                    FieldError(
                        f"rollout-duration={raw} must be positive", (keys.ROLLOUT_DURATION_ANNOTATION,)
                    ).via_field("annotations")
                )
        except DurationError:
            errs = errs.also(
                errors.invalid_value(raw, keys.ROLLOUT_DURATION_ANNOTATION).via_field("annotations")
            )
    return errs


def _template_checks(
    body: Mapping[str, Any], cfg: Config, old: Mapping[str, Any] | None, meta: ObjectMeta
) -> FieldErrors:
    spec = body.get("spec") or {}
    template = spec.get("template") or {}
    errs = validate_template(template, cfg, meta).via_field("spec.template")
    if old is not None:
        old_template = (old.get("spec") or {}).get("template") or {}
        errs = errs.also(_via(verify_name_change(template, old_template), "spec.template"))
    return errs


def _via(err: FieldError | None, path: str) -> FieldError | None:
    return err.via_field(path) if err else None


def validate_service(
    body: Mapping[str, Any], cfg: Config, old: Mapping[str, Any] | None = None
) -> FieldErrors:
    wrong = shape.shape_errors(body, shape.SERVICE)
    if wrong:
        return wrong  # the rules below read these paths as the kinds the shape names
    meta = ObjectMeta.from_body(body.get("metadata"))
    errs = _validate_metadata(meta).via_field("metadata")
    errs = errs.also(_template_checks(body, cfg, old, meta))
    traffic = (body.get("spec") or {}).get("traffic") or []
    return errs.also(validate_traffic(traffic, in_service=True).via_field("spec.traffic"))


def validate_configuration(
    body: Mapping[str, Any], cfg: Config, old: Mapping[str, Any] | None = None
) -> FieldErrors:
    wrong = shape.shape_errors(body, shape.CONFIGURATION)
    if wrong:
        return wrong  # the rules below read these paths as the kinds the shape names
    meta = ObjectMeta.from_body(body.get("metadata"))
    errs = _validate_metadata(meta).via_field("metadata")
    return errs.also(_template_checks(body, cfg, old, meta))


def validate_route(body: Mapping[str, Any], cfg: Config, old: Mapping[str, Any] | None = None) -> FieldErrors:
    del cfg, old  # no ConfigMap or update rule applies to a Route's spec
    wrong = shape.shape_errors(body, shape.ROUTE)
    if wrong:
        return wrong  # the rules below read these paths as the kinds the shape names
    meta = ObjectMeta.from_body(body.get("metadata"))
    errs = _validate_metadata(meta).via_field("metadata")
    traffic = (body.get("spec") or {}).get("traffic") or []
    return errs.also(validate_traffic(traffic, in_service=False).via_field("spec.traffic"))


def validate_revision(
    body: Mapping[str, Any], cfg: Config, old: Mapping[str, Any] | None = None
) -> FieldErrors:
    wrong = shape.shape_errors(body, shape.REVISION)
    if wrong:
        return wrong  # the rules below read these paths as the kinds the shape names
    meta = ObjectMeta.from_body(body.get("metadata"))
    errs = _validate_metadata(meta, check_name=False, allow_autoscaling=True).via_field("metadata")
    if old is not None:
        return errs.also(validate_revision_update(body.get("spec") or {}, old.get("spec") or {}))
    errs = errs.also(
        validate_autoscaling_annotations(meta.annotations, cfg.autoscaler).via_field("metadata.annotations")
    )
    return errs.also(validate_revision_spec(body.get("spec") or {}, cfg).via_field("spec"))


VALIDATORS: dict[str, Validator] = {
    keys.SERVICE: validate_service,
    keys.CONFIGURATION: validate_configuration,
    keys.ROUTE: validate_route,
    keys.REVISION: validate_revision,
}
