"""The JSON shape of the serving objects, checked before any rule reads them.

Knative never sees a list where a map belongs: Go's decoder refuses the request first
("cannot unmarshal array into Go struct field ..."). kwake's rules read raw JSON, so a value of
the wrong kind at a path the rules use (an env entry that is a string, a name that is a list, a
percent that is a map) is reported here, with its path, and the rules run only on a body whose
shape is right: the webhook refuses, it never raises. Only the paths the rules (and the
defaulting before them) read are described; everything else is left to the CRD schema.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from serving.api import errors
from serving.api.errors import FieldErrors
from serving.api.validation.numbers import as_int


@dataclasses.dataclass(frozen=True)
class Obj:
    fields: Mapping[str, Shape] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Arr:
    item: Shape


@dataclasses.dataclass(frozen=True)
class Scalar:
    kind: str  # "string", "integer", "boolean", "string map", "integer or string", "quantity"


Shape = Obj | Arr | Scalar

STR, INT, BOOL = Scalar("string"), Scalar("integer"), Scalar("boolean")
STR_MAP, INT_OR_STR, QUANTITY = Scalar("string map"), Scalar("integer or string"), Scalar("quantity")

_META = Obj({"name": STR, "generateName": STR, "labels": STR_MAP, "annotations": STR_MAP})
_ACTION = Obj({"port": INT_OR_STR, "path": STR})
_PROBE = Obj(
    {
        "httpGet": _ACTION,
        "tcpSocket": _ACTION,
        "grpc": Obj({"port": INT}),
        "exec": Obj({"command": Arr(STR)}),
        **{f: INT for f in ("periodSeconds", "initialDelaySeconds", "timeoutSeconds")},
        **{f: INT for f in ("failureThreshold", "successThreshold")},
    }
)
_CONTAINER = Obj(
    {
        "name": STR,
        "image": STR,
        "command": Arr(STR),
        "args": Arr(STR),
        "ports": Arr(
            Obj({"name": STR, "containerPort": INT, "protocol": STR, "hostPort": INT, "hostIP": STR})
        ),
        "env": Arr(Obj({"name": STR, "value": STR, "valueFrom": Obj()})),
        "readinessProbe": _PROBE,
        "livenessProbe": _PROBE,
        "resources": Obj({"limits": Obj(), "requests": Obj(), "claims": Arr(Obj())}),
        "securityContext": Obj(),
        "volumeMounts": Arr(Obj({"name": STR, "mountPath": STR, "readOnly": BOOL})),
    }
)
_REVISION_SPEC = Obj(
    {
        "containers": Arr(_CONTAINER),
        "initContainers": Arr(_CONTAINER),
        "volumes": Arr(Obj({"name": STR})),
        **{f: INT for f in ("timeoutSeconds", "responseStartTimeoutSeconds", "idleTimeoutSeconds")},
        "containerConcurrency": INT,
    }
)
_TEMPLATE = Obj({"metadata": _META, "spec": _REVISION_SPEC})
_TRAFFIC = Arr(
    Obj(
        {
            "tag": STR,
            "revisionName": STR,
            "configurationName": STR,
            "latestRevision": BOOL,
            "percent": INT,
            "url": STR,
        }
    )
)

SERVICE = Obj({"metadata": _META, "spec": Obj({"template": _TEMPLATE, "traffic": _TRAFFIC})})
CONFIGURATION = Obj({"metadata": _META, "spec": Obj({"template": _TEMPLATE})})
ROUTE = Obj({"metadata": _META, "spec": Obj({"traffic": _TRAFFIC})})
REVISION = Obj({"metadata": _META, "spec": _REVISION_SPEC})


def shape_errors(body: Any, shape: Shape, path: str = "") -> FieldErrors:
    """Every value at a described path that is not of its kind; null counts as absent."""
    errs = FieldErrors()
    if body is None:
        return errs
    if isinstance(shape, Obj):
        if not isinstance(body, Mapping):
            return errs.also(_wrong(body, path, _expected(shape)))
        for name, child in shape.fields.items():
            errs = errs.also(shape_errors(body.get(name), child, f"{path}.{name}" if path else name))
        return errs
    if isinstance(shape, Arr):
        if not isinstance(body, list):
            return errs.also(_wrong(body, path, _expected(shape)))
        for i, item in enumerate(body):
            if item is None:  # a null field is absent, but a null list entry is a wrong entry
                errs = errs.also(_wrong(item, f"{path}[{i}]", _expected(shape.item)))
            else:
                errs = errs.also(shape_errors(item, shape.item, f"{path}[{i}]"))
        return errs
    if not _fits(body, shape.kind):
        errs = errs.also(_wrong(body, path, _expected(shape)))
    return errs


def _expected(shape: Shape) -> str:
    if isinstance(shape, Obj):
        return "an object"
    if isinstance(shape, Arr):
        return "a list"
    return f"a{'n' if shape.kind[0] in 'aeiou' else ''} {shape.kind}"


def _fits(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return as_int(value) is not None and not isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer or string":
        return isinstance(value, str) or (as_int(value) is not None)
    if kind == "string map":
        return isinstance(value, Mapping) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        )
    return True


def _wrong(value: Any, path: str, expected: str) -> errors.FieldError:
    shown = repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return errors.invalid_value(shown, path, f"expected {expected}")
