"""Object validation as kube-apiserver does it: names, metadata, and CRD structural schemas.

Pure functions. Errors are `Cause`s, shaped like the `details.causes` of a 422 Status:
`field` ("metadata.name", "spec.containers[0].image"), `reason` (kube's field.ErrorType names)
and `message` (kube's ErrorBody, e.g. `Invalid value: "x": spec.size in body must be of type
integer: "string"`). `Cause.text` is the "field: message" line kube joins into Status.message.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final, Literal

from localkube.jsonpath import deep_copy, json_equal, type_name

# Reasons, as kube's field.ErrorType spells them.
INVALID: Final = "FieldValueInvalid"
REQUIRED: Final = "FieldValueRequired"
NOT_SUPPORTED: Final = "FieldValueNotSupported"
DUPLICATE: Final = "FieldValueDuplicate"
TOO_LONG: Final = "FieldValueTooLong"
TOO_MANY: Final = "FieldValueTooMany"
FORBIDDEN: Final = "FieldValueForbidden"
TYPE_INVALID: Final = "FieldValueTypeInvalid"


@dataclass(frozen=True)
class Cause:
    field: str
    reason: str
    message: str

    @property
    def text(self) -> str:
        """The cause as kube prints it in Status.message: `field: message`."""
        return f"{self.field}: {self.message}" if self.field else self.message

    def as_status_cause(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message, "field": self.field}


def invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause(path, INVALID, f"Invalid value: {_show(value)}: {detail}")


def required(path: str, detail: str = "") -> Cause:
    return Cause(path, REQUIRED, "Required value" + (f": {detail}" if detail else ""))


def forbidden(path: str, detail: str) -> Cause:
    return Cause(path, FORBIDDEN, f"Forbidden: {detail}")


def not_supported(path: str, value: Any, supported: list[Any]) -> Cause:
    choices = ", ".join(_show(v) for v in supported)
    return Cause(path, NOT_SUPPORTED, f"Unsupported value: {_show(value)}: supported values: {choices}")


def duplicate(path: str, value: Any) -> Cause:
    return Cause(path, DUPLICATE, f"Duplicate value: {_show(value)}")


def too_long(path: str, limit: int) -> Cause:
    return Cause(path, TOO_LONG, f"Too long: may not be longer than {limit}")


def too_many(path: str, actual: int, limit: int) -> Cause:
    return Cause(path, TOO_MANY, f"Too many: {actual}: must have at most {limit} items")


def type_invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause(path, TYPE_INVALID, f"Invalid value: {_show(value)}: {detail}")


def _show(value: Any) -> str:
    """A value as kube's field errors quote it: strings quoted, everything else as JSON."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict | list):
        text = json.dumps(value, separators=(",", ":"), default=str)
        return f'"{text[:80]}..."' if len(text) > 80 else text
    return json.dumps(value, default=str)


# ---------------------------------------------------------------------------------------------
# Names (k8s.io/apimachinery/pkg/util/validation)

_DNS1123_LABEL: Final = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN: Final = _DNS1123_LABEL + r"(\." + _DNS1123_LABEL + ")*"
_DNS1035_LABEL: Final = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME: Final = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE: Final = f"({_QUALIFIED_NAME})?"

_MATCHERS: Final[Mapping[str, re.Pattern[str]]] = MappingProxyType(
    {
        regex: re.compile(regex)
        for regex in (_DNS1123_LABEL, _DNS1123_SUBDOMAIN, _DNS1035_LABEL, _QUALIFIED_NAME, _LABEL_VALUE)
    }
)


def _matches(regex: str, value: str) -> bool:
    return _MATCHERS[regex].fullmatch(value) is not None


_QUALIFIED_NAME_MSG: Final = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)


def _regex_error(message: str, regex: str, *examples: str) -> str:
    shown = " or ".join(f"'{e}'," for e in examples)
    return f"{message} (e.g. {shown} regex used for validation is '{regex}')"


