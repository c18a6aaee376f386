"""JSON Pointers (RFC 6901) and JSON value helpers shared by the patch engines.

Pure functions over decoded JSON (dicts, lists, str, int, float, bool, None). Nothing here
mutates its arguments except `set_at`/`remove_at`, whose job is to change a document the caller
already copied.
"""

from __future__ import annotations

import re
from typing import Any, Final

_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")


class PointerError(ValueError):
    """A pointer that is malformed, or that does not resolve in the document it is used on."""


def parse_pointer(pointer: Any) -> tuple[str, ...]:
    """Split a JSON pointer into its unescaped reference tokens ("" is the whole document)."""
    if not isinstance(pointer, str):
        raise PointerError(f"a JSON pointer must be a string, got {type_name(pointer)}")
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise PointerError(f'"{pointer}" is not a JSON pointer: it must be empty or start with "/"')
    tokens = []
    for raw in pointer[1:].split("/"):
        if re.search(r"~(?![01])", raw):
            raise PointerError(f'"{pointer}" is not a JSON pointer: "~" must be followed by 0 or 1')
        # ~1 first, then ~0, so that "~01" becomes "~1" and not "/" (RFC 6901 section 4).
        tokens.append(raw.replace("~1", "/").replace("~0", "~"))
    return tuple(tokens)


def format_pointer(tokens: tuple[str, ...] | list[str]) -> str:
    return "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens)


def array_index(token: str, length: int, *, for_insert: bool) -> int:
    """The list position a token names; "-" (one past the end) only when inserting."""
    if token == "-":
        if for_insert:
            return length
        raise PointerError('"-" (past the end of the array) can only be used to add')
    if not _ARRAY_INDEX.fullmatch(token):
        raise PointerError(f'"{token}" is not an array index (digits without leading zeros, or "-")')
    index = int(token)
    limit = length if for_insert else length - 1
    if index > limit:
        raise PointerError(f"index {index} is out of range for an array of length {length}")
    return index


def resolve(document: Any, tokens: tuple[str, ...]) -> Any:
    """The value a pointer names; PointerError naming the first missing step otherwise."""
    current = document
    for depth, token in enumerate(tokens):
        if isinstance(current, dict):
            if token not in current:
                raise PointerError(f'"{format_pointer(tokens[: depth + 1])}" does not exist')
            current = current[token]
        elif isinstance(current, list):
            current = current[array_index(token, len(current), for_insert=False)]
        else:
            where = format_pointer(tokens[:depth]) or "the document root"
            raise PointerError(f'"{where}" is a {type_name(current)}, it has no member "{token}"')
    return current


def contains(document: Any, tokens: tuple[str, ...]) -> bool:
    try:
        resolve(document, tokens)
    except PointerError:
        return False
    return True


def set_at(document: Any, tokens: tuple[str, ...], value: Any, *, insert: bool) -> Any:
    """Add (insert=True: RFC 6902 add) or replace the value at a pointer; returns the new root."""
    if not tokens:
        return value
    parent = resolve(document, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        if not insert and last not in parent:
            raise PointerError(f'"{format_pointer(tokens)}" does not exist')
        parent[last] = value
    elif isinstance(parent, list):
        index = array_index(last, len(parent), for_insert=insert)
        if insert:
            parent.insert(index, value)
        else:
            parent[index] = value
    else:
        where = format_pointer(tokens[:-1]) or "the document root"
        raise PointerError(f'"{where}" is a {type_name(parent)}, it cannot hold member "{last}"')
    return document


def remove_at(document: Any, tokens: tuple[str, ...]) -> Any:
    """Remove the value at a pointer (which must exist); returns the removed value."""
    if not tokens:
        raise PointerError("the whole document cannot be removed")
    parent = resolve(document, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PointerError(f'"{format_pointer(tokens)}" does not exist')
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(array_index(last, len(parent), for_insert=False))
    where = format_pointer(tokens[:-1]) or "the document root"
    raise PointerError(f'"{where}" is a {type_name(parent)}, it has no member "{last}"')


_ATOMS: Final = frozenset({str, int, float, bool, type(None)})


def deep_copy(value: Any) -> Any:
    """A copy of a JSON value that shares nothing mutable with it (faster than copy.deepcopy).

    Scalars are returned as they are (immutable), which also saves a call per leaf.
    """
    if isinstance(value, dict):
        return {k: v if type(v) in _ATOMS else deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [v if type(v) in _ATOMS else deep_copy(v) for v in value]
    return value


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON sees it: 1 == 1.0, but true is not 1 and "1" is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def type_name(value: Any) -> str:
    """The JSON name of a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
