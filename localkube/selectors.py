"""Label and field selectors, parsed and matched as kube-apiserver does.

Label selectors follow k8s.io/apimachinery/pkg/labels (`a=b`, `a==b`, `a!=b`, `a in (x,y)`,
`a notin (x)`, `a`, `!a`, `a>1`, `a<1`); field selectors follow k8s.io/apimachinery/pkg/fields
(`path=v`, `path==v`, `path!=v`, with `\\,` `\\=` `\\\\` escapes in values), over any dotted path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, Literal

from localkube import validation

Operator = Literal["=", "==", "!=", "in", "notin", "exists", "!", "gt", "lt"]


class SelectorError(ValueError):
    """A selector that does not parse or names invalid keys or values; the message says where."""


# ---------------------------------------------------------------------------------------------
# Label selectors


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        if self.operator in ("!=", "notin"):
            return not present or labels[self.key] not in self.values
        if not present:
            return False
        if self.operator in ("gt", "lt"):
            try:
                actual = int(labels[self.key])
            except ValueError:
                return False
            bound = int(self.values[0])
            return actual > bound if self.operator == "gt" else actual < bound
        return labels[self.key] in self.values

    def __str__(self) -> str:
        if self.operator == "exists":
            return self.key
        if self.operator == "!":
            return f"!{self.key}"
        if self.operator in ("in", "notin"):
            return f"{self.key} {self.operator} ({','.join(sorted(self.values))})"
        symbol = {"gt": ">", "lt": "<"}.get(self.operator, self.operator)
        return f"{self.key}{symbol}{self.values[0]}"


@dataclass(frozen=True)
class LabelSelector:
    """A conjunction of requirements; `nothing` is the null selector of a spec, matching no object."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    @property
    def empty(self) -> bool:
        """True when it selects everything (no requirements), as an empty selector does."""
        return not self.requirements and not self.nothing

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        """Kube's canonical form (requirements sorted by key), as Scale.status.selector carries."""
        return ",".join(str(r) for r in self.requirements)


EVERYTHING: Final = LabelSelector()
NOTHING: Final = LabelSelector(nothing=True)

_SPECIAL: Final = "=!(),<>"


@dataclass(frozen=True)
class _Token:
    kind: str  # "id", "end", or the symbol itself: "=", "==", "!=", "!", "(", ")", ",", "<", ">"
    text: str
    position: int


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char in _SPECIAL:
            pair = text[i : i + 2]
            symbol = pair if pair in ("==", "!=") else char
            tokens.append(_Token(symbol, symbol, i))
            i += len(symbol)
        else:
            start = i
            while i < len(text) and not text[i].isspace() and text[i] not in _SPECIAL:
                i += 1
            tokens.append(_Token("id", text[start:i], start))
    tokens.append(_Token("end", "end of string", len(text)))
    return tokens


class _LabelParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.index = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def fail(self, token: _Token, expected: str) -> SelectorError:
        return SelectorError(
            f"unable to parse label selector {json.dumps(self.text)}: "
            f"found '{token.text}' at position {token.position}, expected: {expected}"
        )

    def parse(self) -> LabelSelector:
        requirements: list[Requirement] = []
        if self.peek().kind == "end":
            return EVERYTHING
        while True:
            token = self.peek()
            if token.kind not in ("id", "!"):
                raise self.fail(token, "!, identifier, or 'end of string'")
            requirements.append(self.requirement())
            after = self.take()
            if after.kind == "end":
                return _selector(requirements)
            if after.kind != ",":
                raise self.fail(after, "',' or 'end of string'")
            if self.peek().kind not in ("id", "!"):
                raise self.fail(self.peek(), "identifier after ','")

    def requirement(self) -> Requirement:
        token = self.take()
        negated = token.kind == "!"
        if negated:
            token = self.take()
        if token.kind != "id" or token.text in ("in", "notin"):
            raise self.fail(token, "identifier" + (" after '!'" if negated else ""))
        key = token.text
        if negated or self.peek().kind in ("end", ","):
            if negated and self.peek().kind not in ("end", ","):
                raise self.fail(self.peek(), "',' or 'end of string' after '!" + key + "'")
            return make_requirement(key, "!" if negated else "exists", (), where=self.text)
        op_token = self.take()
        operator: Operator
        if op_token.kind == "id" and op_token.text in ("in", "notin"):
            operator = "in" if op_token.text == "in" else "notin"
            values = self.value_set()
        elif op_token.kind in ("=", "==", "!=", "<", ">"):
            operator = {"=": "=", "==": "==", "!=": "!=", "<": "lt", ">": "gt"}[op_token.kind]  # type: ignore[assignment]
            values = self.exact_value()
        else:
            raise self.fail(op_token, "'=', '==', '!=', 'in', 'notin', '<' or '>'")
        return make_requirement(key, operator, values, where=self.text)

    def exact_value(self) -> tuple[str, ...]:
        if self.peek().kind in ("end", ","):
            return ("",)  # "a=" requires the empty value, as in kube
        token = self.take()
        if token.kind != "id":
            raise self.fail(token, "identifier")
        return (token.text,)

    def value_set(self) -> tuple[str, ...]:
        opening = self.take()
        if opening.kind != "(":
            raise self.fail(opening, "'('")
        values: list[str] = []
        expect_value = True
        while True:
            token = self.take()
            if token.kind == ")":
                if expect_value:
                    values.append("")  # "()" and "(a,)" hold the empty value, as in kube
                return tuple(dict.fromkeys(values))
            if token.kind == "id" and expect_value:
                values.append(token.text)
                expect_value = False
            elif token.kind == "," and not expect_value:
                expect_value = True
            elif token.kind == ",":
                values.append("")
            else:
                raise self.fail(token, "',' or ')'" if not expect_value else "identifier, ',' or ')'")