def _max_len(limit: int) -> str:
    return f"must be no more than {limit} characters"


def dns1123_label_errors(name: str) -> list[str]:
    errors = [_max_len(63)] if len(name) > 63 else []
    if not _matches(_DNS1123_LABEL, name):
        if _matches(_DNS1123_SUBDOMAIN, name):
            errors.append("must not contain dots")
        else:
            message = (
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                "and must start and end with an alphanumeric character"
            )
            errors.append(_regex_error(message, _DNS1123_LABEL, "my-name", "123-abc"))
    return errors


def dns1123_subdomain_errors(name: str) -> list[str]:
    errors = [_max_len(253)] if len(name) > 253 else []
    if not _matches(_DNS1123_SUBDOMAIN, name):
        message = (
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
            "and must start and end with an alphanumeric character"
        )
        errors.append(_regex_error(message, _DNS1123_SUBDOMAIN, "example.com"))
    return errors


def dns1035_label_errors(name: str) -> list[str]:
    errors = [_max_len(63)] if len(name) > 63 else []
    if not _matches(_DNS1035_LABEL, name):
        message = (
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
            "start with an alphabetic character, and end with an alphanumeric character"
        )
        errors.append(_regex_error(message, _DNS1035_LABEL, "my-name", "abc-123"))
    return errors


def qualified_name_errors(value: str) -> list[str]:
    """A name with an optional DNS subdomain prefix, as label keys and annotation keys are."""
    parts = value.split("/")
    errors: list[str] = []
    if len(parts) > 2:
        return [
            "a qualified name "
            + _regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            errors.extend("prefix part " + e for e in dns1123_subdomain_errors(prefix))
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part " + _max_len(63))
    if not _matches(_QUALIFIED_NAME, name):
        errors.append(
            "name part " + _regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME, "MyName", "my.name", "123-abc")
        )
    return errors


def label_key_errors(key: Any) -> list[str]:
    if not isinstance(key, str):
        return [f"must be a string, not {type(key).__name__}"]
    return qualified_name_errors(key)


def label_value_errors(value: Any) -> list[str]:
    if not isinstance(value, str):
        return ["a label value must be a string"]
    errors = [_max_len(63)] if len(value) > 63 else []
    if not _matches(_LABEL_VALUE, value):
        message = (
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character"
        )
        errors.append(_regex_error(message, _LABEL_VALUE, "MyValue", "my_value", "12345"))
    return errors


# ---------------------------------------------------------------------------------------------
# ObjectMeta (k8s.io/apimachinery/pkg/api/validation/objectmeta.go)

TOTAL_ANNOTATION_SIZE_LIMIT: Final = 256 * 1024


def metadata_causes(
    metadata: Mapping[str, Any],
    *,
    namespaced: bool,
    name_rule: Literal["subdomain", "label"] = "subdomain",
) -> list[Cause]:
    """Check name/generateName, namespace, labels and annotations of an object to be stored.

    Call it after the server has filled `metadata.namespace` from the path (for namespaced
    kinds) and before it generates a name from `generateName`.
    """
    if not isinstance(metadata, Mapping):
        return [type_invalid("metadata", metadata, "metadata in body must be of type object")]
    rule = dns1123_subdomain_errors if name_rule == "subdomain" else dns1123_label_errors
    causes: list[Cause] = []

    name = metadata.get("name")
    generate_name = metadata.get("generateName")
    if generate_name:
        if not isinstance(generate_name, str):
            causes.append(type_invalid("metadata.generateName", generate_name, "must be a string"))
        else:
            # A prefix may end in '-' (the random suffix follows), as kube's maskTrailingDash allows.
            masked = generate_name[:-1] + "a" if generate_name.endswith("-") else generate_name
            causes.extend(invalid("metadata.generateName", generate_name, e) for e in rule(masked))
    if not name:
        if not generate_name:
            causes.append(required("metadata.name", "name or generateName is required"))
    elif not isinstance(name, str):
        causes.append(type_invalid("metadata.name", name, "must be a string"))
    else:
        causes.extend(invalid("metadata.name", name, e) for e in rule(name))

    namespace = metadata.get("namespace")
    if namespaced:
        if not namespace:
            causes.append(required("metadata.namespace"))
        elif not isinstance(namespace, str):
            causes.append(type_invalid("metadata.namespace", namespace, "must be a string"))
        else:
            causes.extend(
                invalid("metadata.namespace", namespace, e) for e in dns1123_label_errors(namespace)
            )
    elif namespace:
        causes.append(forbidden("metadata.namespace", "not allowed on this type"))

    causes.extend(_string_map_causes("metadata.labels", metadata.get("labels"), labels=True))
    causes.extend(_string_map_causes("metadata.annotations", metadata.get("annotations"), labels=False))
    return causes


