"""A small checker for structural CRD schemas and for objects against them.

Enough of apiextensions' rules to catch what matters here: every node typed (or
int-or-string), arrays with items, no `properties` beside `additionalProperties`; and, for an
object, wrong types, missing required fields and unknown fields (what `kubectl apply` with
strict field validation reports).
"""

from __future__ import annotations

from typing import Any

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def structural_problems(schema: dict[str, Any], path: str = "") -> list[str]:
    problems: list[str] = []
    if schema.get("x-kubernetes-int-or-string"):
        return problems
    t = schema.get("type")
    if t not in _PY_TYPES:
        problems.append(f"{path or '<root>'}: missing or unknown type {t!r}")
    if "properties" in schema and "additionalProperties" in schema:
        problems.append(f"{path}: both properties and additionalProperties")
    if t == "array":
        if "items" not in schema:
            problems.append(f"{path}: array without items")
        else:
            problems += structural_problems(schema["items"], f"{path}[]")
    for name, sub in (schema.get("properties") or {}).items():
        problems += structural_problems(sub, f"{path}.{name}")
    if isinstance(schema.get("additionalProperties"), dict):
        problems += structural_problems(schema["additionalProperties"], f"{path}.*")
    return problems


def object_problems(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    if schema.get("x-kubernetes-int-or-string"):
        ok = isinstance(value, (int, str)) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected integer or string"]
    t = schema["type"]
    if not isinstance(value, _PY_TYPES[t]) or (t in ("integer", "number") and isinstance(value, bool)):
        return [f"{path}: expected {t}, got {type(value).__name__}"]
    problems: list[str] = []
    if isinstance(value, list):
        for i, item in enumerate(value):
            problems += object_problems(item, schema["items"], f"{path}[{i}]")
    if isinstance(value, dict):
        for req in schema.get("required") or []:
            if req not in value:
                problems.append(f"{path}.{req}: required")
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for k, v in value.items():
            if props is not None and k in props:
                problems += object_problems(v, props[k], f"{path}.{k}")
            elif isinstance(extra, dict):
                problems += object_problems(v, extra, f"{path}.{k}")
            elif props is not None and not schema.get("x-kubernetes-preserve-unknown-fields"):
                problems.append(f"{path}.{k}: unknown field")
    return problems
