"""Container resources: quantities that parse, requests within limits, no claims.

Knative only masks `resources` to limits and requests (claims are disallowed); Kubernetes then
checks the quantities when the Deployment is written. kwake checks them at admission, with
Kubernetes' messages, so a bad quantity is refused with its path instead of failing the
Revision later. Paths are relative to the container (`resources.limits.cpu`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from serving.api import errors
from serving.api.errors import FieldError, FieldErrors

# apimachinery's resource.Quantity grammar: a signed decimal and an optional suffix (binary SI,
# decimal SI or a decimal exponent).
_QUANTITY = re.compile(
    r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))((?:[KMGTPE]i)|[numkMGTPE]|[eE][+-]?[0-9]+)?$"
)
_QUANTITY_ERROR = "must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "k": Decimal(10**3)}
_DECIMAL |= {"M": Decimal(10**6), "G": Decimal(10**9), "T": Decimal(10**12), "P": Decimal(10**15)}
_DECIMAL |= {"E": Decimal(10**18)}


def parse_quantity(raw: object) -> Decimal | None:
    """The quantity's value in base units, or None when it is not a Kubernetes quantity."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return Decimal(str(raw))
    if not isinstance(raw, str):
        return None
    match = _QUANTITY.match(raw)
    if match is None:
        return None
    number, suffix = match.group(1), match.group(2) or ""
    try:
        value = Decimal(number)
        if suffix in _BINARY:
            return value * _BINARY[suffix]
        if suffix in _DECIMAL:
            return value * _DECIMAL[suffix]
        if suffix:
            return value * Decimal(10) ** int(suffix[1:])
    except (InvalidOperation, ValueError):
        return None
    return value


def validate_resources(resources: Mapping[str, Any] | None) -> FieldErrors:
    if not resources:
        return FieldErrors()
    if not isinstance(resources, Mapping):
        return FieldErrors().also(errors.invalid_value(resources, ""))
    errs = FieldErrors()
    if resources.get("claims"):
        errs = errs.also(errors.disallowed_fields("claims"))
    parsed: dict[str, dict[str, Decimal]] = {}
    for section in ("limits", "requests"):
        values = resources.get(section) or {}
        if not isinstance(values, Mapping):
            errs = errs.also(errors.invalid_value(values, section))
            continue
        parsed[section] = {}
        for name, raw in values.items():
            quantity = parse_quantity(raw)
            if quantity is None:
                errs = errs.also(errors.invalid_value(raw, f"{section}.{name}", _QUANTITY_ERROR))
            elif quantity < 0:
                errs = errs.also(
                    errors.invalid_value(raw, f"{section}.{name}", "must be greater than or equal to 0")
                )
            else:
                parsed[section][str(name)] = quantity
    limits, requests = parsed.get("limits", {}), parsed.get("requests", {})
    for name, request in requests.items():
        limit = limits.get(name)
        if limit is not None and request > limit:
            raw_limit = (resources.get("limits") or {})[name]
            errs = errs.also(
                FieldError(
                    f"invalid value: {resources['requests'][name]}",
                    (f"requests.{name}",),
                    f"must be less than or equal to {name} limit of {raw_limit}",
                )
            )
    return errs
