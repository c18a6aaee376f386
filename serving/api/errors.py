"""Field-level validation errors, shaped like knative.dev/pkg/apis.FieldError.

A FieldError carries a message, the field paths it applies to, and optional details.
Errors are built at the leaf (`missing_field("image")`) and given their place in the object as
they travel up (`.via_index(0).via_field("containers")`), so the final path reads
`spec.template.spec.containers[0].image`, exactly as Knative's webhook reports it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class FieldError:
    message: str
    paths: tuple[str, ...] = ("",)
    details: str = ""

    def via_field(self, *prefix: str) -> FieldError:
        """Prefix every path with a dotted field name (Knative's ViaField)."""
        out = self
        for part in reversed(prefix):
            out = replace(out, paths=tuple(_join(part, p) for p in out.paths))
        return out

    def via_index(self, index: int) -> FieldError:
        """Prefix every path with `[index]` (Knative's ViaIndex)."""
        return replace(self, paths=tuple(_index(p, f"[{index}]") for p in self.paths))

    def via_key(self, key: str) -> FieldError:
        """Prefix every path with `[key]` (Knative's ViaKey)."""
        return replace(self, paths=tuple(_index(p, f"[{key}]") for p in self.paths))

    def __str__(self) -> str:
        text = f"{self.message}: {', '.join(sorted(self.paths))}"
        return f"{text}\n{self.details}" if self.details else text


def _join(prefix: str, path: str) -> str:
    if not path:
        return prefix
    if path.startswith("["):
        return prefix + path
    return f"{prefix}.{path}"


def _index(path: str, index: str) -> str:
    if not path:
        return index
    if path.startswith("["):
        return index + path
    return f"{index}.{path}"


@dataclass(frozen=True)
class FieldErrors:
    """An ordered collection of FieldErrors; empty means valid."""

    errors: tuple[FieldError, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.errors)

    def __iter__(self) -> Iterator[FieldError]:
        return iter(self.errors)

    def __len__(self) -> int:
        return len(self.errors)

    def also(self, *more: FieldError | FieldErrors | None) -> FieldErrors:
        errs = list(self.errors)
        for m in more:
            if m is None:
                continue
            if isinstance(m, FieldErrors):
                errs.extend(m.errors)
            else:
                errs.append(m)
        return FieldErrors(tuple(errs))

    def via_field(self, *prefix: str) -> FieldErrors:
        return FieldErrors(tuple(e.via_field(*prefix) for e in self.errors))

    def via_index(self, index: int) -> FieldErrors:
        return FieldErrors(tuple(e.via_index(index) for e in self.errors))

    def via_key(self, key: str) -> FieldErrors:
        return FieldErrors(tuple(e.via_key(key) for e in self.errors))

    def messages(self) -> list[str]:
        """`path: message` lines, the form kubectl prints for a rejected object."""
        return [f"{p}: {e.message}" for e in self.errors for p in sorted(e.paths)]

    def __str__(self) -> str:
        return "\n".join(str(e) for e in sorted(self.errors, key=lambda e: (sorted(e.paths), e.message)))


def collect(errors: Iterable[FieldError | FieldErrors | None]) -> FieldErrors:
    return FieldErrors().also(*errors)


# Constructors with Knative's wording (knative.dev/pkg/apis/field_error.go).


def missing_field(*fields: str) -> FieldError:
    return FieldError("missing field(s)", tuple(fields) or ("",))


def disallowed_fields(*fields: str) -> FieldError:
    return FieldError("must not set the field(s)", tuple(fields) or ("",))


def multiple_one_of(*fields: str) -> FieldError:
    return FieldError("expected exactly one, got both", tuple(fields))


def missing_one_of(*fields: str) -> FieldError:
    return FieldError("expected exactly one, got neither", tuple(fields))


def invalid_value(value: object, field: str, details: str = "") -> FieldError:
    return FieldError(f"invalid value: {_fmt(value)}", (field,), details)


def invalid_array_value(value: object, field: str, index: int) -> FieldError:
    return invalid_value(value, "").via_index(index).via_field(field)


def out_of_bounds(value: object, lower: object, upper: object, field: str) -> FieldError:
    return FieldError(f"expected {_fmt(lower)} <= {_fmt(value)} <= {_fmt(upper)}", (field,))


def invalid_key_name(key: str, field: str, details: Sequence[str] = ()) -> FieldError:
    return FieldError(f'invalid key name "{key}"', (field,), ", ".join(details))


def generic(message: str, *fields: str) -> FieldError:
    return FieldError(message, tuple(fields) or ("",))


def _fmt(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
