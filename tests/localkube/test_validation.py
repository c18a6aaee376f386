"""Names, metadata and CRD structural schemas, with kube-apiserver's reasons and wording."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from localkube import validation
from localkube.validation import Cause

# --------------------------------------------------------------------------------------------
# Names


@pytest.mark.parametrize("name", ["a", "abc", "a-b", "0", "a1", "x" * 63])
def test_valid_dns1123_labels(name: str) -> None:
    assert validation.dns1123_label_errors(name) == []
    assert validation.dns1123_subdomain_errors(name) == []


def test_dns1123_label_messages_are_kubes() -> None:
    assert validation.dns1123_label_errors("a.b") == ["must not contain dots"]
    assert validation.dns1123_label_errors("Foo") == [
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
        "start and end with an alphanumeric character (e.g. 'my-name', or '123-abc', regex used for "
        "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    ]
    assert validation.dns1123_label_errors("x" * 64) == ["must be no more than 63 characters"]


def test_dns1123_subdomain_messages_are_kubes() -> None:
    assert validation.dns1123_subdomain_errors("example.com") == []
    assert validation.dns1123_subdomain_errors("-bad") == [
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
        "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
        "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    ]
    assert validation.dns1123_subdomain_errors("a" * 254)[0] == "must be no more than 253 characters"


@pytest.mark.parametrize(
    ("name", "ok"), [("my-name", True), ("abc-123", True), ("1abc", False), ("a-", False)]
)
def test_dns1035_labels(name: str, ok: bool) -> None:
    errors = validation.dns1035_label_errors(name)
    assert (errors == []) is ok
    if not ok:
        assert errors[0].startswith("a DNS-1035 label must consist of lower case alphanumeric characters")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("app", None),
        ("app.kubernetes.io/name", None),
        ("Example_Key.1", None),
        ("a/b/c", "a qualified name must consist of"),
        ("/a", "prefix part must be non-empty"),
        ("a/", "name part must be non-empty"),
        ("Bad.Prefix/a", "prefix part a lowercase RFC 1123 subdomain"),
        ("-a", "name part must consist of alphanumeric characters, '-', '_' or '.'"),
        ("a" * 64, "name part must be no more than 63 characters"),
        (3, "must be a string"),
    ],
)
def test_label_keys(key: Any, message: str | None) -> None:
    errors = validation.label_key_errors(key)
    if message is None:
        assert errors == []
    else:
        assert any(message in e for e in errors), errors


@pytest.mark.parametrize(
    ("value", "ok"),
    [("", True), ("v1", True), ("a_b.c-d", True), ("-a", False), ("a b", False), ("a" * 64, False)],
)
def test_label_values(value: str, ok: bool) -> None:
    assert (validation.label_value_errors(value) == []) is ok


# --------------------------------------------------------------------------------------------
# Metadata


def _fields(causes: list[Cause]) -> list[tuple[str, str]]:
    return [(c.field, c.reason) for c in causes]


def test_valid_metadata_has_no_causes() -> None:
    metadata = {
        "name": "web.example",
        "namespace": "default",
        "labels": {"app.kubernetes.io/name": "web", "empty": ""},
        "annotations": {"kopf.zalando.org/last-handled-configuration": "{...}"},
    }
    assert validation.metadata_causes(metadata, namespaced=True, name_rule="subdomain") == []


def test_name_or_generate_name_is_required() -> None:
    causes = validation.metadata_causes({"namespace": "default"}, namespaced=True)
    assert causes == [
        Cause("metadata.name", "FieldValueRequired", "Required value: name or generateName is required")
    ]
    assert (
        validation.metadata_causes({"generateName": "kopf-event-", "namespace": "d"}, namespaced=True) == []
    )


def test_invalid_name_cause_reads_like_kubectl_prints_it() -> None:
    [cause] = validation.metadata_causes({"name": "Bad_Name"}, namespaced=False)
    assert cause.reason == "FieldValueInvalid"
    assert cause.text.startswith(
        'metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of'
    )
    [label_rule] = validation.metadata_causes({"name": "a.b"}, namespaced=False, name_rule="label")
    assert label_rule.message == 'Invalid value: "a.b": must not contain dots'


def test_namespace_rules() -> None:
    assert _fields(validation.metadata_causes({"name": "a"}, namespaced=True)) == [
        ("metadata.namespace", "FieldValueRequired")
    ]
    assert _fields(validation.metadata_causes({"name": "a", "namespace": "x"}, namespaced=False)) == [
        ("metadata.namespace", "FieldValueForbidden")
    ]
    assert _fields(validation.metadata_causes({"name": "a", "namespace": "Bad"}, namespaced=True)) == [
        ("metadata.namespace", "FieldValueInvalid")
    ]


def test_labels_and_annotations() -> None:
    metadata = {
        "name": "a",
        "labels": {"bad key": "v", "ok": "bad value", "n": 1},
        "annotations": {"UPPER.case/Fine": "x", "no//": "y"},
    }
    causes = validation.metadata_causes(metadata, namespaced=False)
    assert _fields(causes) == [
        ("metadata.labels", "FieldValueInvalid"),
        ("metadata.labels", "FieldValueInvalid"),
        ("metadata.labels.n", "FieldValueTypeInvalid"),
        ("metadata.annotations", "FieldValueInvalid"),
    ]
    assert causes[1].message.startswith('Invalid value: "bad value": a valid label must be an empty string')


_metadata_values = st.none() | st.integers() | st.text(max_size=4) | st.lists(st.text(max_size=2), max_size=2)


@settings(max_examples=80, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["name", "generateName", "namespace", "labels", "annotations", "x"]),
        _metadata_values | st.dictionaries(st.text(max_size=4) | st.integers(), _metadata_values, max_size=3),
        max_size=5,
    ),
    st.booleans(),
    st.sampled_from(["subdomain", "label"]),
)
def test_metadata_causes_accept_any_input(metadata: dict[str, Any], namespaced: bool, rule: Any) -> None:
    causes = validation.metadata_causes(metadata, namespaced=namespaced, name_rule=rule)
    assert all(c.field.startswith("metadata.") and c.message for c in causes)


def test_annotations_total_size_is_limited_to_256_kib() -> None:
    big = {"name": "a", "annotations": {"a": "x" * (256 * 1024)}}
    [cause] = validation.metadata_causes(big, namespaced=False)
    assert cause == Cause(
        "metadata.annotations", "FieldValueTooLong", "Too long: must have at most 262144 bytes"
    )
    fits = {"name": "a", "annotations": {"a": "x" * (256 * 1024 - 1)}}
    assert validation.metadata_causes(fits, namespaced=False) == []


# --------------------------------------------------------------------------------------------
# Structural schemas

WIDGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["spec"],
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1, "maximum": 10},
                "ratio": {"type": "number", "exclusiveMaximum": True, "maximum": 1},
                "color": {"type": "string", "enum": ["red", "blue"]},
                "name": {"type": "string", "minLength": 2, "maxLength": 5, "pattern": "^[a-z]+$"},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3, "uniqueItems": True},
                "port": {"x-kubernetes-int-or-string": True},
                "when": {"type": "string", "format": "date-time"},
                "count32": {"type": "integer", "format": "int32"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "maybe": {"type": "string", "nullable": True},
                "enabled": {"type": "boolean"},
                "template": {
                    "type": "object",
                    "properties": {
                        "spec": {
                            "type": "object",
                            "properties": {
                                "containers": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["image"],
                                        "properties": {"image": {"type": "string"}},
                                    },
                                }
                            },
                        }
                    },
                },
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "child": {"type": "object", "x-kubernetes-embedded-resource": True, "properties": {}},
            },
        },
        "status": {"type": "object", "properties": {"ready": {"type": "boolean", "default": False}}},
    },
}


def _widget(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1", "anything": {"goes": True}},
        "spec": {"size": 3, **spec},
    }


def test_a_valid_widget_has_no_causes() -> None:
    widget = _widget(
        ratio=0.5,
        color="red",
        name="abc",
        tags=["a", "b"],
        port="http",
        when="2024-01-02T03:04:05Z",
        count32=7,
        labels={"a": "b"},
        maybe=None,
        enabled=True,
        template={"spec": {"containers": [{"image": "nginx"}]}},
        free={"x": {"y": 1}},
        child={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}},
    )
    assert validation.schema_causes(WIDGET_SCHEMA, widget) == []


@pytest.mark.parametrize(
    ("spec", "field", "reason", "message"),
    [
        (
            {"size": "three"},
            "spec.size",
            "FieldValueTypeInvalid",
            'Invalid value: "string": spec.size in body must be of type integer: "string"',
        ),
        (
            {"size": 2.5},
            "spec.size",
            "FieldValueTypeInvalid",
            'Invalid value: "number": spec.size in body must be of type integer: "number"',
        ),
        (
            {"size": True},
            "spec.size",
            "FieldValueTypeInvalid",
            'Invalid value: "boolean": spec.size in body must be of type integer: "boolean"',
        ),
        (
            {"size": 11},
            "spec.size",
            "FieldValueInvalid",
            "Invalid value: 11: spec.size in body should be less than or equal to 10",
        ),
        (
            {"size": 0},
            "spec.size",
            "FieldValueInvalid",
            "Invalid value: 0: spec.size in body should be greater than or equal to 1",
        ),
        (
            {"ratio": 1},
            "spec.ratio",
            "FieldValueInvalid",
            "Invalid value: 1: spec.ratio in body should be less than 1",
        ),
        (
            {"color": "green"},
            "spec.color",
            "FieldValueNotSupported",
            'Unsupported value: "green": supported values: "red", "blue"',
        ),
        ({"name": "abcdef"}, "spec.name", "FieldValueTooLong", "Too long: may not be longer than 5"),
        (
            {"name": "a"},
            "spec.name",
            "FieldValueInvalid",
            'Invalid value: "a": spec.name in body should be at least 2 chars long',
        ),
        (
            {"name": "AB"},
            "spec.name",
            "FieldValueInvalid",
            "Invalid value: \"AB\": spec.name in body should match '^[a-z]+$'",
        ),
        (
            {"tags": ["a", "b", "c", "d"]},
            "spec.tags",
            "FieldValueTooMany",
            "Too many: 4: must have at most 3 items",
        ),
        ({"tags": ["a", "a"]}, "spec.tags[1]", "FieldValueDuplicate", 'Duplicate value: "a"'),
        (
            {"tags": ["a", 1]},
            "spec.tags[1]",
            "FieldValueTypeInvalid",
            'Invalid value: "integer": spec.tags[1] in body must be of type string: "integer"',
        ),
        (
            {"port": True},
            "spec.port",
            "FieldValueTypeInvalid",
            'Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"',
        ),
        (
            {"when": "yesterday"},
            "spec.when",
            "FieldValueTypeInvalid",
            'Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday"',
        ),
        (
            {"count32": 2**31},
            "spec.count32",
            "FieldValueTypeInvalid",
            "Invalid value: 2147483648: spec.count32 in body must be of type int32: 2147483648",
        ),
        (
            {"labels": {"a": 1}},
            "spec.labels.a",
            "FieldValueTypeInvalid",
            'Invalid value: "integer": spec.labels.a in body must be of type string: "integer"',
        ),
        (
            {"enabled": None},
            "spec.enabled",
            "FieldValueTypeInvalid",
            'Invalid value: "null": spec.enabled in body must be of type boolean: "null"',
        ),
        (
            {"template": {"spec": {"containers": [{"image": "a"}, {}]}}},
            "spec.template.spec.containers[1].image",
            "FieldValueRequired",
            "Required value",
        ),
        (
            {"child": {"kind": "ConfigMap"}},
            "spec.child.apiVersion",
            "FieldValueRequired",
            "Required value: must not be empty",
        ),
    ],
)
def test_schema_causes_name_the_field_and_read_like_kube(
    spec: dict[str, Any], field: str, reason: str, message: str
) -> None:
    causes = validation.schema_causes(WIDGET_SCHEMA, _widget(**spec))
    assert causes == [Cause(field, reason, message)]


def test_required_fields_and_root_metadata_is_left_to_the_server() -> None:
    schema = {"type": "object", "required": ["spec", "kind"], "properties": {"spec": {"type": "object"}}}
    obj = {"metadata": {"name": 3}}
    assert validation.schema_causes(schema, obj) == [Cause("spec", "FieldValueRequired", "Required value")]
    no_size = validation.schema_causes(WIDGET_SCHEMA, {**_widget(), "spec": {}})
    assert no_size == [Cause("spec.size", "FieldValueRequired", "Required value")]


def test_schema_causes_under_a_root_path() -> None:
    causes = validation.schema_causes({"type": "integer"}, "x", root="spec.replicas")
    assert causes == [
        Cause(
            "spec.replicas",
            "FieldValueTypeInvalid",
            'Invalid value: "string": spec.replicas in body must be of type integer: "string"',
        )
    ]


@pytest.mark.parametrize(
    ("schema", "value", "ok"),
    [
        ({"type": "number"}, 3, True),
        ({"type": "number"}, 3.5, True),
        ({"type": "number"}, True, False),
        ({"type": "integer", "multipleOf": 5}, 10, True),
        ({"type": "integer", "multipleOf": 5}, 12, False),
        ({"type": "number", "multipleOf": 0.1}, 0.3, True),
        ({"type": "number", "minimum": 1, "exclusiveMinimum": True}, 1, False),
        ({"type": "array", "minItems": 1}, [], False),
        ({"type": "object", "minProperties": 1}, {}, False),
        ({"type": "object", "maxProperties": 1}, {"a": 1, "b": 2}, False),
        ({"type": "object", "additionalProperties": False, "properties": {"a": {}}}, {"b": 1}, False),
        ({"allOf": [{"minimum": 1}, {"maximum": 3}]}, 2, True),
        ({"allOf": [{"minimum": 1}, {"maximum": 3}]}, 4, False),
        ({"anyOf": [{"type": "integer"}, {"type": "string"}]}, "x", True),
        ({"anyOf": [{"type": "integer"}, {"type": "string"}]}, [], False),
        ({"oneOf": [{"minimum": 1}, {"minimum": 2}]}, 1, True),
        ({"oneOf": [{"minimum": 1}, {"minimum": 2}]}, 5, False),
        ({"not": {"enum": ["x"]}}, "y", True),
        ({"not": {"enum": ["x"]}}, "x", False),
        ({"x-kubernetes-preserve-unknown-fields": True}, {"any": ["thing"]}, True),
        ({"type": "string", "format": "int64"}, "not checked", True),
        ({"type": "integer", "format": "int64"}, 2**63, False),
        ({"type": "string", "format": "date-time"}, "2024-13-01T00:00:00Z", False),
        ({"type": "string", "format": "date-time"}, "2024-01-01T00:00:00.123+02:00", True),
        ({"type": "string", "pattern": "(?<=x"}, "a", True),
    ],
)
def test_schema_value_validations(schema: dict[str, Any], value: Any, ok: bool) -> None:
    assert (validation.schema_causes(schema, value, root="v") == []) is ok


def test_composition_messages() -> None:
    [cause] = validation.schema_causes({"oneOf": [{"minimum": 1}, {"minimum": 2}]}, 5, root="spec.n")
    assert (
        cause.text == "spec.n: Invalid value: 5: spec.n in body must validate one and only one schema (oneOf)"
    )


def test_schema_causes_do_not_mutate() -> None:
    widget = _widget(size="x", tags=["a", "a"])
    before = copy.deepcopy(widget)
    validation.schema_causes(WIDGET_SCHEMA, widget)
    assert widget == before


# --------------------------------------------------------------------------------------------
# Pruning and defaulting


def test_prune_drops_undeclared_fields_and_reports_their_paths() -> None:
    widget = _widget(
        unknown=1,
        template={"spec": {"containers": [{"image": "a", "imagePullPolicy": "Always"}]}},
        free={"kept": {"deep": 1}},
        labels={"any": "key"},
        child={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"x": "y"}},
    )
    widget["extra"] = {"top": 1}
    pruned, dropped = validation.prune_unknown_fields(WIDGET_SCHEMA, widget)
    assert dropped == [
        "spec.unknown",
        "spec.template.spec.containers[0].imagePullPolicy",
        "spec.child.data",
        "extra",
    ]
    assert pruned["metadata"] == {"name": "w1", "anything": {"goes": True}}
    assert pruned["spec"]["free"] == {"kept": {"deep": 1}}
    assert pruned["spec"]["labels"] == {"any": "key"}
    assert pruned["spec"]["child"] == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    assert pruned["spec"]["template"]["spec"]["containers"] == [{"image": "a"}]
    assert "extra" in widget and "unknown" in widget["spec"]


def test_defaults_fill_missing_fields_recursively_and_replace_non_nullable_nulls() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "default": {},
                "properties": {
                    "replicas": {"type": "integer", "default": 1},
                    "mode": {"type": "string", "default": "fast"},
                    "note": {"type": "string"},
                    "keepNull": {"type": "string", "nullable": True, "default": "x"},
                    "ports": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"protocol": {"type": "string", "default": "TCP"}},
                        },
                    },
                    "byName": {
                        "type": "object",
                        "additionalProperties": {
                            "type": "object",
                            "properties": {"weight": {"type": "integer", "default": 100}},
                        },
                    },
                },
            },
            "metadata": {"type": "object", "properties": {"name": {"type": "string", "default": "no"}}},
        },
    }
    empty: dict[str, Any] = {"metadata": {}}
    assert validation.apply_schema_defaults(schema, empty) == {
        "metadata": {},
        "spec": {"replicas": 1, "mode": "fast", "keepNull": "x"},
    }
    obj: dict[str, Any] = {
        "spec": {
            "replicas": 3,
            "mode": None,
            "note": None,
            "keepNull": None,
            "ports": [{"port": 80}, {"protocol": "UDP"}],
            "byName": {"a": {}},
        }
    }
    before = copy.deepcopy(obj)
    assert validation.apply_schema_defaults(schema, obj) == {
        "spec": {
            "replicas": 3,
            "mode": "fast",
            "keepNull": None,
            "ports": [{"port": 80, "protocol": "TCP"}, {"protocol": "UDP"}],
            "byName": {"a": {"weight": 100}},
        }
    }
    assert obj == before


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["spec", "size", "tags", "x"]), inner)
    ),
    max_leaves=12,
)


@settings(max_examples=100, deadline=None)
@given(_json)
def test_schema_functions_accept_any_json(value: Any) -> None:
    before = copy.deepcopy(value)
    causes = validation.schema_causes(WIDGET_SCHEMA, value)
    assert all(isinstance(c, Cause) and c.message for c in causes)
    pruned, _ = validation.prune_unknown_fields(WIDGET_SCHEMA, value)
    defaulted = validation.apply_schema_defaults(WIDGET_SCHEMA, pruned)
    assert validation.prune_unknown_fields(WIDGET_SCHEMA, defaulted)[1] == []
    assert value == before


# --------------------------------------------------------------------------------------------
# Structural schemas (what a CRD may declare)

ROOT = "spec.versions[0].schema.openAPIV3Schema"


def test_the_widget_schema_and_the_projects_crds_are_structural() -> None:
    assert validation.structural_schema_causes(WIDGET_SCHEMA) == []
    crd_files = sorted((Path(__file__).resolve().parents[2] / "crds").glob("*.yaml"))
    for path in crd_files:
        crd = yaml.safe_load(path.read_text())
        for i, version in enumerate(crd["spec"]["versions"]):
            root = f"spec.versions[{i}].schema.openAPIV3Schema"
            schema = version["schema"]["openAPIV3Schema"]
            assert validation.structural_schema_causes(schema, root=root) == [], path.name


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (
            {"properties": {}},
            [(f"{ROOT}.type", "FieldValueRequired", "Required value: must not be empty at the root")],
        ),
        (
            {"type": "string"},
            [(f"{ROOT}.type", "FieldValueInvalid", 'Invalid value: "string": must be object at the root')],
        ),
        (
            {"type": "object", "properties": {"spec": {"properties": {}}}},
            [
                (
                    f"{ROOT}.properties[spec].type",
                    "FieldValueRequired",
                    "Required value: must not be empty for specified object fields",
                )
            ],
        ),
        (
            {"type": "object", "properties": {"l": {"type": "array"}}},
            [(f"{ROOT}.properties[l].items", "FieldValueRequired", "Required value: must be specified")],
        ),
        (
            {"type": "object", "properties": {"l": {"type": "array", "items": {}}}},
            [
                (
                    f"{ROOT}.properties[l].items.type",
                    "FieldValueRequired",
                    "Required value: must not be empty for specified array items",
                )
            ],
        ),
        (
            {"type": "object", "properties": {"p": {"type": "string", "x-kubernetes-int-or-string": True}}},
            [
                (
                    f"{ROOT}.properties[p].type",
                    "FieldValueInvalid",
                    'Invalid value: "string": must be empty if x-kubernetes-int-or-string is true',
                )
            ],
        ),
        (
            {
                "type": "object",
                "properties": {"f": {"type": "object", "x-kubernetes-preserve-unknown-fields": False}},
            },
            [
                (
                    f"{ROOT}.properties[f].x-kubernetes-preserve-unknown-fields",
                    "FieldValueInvalid",
                    "Invalid value: false: must be true or undefined",
                )
            ],
        ),
        (
            {
                "type": "object",
                "properties": {"metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}},
            },
            [
                (
                    f"{ROOT}.properties[metadata]",
                    "FieldValueForbidden",
                    "Forbidden: must not specify anything other than name and generateName, "
                    "but metadata is implicitly specified",
                )
            ],
        ),
        (
            {
                "type": "object",
                "properties": {
                    "m": {
                        "type": "object",
                        "properties": {"a": {"type": "string"}},
                        "additionalProperties": {"type": "string"},
                    }
                },
            },
            [
                (
                    f"{ROOT}.properties[m].additionalProperties",
                    "FieldValueForbidden",
                    "Forbidden: additionalProperties and properties are mutual exclusive",
                )
            ],
        ),
        (
            {"type": "object", "properties": {"n": {"type": "integer", "default": "one"}}},
            [
                (
                    f"{ROOT}.properties[n].default",
                    "FieldValueTypeInvalid",
                    f'Invalid value: "string": {ROOT}.properties[n].default in body '
                    'must be of type integer: "string"',
                )
            ],
        ),
        (
            {
                "type": "object",
                "properties": {"s": {"type": "object", "default": {"x": 1}, "properties": {}}},
            },
            [
                (
                    f"{ROOT}.properties[s].default",
                    "FieldValueInvalid",
                    'Invalid value: {"x":1}: must not have unknown fields: x',
                )
            ],
        ),
        (
            {"type": "object", "properties": {"t": {"type": "text"}}},
            [
                (
                    f"{ROOT}.properties[t].type",
                    "FieldValueNotSupported",
                    'Unsupported value: "text": supported values: "object", "array", "string", "integer", '
                    '"number", "boolean"',
                )
            ],
        ),
        (
            {"type": "object", "properties": {"r": {"$ref": "#/x"}}},
            [
                (f"{ROOT}.properties[r].$ref", "FieldValueForbidden", "Forbidden: $ref is not supported"),
                (
                    f"{ROOT}.properties[r].type",
                    "FieldValueRequired",
                    "Required value: must not be empty for specified object fields",
                ),
            ],
        ),
    ],
)
def test_non_structural_schemas_are_refused_with_kubes_causes(
    schema: dict[str, Any], expected: list[tuple[str, str, str]]
) -> None:
    causes = validation.structural_schema_causes(schema)
    assert [(c.field, c.reason, c.message) for c in causes] == expected


def test_preserve_unknown_fields_and_int_or_string_need_no_type() -> None:
    schema = {
        "type": "object",
        "properties": {
            "free": {"x-kubernetes-preserve-unknown-fields": True},
            "port": {"x-kubernetes-int-or-string": True},
            "meta": {
                "type": "object",
                "x-kubernetes-embedded-resource": True,
                "x-kubernetes-preserve-unknown-fields": True,
            },
            "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 20}}},
        },
    }
    assert validation.structural_schema_causes(schema) == []