def _string_map_causes(path: str, value: Any, *, labels: bool) -> list[Cause]:
    if value is None:
        return []
    if not isinstance(value, Mapping):
        return [type_invalid(path, value, f"{path} in body must be of type object")]
    causes: list[Cause] = []
    total = 0
    for key, item in value.items():
        if not isinstance(key, str):  # possible from a YAML body: {1: x}
            causes.append(type_invalid(path, key, f"{path} in body must have string keys"))
            continue
        if labels:
            causes.extend(invalid(path, key, e) for e in label_key_errors(key))
        else:
            causes.extend(invalid(path, key, e) for e in qualified_name_errors(key.lower()))
        if not isinstance(item, str):
            causes.append(type_invalid(f"{path}.{key}", item, f"{path}.{key} in body must be of type string"))
            continue
        total += len(key.encode()) + len(item.encode())
        if labels:
            causes.extend(invalid(path, item, e) for e in label_value_errors(item))
    if not labels and total > TOTAL_ANNOTATION_SIZE_LIMIT:
        causes.append(
            Cause(path, TOO_LONG, f"Too long: must have at most {TOTAL_ANNOTATION_SIZE_LIMIT} bytes")
        )
    return causes


# ---------------------------------------------------------------------------------------------
# CRD structural schemas (openAPIV3Schema), as apiextensions-apiserver validates, prunes and
# defaults custom resources. The server runs, in order: prune_unknown_fields,
# apply_schema_defaults, schema_causes.

_ROOT_FIELDS: Final = ("apiVersion", "kind", "metadata")
_PRESERVE: Final = "x-kubernetes-preserve-unknown-fields"
_INT_OR_STRING: Final = "x-kubernetes-int-or-string"
_EMBEDDED: Final = "x-kubernetes-embedded-resource"


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _item(path: str, index: int) -> str:
    return f"{path}[{index}]"


def _has_type(value: Any, wanted: str) -> bool:
    if wanted == "object":
        return isinstance(value, dict)
    if wanted == "array":
        return isinstance(value, list)
    if wanted == "string":
        return isinstance(value, str)
    if wanted == "boolean":
        return isinstance(value, bool)
    if wanted == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if wanted == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return True  # an unknown type name was refused when the CRD was stored


