"""Object validation as kube-apiserver does it: names, metadata, and CRD structural schemas.

Pure functions. Errors are `Cause`s, shaped like the `details.causes` of a 422 Status:
`field` ("metadata.name", "spec.containers[0].image"), `reason` (kube's field.ErrorType names)
and `message` (kube's ErrorBody, e.g. `Invalid value: "x": spec.size in body must be of type
integer: "string"`). `Cause.text` is the "field: message" line kube joins into Status.message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

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
    return Cause(path, TOO_LONG, f"Too long: may not be more than {limit} bytes")


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
    if not re.fullmatch(_DNS1123_LABEL, name):
        if re.fullmatch(_DNS1123_SUBDOMAIN, name):
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
    if not re.fullmatch(_DNS1123_SUBDOMAIN, name):
        message = (
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
            "and must start and end with an alphanumeric character"
        )
        errors.append(_regex_error(message, _DNS1123_SUBDOMAIN, "example.com"))
    return errors


def dns1035_label_errors(name: str) -> list[str]:
    errors = [_max_len(63)] if len(name) > 63 else []
    if not re.fullmatch(_DNS1035_LABEL, name):
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
    if not re.fullmatch(_QUALIFIED_NAME, name):
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
    if not re.fullmatch(_LABEL_VALUE, value):
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
