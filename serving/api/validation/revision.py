"""RevisionSpec, RevisionTemplateSpec and Revision rules.

Source: knative/serving pkg/apis/serving/v1/revision_validation.go.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from serving.api import errors, keys
from serving.api.config import Config
from serving.api.errors import FieldError, FieldErrors
from serving.api.kmeta import dns1035_label_errors
from serving.api.meta import ObjectMeta
from serving.api.validation.annotations import validate_autoscaling_annotations
from serving.api.validation.numbers import as_int
from serving.api.validation.podspec import validate_pod_spec


def validate_revision_spec(spec: Mapping[str, Any], cfg: Config) -> FieldErrors:
    errs = validate_pod_spec(spec, cfg.features)
    d = cfg.defaults
    for field in ("timeoutSeconds", "responseStartTimeoutSeconds", "idleTimeoutSeconds"):
        raw = spec.get(field)
        if raw is None:
            continue
        value = as_int(raw)
        if value is None:
            errs = errs.also(errors.invalid_value(raw, field))
        elif value != 0 and not 0 <= value <= d.max_revision_timeout_seconds:
            errs = errs.also(errors.out_of_bounds(value, 0, d.max_revision_timeout_seconds, field))
    raw_cc = spec.get("containerConcurrency")
    if raw_cc is not None:
        cc = as_int(raw_cc)
        lowest = 0 if d.allow_container_concurrency_zero else 1
        if cc is None:
            errs = errs.also(errors.invalid_value(raw_cc, "containerConcurrency"))
        elif not lowest <= cc <= d.container_concurrency_max_limit:
            errs = errs.also(
                errors.out_of_bounds(cc, lowest, d.container_concurrency_max_limit, "containerConcurrency")
            )
    return errs


def validate_template(template: Mapping[str, Any], cfg: Config, parent: ObjectMeta) -> FieldErrors:
    """A RevisionTemplateSpec inside a Service or Configuration; paths relative to the template."""
    meta = ObjectMeta.from_body(template.get("metadata"))
    errs = validate_revision_spec(template.get("spec") or {}, cfg).via_field("spec")
    errs = errs.also(
        validate_autoscaling_annotations(meta.annotations, cfg.autoscaler).via_field("metadata.annotations")
    )
    errs = errs.also(_validate_revision_name(meta, parent))
    sidecar = _validate_queue_sidecar_annotation(meta.annotations)
    return errs.also(sidecar.via_field("metadata.annotations") if sidecar else None)


def _validate_revision_name(meta: ObjectMeta, parent: ObjectMeta) -> FieldError | None:
    """BYO revision names: DNS-1035, prefixed by `{parent}-`, not with a generateName'd parent."""
    if meta.generate_name:
        msgs = dns1035_label_errors(meta.generate_name.rstrip("-") or "x")
        if msgs:
            return errors.invalid_value(
                f"not a DNS 1035 label prefix: [{' '.join(msgs)}]", "metadata.generateName"
            )
    if not meta.name:
        return None
    msgs = dns1035_label_errors(meta.name)
    if msgs:
        return errors.invalid_value(f"not a DNS 1035 label: [{' '.join(msgs)}]", "metadata.name")
    if not parent.name and parent.generate_name:
        return errors.disallowed_fields("metadata.name")
    prefix = parent.name + "-"
    if not meta.name.startswith(prefix):
        return errors.invalid_value(f'"{meta.name}" must have prefix "{prefix}"', "metadata.name")
    return None


def _validate_queue_sidecar_annotation(annotations: Mapping[str, str]) -> FieldError | None:
    raw = annotations.get(keys.QUEUE_SIDECAR_RESOURCE_PERCENTAGE_ANNOTATION)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return errors.invalid_value(raw, "").via_key(keys.QUEUE_SIDECAR_RESOURCE_PERCENTAGE_ANNOTATION)
    if not 0.1 <= value <= 100:
        return errors.out_of_bounds(value, 0.1, 100.0, "").via_key(
            keys.QUEUE_SIDECAR_RESOURCE_PERCENTAGE_ANNOTATION
        )
    return None


def verify_name_change(new: Mapping[str, Any], old: Mapping[str, Any]) -> FieldError | None:
    """A template with a BYO name must change its name whenever anything else in it changes."""
    name = (new.get("metadata") or {}).get("name") or ""
    if not name or name != ((old.get("metadata") or {}).get("name") or ""):
        return None
    diff = short_diff(old, new)
    if diff:
        return FieldError(
            "Saw the following changes without a name change (-old +new)", ("metadata.name",), diff
        )
    return None


def short_diff(old: Any, new: Any, path: str = "") -> str:
    """A compact `-old +new` listing of the leaves that differ, in the spirit of kmp.ShortDiff."""
    lines: list[str] = []
    _diff(old, new, path, lines)
    return "\n".join(lines)


def _diff(old: Any, new: Any, path: str, out: list[str]) -> None:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for k in sorted(set(old) | set(new)):
            _diff(old.get(k), new.get(k), f"{path}.{k}" if path else str(k), out)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _diff(a, b, f"{path}[{i}]", out)
    elif old != new:
        out.append(f"{path}:\n\t-: {json.dumps(old)}\n\t+: {json.dumps(new)}")


def validate_revision_update(new_spec: Mapping[str, Any], old_spec: Mapping[str, Any]) -> FieldError | None:
    """Revisions are immutable: any spec change is refused."""
    diff = short_diff(old_spec, new_spec)
    if diff:
        return FieldError("Immutable fields changed (-old +new)", ("spec",), diff)
    return None