def _number(value: Any) -> str:
    """A schema number as Go's %v prints a float64: 10, 2.5."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


_INT_RANGES: Final[Mapping[str, tuple[int, int]]] = MappingProxyType(
    {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
)
_DATE_TIME: Final = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})?")
_STRING_FORMATS: Final[Mapping[str, re.Pattern[str]]] = MappingProxyType(
    {
        "date-time": _DATE_TIME,
        "date": re.compile(r"\d{4}-\d{2}-\d{2}"),
        "uuid": re.compile(
            r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
        ),
        "byte": re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"),
    }
)


def _format_ok(value: Any, fmt: str) -> bool:
    if fmt in _INT_RANGES and isinstance(value, int) and not isinstance(value, bool):
        low, high = _INT_RANGES[fmt]
        return low <= value <= high
    pattern = _STRING_FORMATS.get(fmt)
    if pattern is None or not isinstance(value, str):
        return True  # formats kube does not check (or checks only loosely) pass
    if not pattern.fullmatch(value):
        return False
    if fmt in ("date-time", "date"):
        try:
            datetime.fromisoformat(value[:10])
        except ValueError:
            return False
    return True


def schema_causes(schema: Mapping[str, Any], obj: Any, *, root: str = "") -> list[Cause]:
    """Validate a custom resource (or any value, at `root`) against a structural schema.

    At the object root, `apiVersion`, `kind` and `metadata` are left to the server.
    """
    return _validate(schema, obj, root, top=not root)


def _validate(schema: Any, value: Any, path: str, *, top: bool = False) -> list[Cause]:
    if not isinstance(schema, Mapping):
        return []
    name = path or "body"
    wanted = schema.get("type")
    int_or_string = bool(schema.get(_INT_OR_STRING))
    type_label = "integer,string" if int_or_string else wanted

    if value is None:
        if schema.get("nullable") or not type_label:
            return []
        return [type_invalid(path, "null", f'{name} in body must be of type {type_label}: "null"')]
    if int_or_string:
        if not (_has_type(value, "integer") or isinstance(value, str)):
            actual = type_name(value)
            return [type_invalid(path, actual, f'{name} in body must be of type {type_label}: "{actual}"')]
    elif isinstance(wanted, str) and not _has_type(value, wanted):
        actual = type_name(value)
        return [type_invalid(path, actual, f'{name} in body must be of type {wanted}: "{actual}"')]

    causes: list[Cause] = []
    enum = schema.get("enum")
    if isinstance(enum, list) and not any(json_equal(value, allowed) for allowed in enum):
        causes.append(not_supported(path, value, enum))
    fmt = schema.get("format")
    if isinstance(fmt, str) and not _format_ok(value, fmt):
        causes.append(type_invalid(path, value, f"{name} in body must be of type {fmt}: {_show(value)}"))

    if isinstance(value, int | float) and not isinstance(value, bool):
        causes.extend(_number_causes(schema, value, path, name))
    elif isinstance(value, str):
        causes.extend(_string_causes(schema, value, path, name))
    elif isinstance(value, list):
        causes.extend(_array_causes(schema, value, path, name))
    elif isinstance(value, dict):
        causes.extend(_object_causes(schema, value, path, name, top=top))

    causes.extend(_composition_causes(schema, value, path, name))
    return causes


def _number_causes(schema: Mapping[str, Any], value: float, path: str, name: str) -> list[Cause]:
    causes: list[Cause] = []
    maximum = schema.get("maximum")
    if isinstance(maximum, int | float):
        if schema.get("exclusiveMaximum") and value >= maximum:
            causes.append(invalid(path, value, f"{name} in body should be less than {_number(maximum)}"))
        elif value > maximum:
            detail = f"{name} in body should be less than or equal to {_number(maximum)}"
            causes.append(invalid(path, value, detail))
    minimum = schema.get("minimum")
    if isinstance(minimum, int | float):
        if schema.get("exclusiveMinimum") and value <= minimum:
            causes.append(invalid(path, value, f"{name} in body should be greater than {_number(minimum)}"))
        elif value < minimum:
            detail = f"{name} in body should be greater than or equal to {_number(minimum)}"
            causes.append(invalid(path, value, detail))
    factor = schema.get("multipleOf")
    if isinstance(factor, int | float) and factor > 0:
        if isinstance(value, int) and isinstance(factor, int):
            multiple = value % factor == 0
        else:
            quotient = value / factor
            multiple = math.isfinite(quotient) and abs(quotient - round(quotient)) < 1e-9
        if not multiple:
            causes.append(invalid(path, value, f"{name} in body should be a multiple of {_number(factor)}"))
    return causes


def _string_causes(schema: Mapping[str, Any], value: str, path: str, name: str) -> list[Cause]:
    causes: list[Cause] = []
    max_length = schema.get("maxLength")
    if isinstance(max_length, int) and len(value) > max_length:
        causes.append(too_long(path, max_length))
    min_length = schema.get("minLength")
    if isinstance(min_length, int) and len(value) < min_length:
        causes.append(invalid(path, value, f"{name} in body should be at least {min_length} chars long"))
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            matched = re.search(pattern, value) is not None
        except re.error:
            matched = True  # an ECMA pattern Python cannot read: do not reject the object for it
        if not matched:
            causes.append(invalid(path, value, f"{name} in body should match '{pattern}'"))
    return causes


def _array_causes(schema: Mapping[str, Any], value: list[Any], path: str, name: str) -> list[Cause]:
    causes: list[Cause] = []
    max_items = schema.get("maxItems")
    if isinstance(max_items, int) and len(value) > max_items:
        causes.append(too_many(path, len(value), max_items))
    min_items = schema.get("minItems")
    if isinstance(min_items, int) and len(value) < min_items:
        causes.append(invalid(path, len(value), f"{name} in body should have at least {min_items} items"))
    if schema.get("uniqueItems"):
        for i, item in enumerate(value):
            if any(json_equal(item, earlier) for earlier in value[:i]):
                causes.append(duplicate(_item(path, i), item))
    items = schema.get("items")
    if isinstance(items, Mapping):
        for i, item in enumerate(value):
            causes.extend(_validate(items, item, _item(path, i)))
    return causes


def _object_causes(
    schema: Mapping[str, Any], value: dict[str, Any], path: str, name: str, *, top: bool
) -> list[Cause]:
    causes: list[Cause] = []
    skipped = _ROOT_FIELDS if top else ()
    max_properties = schema.get("maxProperties")
    if isinstance(max_properties, int) and len(value) > max_properties:
        causes.append(too_many(path, len(value), max_properties))
    min_properties = schema.get("minProperties")
    if isinstance(min_properties, int) and len(value) < min_properties:
        detail = f"{name} in body should have at least {min_properties} properties"
        causes.append(invalid(path, len(value), detail))
    required_fields = schema.get("required")
    if isinstance(required_fields, list):
        causes.extend(
            required(_child(path, key))
            for key in required_fields
            if isinstance(key, str) and key not in value and key not in skipped
        )
    if schema.get(_EMBEDDED):
        for key in ("apiVersion", "kind"):
            if not value.get(key):
                causes.append(required(_child(path, key), "must not be empty"))
    properties = schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    extra = schema.get("additionalProperties")
    for key, item in value.items():
        if key in skipped:
            continue
        if key in properties:
            causes.extend(_validate(properties[key], item, _child(path, key)))
        elif isinstance(extra, Mapping):
            causes.extend(_validate(extra, item, _child(path, key)))
        elif extra is False and not (schema.get(_EMBEDDED) and key in _ROOT_FIELDS):
            detail = f"{name}.{key} in body is a forbidden property"
            causes.append(forbidden(_child(path, key), detail))
    return causes


def _composition_causes(schema: Mapping[str, Any], value: Any, path: str, name: str) -> list[Cause]:
    causes: list[Cause] = []
    for sub in schema.get("allOf") or []:
        causes.extend(_validate(sub, value, path))
    any_of = schema.get("anyOf")
    if isinstance(any_of, list) and any_of and all(_validate(sub, value, path) for sub in any_of):
        causes.append(invalid(path, value, f"{name} in body must validate at least one schema (anyOf)"))
    one_of = schema.get("oneOf")
    if isinstance(one_of, list) and one_of:
        passing = sum(1 for sub in one_of if not _validate(sub, value, path))
        if passing != 1:
            detail = f"{name} in body must validate one and only one schema (oneOf)"
            causes.append(invalid(path, value, detail))
    negated = schema.get("not")
    if isinstance(negated, Mapping) and not _validate(negated, value, path):
        causes.append(invalid(path, value, f"{name} in body must not validate the schema (not)"))
    return causes


def prune_unknown_fields(schema: Mapping[str, Any], obj: Any) -> tuple[Any, list[str]]:
    """A copy of `obj` without the fields its schema does not declare, and their paths.

    Fields under `x-kubernetes-preserve-unknown-fields: true` are kept; `apiVersion`, `kind` and
    `metadata` are kept at the root and in embedded resources.
    """
    dropped: list[str] = []
    pruned = _prune(schema, obj, "", dropped, top=True)
    return pruned, dropped


def _prune(schema: Any, value: Any, path: str, dropped: list[str], *, top: bool = False) -> Any:
    if not isinstance(schema, Mapping):
        return deep_copy(value)
    if isinstance(value, list):
        items = schema.get("items")
        return [_prune(items, item, _item(path, i), dropped) for i, item in enumerate(value)]
    if not isinstance(value, dict):
        return value
    properties = schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    extra = schema.get("additionalProperties")
    keep_unknown = bool(schema.get(_PRESERVE)) or extra is True
    kept_always = _ROOT_FIELDS if top or schema.get(_EMBEDDED) else ()
    result: dict[str, Any] = {}
    for key, item in value.items():
        child = _child(path, key)
        if key in kept_always:
            result[key] = deep_copy(item)
        elif key in properties:
            result[key] = _prune(properties[key], item, child, dropped)
        elif isinstance(extra, Mapping):
            result[key] = _prune(extra, item, child, dropped)
        elif keep_unknown:
            result[key] = deep_copy(item)
        else:
            dropped.append(child)
    return result


def apply_schema_defaults(schema: Mapping[str, Any], obj: Any) -> Any:
    """A copy of `obj` with the schema's `default`s filled in where fields are missing.

    As kube's structural defaulting: a null in a non-nullable field takes the default, or is
    dropped when there is none; defaults are themselves defaulted further down.
    """
    return _default(schema, deep_copy(obj), top=True)


def _default(schema: Any, value: Any, *, top: bool = False) -> Any:
    if not isinstance(schema, Mapping):
        return value
    if isinstance(value, list):
        items = schema.get("items")
        return [_default(items, item) for item in value]
    if not isinstance(value, dict):
        return value
    properties = schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    for key, prop in properties.items():
        if (top and key in _ROOT_FIELDS) or not isinstance(prop, Mapping):
            continue
        missing = key not in value
        null_not_allowed = not missing and value[key] is None and not prop.get("nullable")
        if "default" in prop and (missing or null_not_allowed):
            value[key] = deep_copy(prop["default"])
        elif null_not_allowed:
            del value[key]
    extra = schema.get("additionalProperties")
    for key, item in list(value.items()):
        if top and key in _ROOT_FIELDS:
            continue
        if key in properties:
            value[key] = _default(properties[key], item)
        elif isinstance(extra, Mapping):
            value[key] = _default(extra, item)
    return value


def structural_schema_causes(
    schema: Any, *, root: str = "spec.versions[0].schema.openAPIV3Schema"
) -> list[Cause]:
    """Why a CRD's openAPIV3Schema is not structural, as apiextensions.k8s.io/v1 requires.

    The main rules kube-apiserver enforces when a CRD is stored: every specified field has a
    type (unless it preserves unknown fields or is int-or-string), the root is an object,
    arrays have items, `properties` and `additionalProperties` exclude each other, root
    `metadata` restricts at most name and generateName, and defaults are valid for their field.
    """
    if not isinstance(schema, Mapping):
        return [required(root, "openAPIV3Schema must be an object")]
    causes: list[Cause] = []
    if schema.get("type") != "object":
        if not schema.get("type"):
            causes.append(required(_child(root, "type"), "must not be empty at the root"))
        else:
            causes.append(invalid(_child(root, "type"), schema.get("type"), "must be object at the root"))
    for flag in (_INT_OR_STRING, _EMBEDDED):
        if schema.get(flag):
            causes.append(invalid(_child(root, flag), True, "must be false at the root"))
    properties = schema.get("properties")
    metadata = properties.get("metadata") if isinstance(properties, Mapping) else None
    if isinstance(metadata, Mapping) and _restricts_more_than_names(metadata):
        causes.append(
            forbidden(
                f"{root}.properties[metadata]",
                "must not specify anything other than name and generateName, "
                "but metadata is implicitly specified",
            )
        )
    _structural_node(schema, root, "root", causes)
    return causes


def _restricts_more_than_names(metadata: Mapping[str, Any]) -> bool:
    allowed_keys = {"type", "properties", "description"}
    if set(metadata) - allowed_keys or metadata.get("type", "object") != "object":
        return True
    properties = metadata.get("properties") or {}
    return not isinstance(properties, Mapping) or bool(set(properties) - {"name", "generateName"})


_TYPES: Final = ("object", "array", "string", "integer", "number", "boolean")


def _structural_node(node: Mapping[str, Any], path: str, context: str, causes: list[Cause]) -> None:
    kind = node.get("type")
    preserve = node.get(_PRESERVE)
    if "$ref" in node:
        causes.append(forbidden(_child(path, "$ref"), "$ref is not supported"))
    if preserve is False:
        causes.append(invalid(_child(path, _PRESERVE), False, "must be true or undefined"))
    if node.get(_INT_OR_STRING) and kind:
        causes.append(
            invalid(_child(path, "type"), kind, "must be empty if x-kubernetes-int-or-string is true")
        )
    elif kind and kind not in _TYPES:
        causes.append(not_supported(_child(path, "type"), kind, list(_TYPES)))
    elif not kind and context != "root" and not preserve and not node.get(_INT_OR_STRING):
        where = "array items" if context == "items" else "object fields"
        causes.append(required(_child(path, "type"), f"must not be empty for specified {where}"))
    if node.get(_EMBEDDED) and kind != "object":
        causes.append(
            invalid(
                _child(path, "type"), kind or "", "must be object if x-kubernetes-embedded-resource is true"
            )
        )

    properties = node.get("properties")
    extra = node.get("additionalProperties")
    if (
        isinstance(properties, Mapping)
        and properties
        and isinstance(extra, Mapping | bool)
        and extra is not True
    ):
        causes.append(
            forbidden(
                _child(path, "additionalProperties"),
                "additionalProperties and properties are mutual exclusive",
            )
        )
    if kind == "array" and not isinstance(node.get("items"), Mapping):
        causes.append(required(_child(path, "items"), "must be specified"))
    if "default" in node:
        causes.extend(_default_causes(node, path))

    if isinstance(properties, Mapping):
        for name, child in properties.items():
            if isinstance(child, Mapping) and not (context == "root" and name == "metadata"):
                _structural_node(child, f"{path}.properties[{name}]", "field", causes)
    if isinstance(extra, Mapping):
        _structural_node(extra, _child(path, "additionalProperties"), "field", causes)
    items = node.get("items")
    if isinstance(items, Mapping):
        _structural_node(items, _child(path, "items"), "items", causes)


def _default_causes(node: Mapping[str, Any], path: str) -> list[Cause]:
    """A default must be valid for its field and hold no field that pruning would drop."""
    default = node["default"]
    where = _child(path, "default")
    causes = _validate(node, default, where)
    dropped: list[str] = []
    _prune(node, default, "", dropped)
    if dropped:
        causes.append(invalid(where, default, f"must not have unknown fields: {', '.join(dropped)}"))
    return causes
