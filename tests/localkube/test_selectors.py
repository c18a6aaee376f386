"""Label and field selectors: parsing, validation messages and matching, as kube-apiserver."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localkube import selectors
from localkube.selectors import SelectorError

LABELS = {"app": "web", "tier": "frontend", "env": "prod", "replicas": "3"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("app=web", True),
        ("app==web", True),
        ("app = web , tier == frontend", True),
        ("app!=web", False),
        ("app!=api", True),
        ("missing!=x", True),
        ("app in (web, api)", True),
        ("app in (api)", False),
        ("missing in (a)", False),
        ("app notin (api,db)", True),
        ("missing notin (a)", True),
        ("app notin (web)", False),
        ("app", True),
        ("missing", False),
        ("!missing", True),
        ("!app", False),
        ("replicas>2", True),
        ("replicas<3", False),
        ("app>1", False),
        ("app=web,tier=backend", False),
        ("example.com/name", False),
        ("missing=", False),
        ("empty=", True),
        ("empty in ()", True),
    ],
)
def test_label_selector_matches_like_kube(text: str, expected: bool) -> None:
    assert selectors.parse_label_selector(text).matches({**LABELS, "empty": ""}) is expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a b", "found 'b' at position 2, expected: '=', '==', '!=', 'in', 'notin', '<' or '>'"),
        ("a in b", "found 'b' at position 5, expected: '\\('"),
        ("a in (b c)", "found 'c' at position 8, expected: ',' or '\\)'"),
        ("a in (b", "found 'end of string' at position 7"),
        (",a", "found ',' at position 0"),
        ("a,", "expected: identifier after ','"),
        ("a=b c", "found 'c' at position 4, expected: ',' or 'end of string'"),
        ("!a=b", "found '=' at position 2"),
        ("a==b==c", "found '==' at position 4"),
        ("(a)", "found '\\(' at position 0"),
        ("Foo Bar=1", "found 'Bar'"),
        ("-a=1", 'key: Invalid value: "-a": name part must consist of alphanumeric characters'),
        ("a/b/c=1", 'key: Invalid value: "a/b/c": a qualified name must consist'),
        ("Ex.com/a=1", "prefix part a lowercase RFC 1123 subdomain"),
        ("a=b_", r'values\[0\]\[a\]: Invalid value: "b_": a valid label must be an empty string'),
        ("a in (ok,-bad)", r'values\[1\]\[a\]: Invalid value: "-bad"'),
        ("a=" + "x" * 64, "must be no more than 63 characters"),
        ("a>b", "the value must be an integer"),
    ],
)
def test_label_selector_errors_say_what_and_where(text: str, message: str) -> None:
    with pytest.raises(SelectorError, match=message) as caught:
        selectors.parse_label_selector(text)
    assert repr(text)[1:-1] in str(caught.value) or text in str(caught.value)


def test_label_selector_string_form_is_canonical() -> None:
    selector = selectors.parse_label_selector("z=1, a in (y,x), !m, k")
    assert str(selector) == "a in (x,y),k,!m,z=1"
    assert selectors.parse_label_selector(str(selector)) == selectors.LabelSelector(
        tuple(sorted(selector.requirements, key=lambda r: r.key))
    )


def test_empty_and_nothing() -> None:
    assert selectors.parse_label_selector("  ").empty
    assert selectors.label_selector_from_spec({}).empty
    assert selectors.label_selector_from_spec(None).matches({"any": "labels"})
    nothing = selectors.label_selector_from_spec(None, nil_selects_nothing=True)
    assert not nothing.empty
    assert not nothing.matches({})
    assert not selectors.parse_label_selector("a").empty


def test_label_selector_from_spec_combines_labels_and_expressions() -> None:
    spec = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["frontend", "edge"]},
            {"key": "env", "operator": "NotIn", "values": ["dev"]},
            {"key": "replicas", "operator": "Exists"},
            {"key": "legacy", "operator": "DoesNotExist"},
        ],
    }
    selector = selectors.label_selector_from_spec(spec)
    assert selector.matches(LABELS)
    assert not selector.matches({**LABELS, "legacy": "yes"})
    assert not selector.matches({**LABELS, "env": "dev"})
    assert str(selector) == "app=web,env notin (dev),!legacy,replicas,tier in (edge,frontend)"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["x"]}]},
            "matchExpressions\\[0\\].operator",
        ),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}, "values set can't be empty"),
        (
            {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
            "must be empty for exists",
        ),
        ({"matchExpressions": [{"operator": "Exists"}]}, "matchExpressions\\[0\\].key: must be a string"),
        ({"matchLabels": {"a": "b c"}}, 'matchLabels.a.*Invalid value: "b c"'),
        ({"matchLabels": ["a"]}, "matchLabels: must be an object"),
        ({"matchExpressions": {"a": 1}}, "matchExpressions: must be a list"),
        ({"app": "web"}, "only matchLabels and matchExpressions, not app"),
    ],
)
def test_label_selector_from_spec_errors(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(SelectorError, match=message):
        selectors.label_selector_from_spec(spec)


def test_label_selector_from_a_service_style_map() -> None:
    selector = selectors.label_selector_from_map({"app": "web", "tier": "frontend"})
    assert str(selector) == "app=web,tier=frontend"
    assert selector.matches(LABELS)
    assert not selector.matches({"app": "web"})
    assert selectors.label_selector_from_map(None).empty
    assert selectors.label_selector_from_map({}).empty
    with pytest.raises(SelectorError, match=r'selector.app.*Invalid value: "-x"'):
        selectors.label_selector_from_map({"app": "-x"})
    with pytest.raises(SelectorError, match="must be an object"):
        selectors.label_selector_from_map(["app"])  # type: ignore[arg-type]


_keys = st.sampled_from(["a", "b", "app", "example.com/c"])
_values = st.sampled_from(["x", "y", "1", "2", ""])


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(_keys, st.sampled_from(["x", "y", "1"]), max_size=3),
    st.lists(
        st.fixed_dictionaries(
            {
                "key": _keys,
                "operator": st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]),
                "values": st.lists(_values, min_size=1, max_size=3),
            }
        ),
        max_size=3,
    ),
    st.dictionaries(_keys, _values, max_size=4),
)
def test_spec_selector_and_its_string_form_agree(
    match_labels: dict[str, str], expressions: list[dict[str, Any]], labels: dict[str, str]
) -> None:
    for expression in expressions:
        if expression["operator"] in ("Exists", "DoesNotExist"):
            expression["values"] = []
    selector = selectors.label_selector_from_spec(
        {"matchLabels": match_labels, "matchExpressions": expressions}
    )
    reparsed = selectors.parse_label_selector(str(selector))
    assert reparsed.matches(labels) == selector.matches(labels)


# --------------------------------------------------------------------------------------------
# Field selectors

EVENT = {
    "metadata": {"name": "e1", "namespace": "default"},
    "involvedObject": {"kind": "Widget", "name": "w1", "uid": "u-1"},
    "spec": {"unschedulable": True, "replicas": 3},
    "status": {"phase": "Running"},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("metadata.name=e1", True),
        ("metadata.name==e1", True),
        ("metadata.name!=e1", False),
        ("involvedObject.kind=Widget,involvedObject.name=w1,involvedObject.uid=u-1", True),
        ("involvedObject.kind=Widget,involvedObject.name=w2", False),
        ("spec.nodeName=", True),
        ("spec.nodeName!=", False),
        ("spec.nodeName=node1", False),
        ("spec.unschedulable=true", True),
        ("spec.replicas=3", True),
        ("status.phase!=Pending", True),
        ("metadata.name.deeper=", True),
    ],
)
def test_field_selector_matches_like_kube(text: str, expected: bool) -> None:
    assert selectors.parse_field_selector(text).matches(EVENT) is expected


def test_field_selector_escapes_and_exact() -> None:
    selector = selectors.parse_field_selector(r"metadata.name=a\,b\=c\\d,status.phase!=Failed")
    assert selector.requirements == (("metadata.name", "=", "a,b=c\\d"), ("status.phase", "!=", "Failed"))
    assert selector.exact("metadata.name") == "a,b=c\\d"
    assert selector.exact("status.phase") is None
    assert selector.exact("metadata.namespace") is None
    assert selectors.parse_field_selector(str(selector)) == selector
    assert selector.matches({"metadata": {"name": "a,b=c\\d"}})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metadata.name", "can't understand 'metadata.name'"),
        ("=x", "'=x' has no field path"),
        ("a..b=x", "'a..b' is not a field path"),
        ("a b=x", "'a b' is not a field path"),
        ("! =x", "'!' is not a field path"),
        (r"a=b\x", r"invalid escape sequence: \\x"),
        ("a=b=c", "unescaped character in value: ="),
        ("a=b\\", r"invalid escape sequence: \\$"),
    ],
)
def test_field_selector_errors(text: str, message: str) -> None:
    with pytest.raises(SelectorError, match=message):
        selectors.parse_field_selector(text)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="ab,=\\!x", max_size=8))
def test_field_selector_string_form_round_trips(value: str) -> None:
    selector = selectors.FieldSelector((("metadata.name", "=", value),))
    assert selectors.parse_field_selector(str(selector)) == selector
    assert selector.matches({"metadata": {"name": value}})


# --------------------------------------------------------------------------------------------
# Fuzz: any client input gives a selector or a SelectorError, never another exception

_selector_text = st.text(alphabet="ab=!(),<> \tin notin.-_/1", max_size=20) | st.text(max_size=10)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["matchLabels", "matchExpressions", "key", "operator", "values", "a"]), inner
        )
    ),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None)
@given(_selector_text)
def test_label_selector_parsing_raises_only_selector_errors(text: str) -> None:
    try:
        selector = selectors.parse_label_selector(text)
    except SelectorError as err:
        assert str(err)
    else:
        assert selectors.parse_label_selector(str(selector)) == selector
        selector.matches({"a": "b", "in": "1"})


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="ab=!,\\. x", max_size=16) | st.text(max_size=10))
def test_field_selector_parsing_raises_only_selector_errors(text: str) -> None:
    try:
        selector = selectors.parse_field_selector(text)
    except SelectorError as err:
        assert str(err)
    else:
        assert selectors.parse_field_selector(str(selector)) == selector
        selector.matches(EVENT)


@settings(max_examples=100, deadline=None)
@given(_json)
def test_label_selector_from_any_json_raises_only_selector_errors(spec: Any) -> None:
    try:
        selectors.label_selector_from_spec(spec)
    except SelectorError as err:
        assert str(err)