def make_requirement(key: str, operator: Operator, values: tuple[str, ...], *, where: str) -> Requirement:
    """A validated requirement; `where` names the selector or spec field in error messages."""

    def error(detail: str) -> SelectorError:
        return SelectorError(f"invalid label selector {json.dumps(where)}: {detail}")

    for message in validation.label_key_errors(key):
        raise error(f"key: Invalid value: {json.dumps(key)}: {message}")
    if operator in ("in", "notin") and not values:
        raise error(f"{key}: for 'in', 'notin' operators, values set can't be empty")
    if operator in ("=", "==", "!=") and len(values) != 1:
        raise error(f"{key}: exact-match compatibility requires one single value")
    if operator in ("exists", "!") and values:
        raise error(f"{key}: values set must be empty for exists and does not exist")
    if operator in ("gt", "lt"):
        if len(values) != 1:
            raise error(f"{key}: for 'Gt', 'Lt' operators, exactly one value is required")
        try:
            int(values[0])
        except ValueError:
            raise error(f"{key}: for 'Gt', 'Lt' operators, the value must be an integer") from None
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise error(f"values[{i}][{key}]: Invalid value: {json.dumps(value)}: must be a string")
        for message in validation.label_value_errors(value):
            raise error(f"values[{i}][{key}]: Invalid value: {json.dumps(value)}: {message}")
    return Requirement(key, operator, tuple(sorted(set(values))))


def parse_label_selector(text: str) -> LabelSelector:
    """Parse a `labelSelector` query parameter; SelectorError names the offending position."""
    return _LabelParser(text).parse()


_SPEC_OPERATORS: Final[Mapping[str, Operator]] = MappingProxyType(
    {
        "In": "in",
        "NotIn": "notin",
        "Exists": "exists",
        "DoesNotExist": "!",
    }
)


def label_selector_from_spec(
    spec: Mapping[str, Any] | None, *, nil_selects_nothing: bool = False
) -> LabelSelector:
    """A metav1.LabelSelector (`matchLabels`, `matchExpressions`) as a LabelSelector.

    `{}` selects everything. A missing selector (None) selects everything too, as an absent
    webhook objectSelector/namespaceSelector does; pass `nil_selects_nothing=True` for kube's
    LabelSelectorAsSelector semantics, where a null selector (e.g. a PDB's) selects nothing.
    """
    if spec is None:
        return NOTHING if nil_selects_nothing else EVERYTHING
    if not isinstance(spec, Mapping):
        raise SelectorError(f"a label selector must be an object, got {json.dumps(spec, default=str)}")
    unknown = sorted(str(k) for k in spec if k not in ("matchLabels", "matchExpressions"))
    if unknown:
        raise SelectorError(
            f"a label selector has only matchLabels and matchExpressions, not {', '.join(unknown)} "
            "(a Service-style map of labels is label_selector_from_map's job)"
        )
    match_labels = spec.get("matchLabels") or {}
    expressions = spec.get("matchExpressions") or []
    if not isinstance(match_labels, Mapping):
        raise SelectorError("matchLabels: must be an object of label keys to values")
    if not isinstance(expressions, list):
        raise SelectorError("matchExpressions: must be a list of {key, operator, values}")
    requirements = [
        make_requirement(str(k), "=", (v,), where=f"matchLabels.{k}") for k, v in match_labels.items()
    ]
    for i, expression in enumerate(expressions):
        where = f"matchExpressions[{i}]"
        if not isinstance(expression, Mapping):
            raise SelectorError(f"{where}: must be an object with key, operator and values")
        operator = _SPEC_OPERATORS.get(expression.get("operator"))  # type: ignore[arg-type]
        if operator is None:
            raise SelectorError(
                f"{where}.operator: {json.dumps(expression.get('operator'), default=str)} is not a valid "
                "label selector operator (expected In, NotIn, Exists or DoesNotExist)"
            )
        values = expression.get("values") or []
        if not isinstance(values, list):
            raise SelectorError(f"{where}.values: must be a list of strings")
        key = expression.get("key")
        if not isinstance(key, str):
            raise SelectorError(f"{where}.key: must be a string")
        requirements.append(make_requirement(key, operator, tuple(values), where=where))
    return _selector(requirements)


def label_selector_from_map(labels: Mapping[str, Any] | None) -> LabelSelector:
    """A selector requiring each label to equal its value, as a Service's `spec.selector`.

    An empty or missing map gives the empty selector (everything); kube's Service controllers
    treat a Service without a selector as selecting no Pods, which is the caller's decision.
    """
    if labels is None:
        return EVERYTHING
    if not isinstance(labels, Mapping):
        raise SelectorError(
            f"a selector map must be an object of label keys to values, got {json.dumps(labels, default=str)}"
        )
    return _selector([make_requirement(str(k), "=", (v,), where=f"selector.{k}") for k, v in labels.items()])


def _selector(requirements: list[Requirement]) -> LabelSelector:
    # Sorted by key, as kube keeps them: equal selectors compare equal and print the same.
    return LabelSelector(tuple(sorted(requirements, key=lambda r: r.key)))


# ---------------------------------------------------------------------------------------------
# Field selectors

FieldOperator = Literal["=", "==", "!="]


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[tuple[str, FieldOperator, str], ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, obj: Mapping[str, Any]) -> bool:
        for path, operator, value in self.requirements:
            equal = field_value(obj, path) == value
            if equal != (operator != "!="):
                return False
        return True

    def exact(self, path: str) -> str | None:
        """The value an `=`/`==` term requires of `path`, to narrow a lookup (e.g. metadata.name)."""
        return next((v for p, op, v in self.requirements if p == path and op != "!="), None)

    def __str__(self) -> str:
        return ",".join(f"{p}{op}{_escape(v)}" for p, op, v in self.requirements)


def field_value(obj: Any, path: str) -> str:
    """A dotted field's value as kube compares it: missing is "", true is "true", 3 is "3"."""
    current = obj
    for step in path.split("."):
        if not isinstance(current, Mapping) or step not in current:
            return ""
        current = current[step]
    if current is None:
        return ""
    if isinstance(current, str):
        return current
    return json.dumps(current, separators=(",", ":"), sort_keys=True)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _split_unescaped(text: str) -> list[str]:
    terms, start, escaped = [], 0, False
    for i, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _unescape(value: str, selector: str) -> str:
    out, escaped = [], False
    for char in value:
        if escaped:
            if char not in "\\,=":
                raise SelectorError(
                    f"invalid field selector {json.dumps(selector)}: invalid escape sequence: \\{char}"
                )
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in ",=":
            raise SelectorError(
                f"invalid field selector {json.dumps(selector)}: unescaped character in value: {char} "
                f"(write \\{char})"
            )
        else:
            out.append(char)
    if escaped:
        raise SelectorError(f"invalid field selector {json.dumps(selector)}: invalid escape sequence: \\")
    return "".join(out)


_FIELD_PATH: Final = re.compile(r"[A-Za-z0-9_/-]+(\.[A-Za-z0-9_/-]+)*")


def parse_field_selector(text: str) -> FieldSelector:
    """Parse a `fieldSelector` query parameter (terms joined by ',')."""
    requirements: list[tuple[str, FieldOperator, str]] = []
    for term in _split_unescaped(text) if text else []:
        if not term.strip():
            continue
        split = _split_term(term)
        if split is None:
            raise SelectorError(
                f"invalid field selector {json.dumps(text)}: can't understand '{term}' "
                "(expected path=value, path==value or path!=value)"
            )
        path, operator, raw = split
        path = path.strip()
        if not path:
            raise SelectorError(f"invalid field selector {json.dumps(text)}: '{term}' has no field path")
        if not _FIELD_PATH.fullmatch(path):
            raise SelectorError(
                f"invalid field selector {json.dumps(text)}: '{path}' is not a field path "
                "(names of letters, digits, '-', '_' or '/', joined by '.', e.g. metadata.name)"
            )
        requirements.append((path, operator, _unescape(raw, text)))
    return FieldSelector(tuple(requirements))


def _split_term(term: str) -> tuple[str, FieldOperator, str] | None:
    for i in range(len(term)):
        for operator in ("!=", "==", "="):
            if term.startswith(operator, i):
                return term[:i], operator, term[i + len(operator) :]
    return None
