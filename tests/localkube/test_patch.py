"""merge-patch (RFC 7386), json-patch (RFC 6902) and strategic merge, against the RFCs' examples."""

from __future__ import annotations

import contextlib
import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localkube import patch
from localkube.patch import MalformedPatch, PatchError, PatchTestFailed

# --------------------------------------------------------------------------------------------
# Strategies

_scalars = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=5)
_floats = st.floats(allow_nan=False, allow_infinity=False)
_keys = st.text(alphabet="abc/~01-", max_size=3)
json_values = st.recursive(
    _scalars | _floats,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=20,
)
json_without_nulls = st.recursive(
    st.booleans() | st.integers(-1000, 1000) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=20,
)
objects_without_nulls = st.dictionaries(_keys, json_without_nulls, max_size=5)


def _merge_diff(source: Any, target: Any) -> Any:
    """The merge patch that turns `source` into `target` (target holds no nulls)."""
    if not (isinstance(source, dict) and isinstance(target, dict)):
        return target
    diff: dict[str, Any] = {k: None for k in source if k not in target}
    for key, value in target.items():
        if key not in source:
            diff[key] = value
        elif isinstance(value, dict) and isinstance(source[key], dict):
            sub = _merge_diff(source[key], value)
            if sub:
                diff[key] = sub
        elif json.dumps(value, sort_keys=True) != json.dumps(source[key], sort_keys=True):
            diff[key] = value
    return diff


# --------------------------------------------------------------------------------------------
# RFC 7386

RFC7386_EXAMPLES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "merge", "expected"), RFC7386_EXAMPLES)
def test_merge_patch_rfc7386_appendix(target: Any, merge: Any, expected: Any) -> None:
    before = copy.deepcopy((target, merge))
    assert patch.merge_patch(target, merge) == expected
    assert (target, merge) == before


def test_merge_patch_keeps_empty_objects_and_kopf_annotation_removal() -> None:
    obj = {"metadata": {"name": "w", "annotations": {"kopf.zalando.org/h1": "{}", "x": "1"}}}
    result = patch.merge_patch(
        obj, {"metadata": {"annotations": {"kopf.zalando.org/h1": None}}, "status": {}}
    )
    assert result == {"metadata": {"name": "w", "annotations": {"x": "1"}}, "status": {}}


def test_merge_patch_result_shares_nothing_with_inputs() -> None:
    target = {"keep": {"deep": [1]}, "spec": {"a": 1}}
    merge = {"new": {"list": [{"x": 1}]}}
    result = patch.merge_patch(target, merge)
    result["keep"]["deep"].append(2)
    result["new"]["list"][0]["x"] = 9
    assert target == {"keep": {"deep": [1]}, "spec": {"a": 1}}
    assert merge == {"new": {"list": [{"x": 1}]}}


@settings(max_examples=60, deadline=None)
@given(objects_without_nulls, objects_without_nulls)
def test_merge_patch_of_the_diff_yields_the_second(source: Any, target: Any) -> None:
    assert patch.merge_patch(source, _merge_diff(source, target)) == target


@settings(max_examples=60, deadline=None)
@given(json_values, json_values)
def test_merge_patch_is_idempotent(target: Any, merge: Any) -> None:
    once = patch.merge_patch(target, merge)
    assert patch.merge_patch(once, merge) == once


# --------------------------------------------------------------------------------------------
# RFC 6902 appendix A

RFC6902_EXAMPLES: list[tuple[str, Any, list[Any], Any]] = [
    ("A.1", {"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"baz": "qux", "foo": "bar"}),
    (
        "A.2",
        {"foo": ["bar", "baz"]},
        [{"op": "add", "path": "/foo/1", "value": "qux"}],
        {"foo": ["bar", "qux", "baz"]},
    ),
    ("A.3", {"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ("A.4", {"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
    (
        "A.5",
        {"baz": "qux", "foo": "bar"},
        [{"op": "replace", "path": "/baz", "value": "boo"}],
        {"baz": "boo", "foo": "bar"},
    ),
    (
        "A.6",
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
        {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
    ),
    (
        "A.7",
        {"foo": ["all", "grass", "cows", "eat"]},
        [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
        {"foo": ["all", "cows", "eat", "grass"]},
    ),
    (
        "A.8",
        {"baz": "qux", "foo": ["a", 2, "c"]},
        [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
        {"baz": "qux", "foo": ["a", 2, "c"]},
    ),
    (
        "A.10",
        {"foo": "bar"},
        [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
        {"foo": "bar", "child": {"grandchild": {}}},
    ),
    (
        "A.11",
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
        {"foo": "bar", "baz": "qux"},
    ),
    ("A.14", {"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
    (
        "A.16",
        {"foo": ["bar"]},
        [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
        {"foo": ["bar", ["abc", "def"]]},
    ),
]


@pytest.mark.parametrize(("name", "target", "ops", "expected"), RFC6902_EXAMPLES)
def test_json_patch_rfc6902_appendix(name: str, target: Any, ops: list[Any], expected: Any) -> None:
    before = copy.deepcopy((target, ops))
    assert patch.json_patch(target, ops) == expected, name
    assert (target, ops) == before


def test_rfc6902_a9_failed_test_raises_test_failed() -> None:
    with pytest.raises(PatchTestFailed, match=r'operation 0 \(test "/baz"\).*"qux".*"bar"'):
        patch.json_patch({"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}])


def test_rfc6902_a12_add_to_a_missing_parent_fails() -> None:
    with pytest.raises(PatchError, match=r'operation 0 \(add "/baz/bat"\): "/baz" does not exist'):
        patch.json_patch({"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}])


def test_rfc6902_a13_duplicate_members_are_malformed() -> None:
    body = '[{ "op": "add", "path": "/baz", "value": "qux", "op": "remove" }]'
    with pytest.raises(MalformedPatch, match='repeats the member "op"'):
        patch.parse_patch_body(body)


def test_rfc6902_a15_string_is_not_number() -> None:
    with pytest.raises(PatchTestFailed):
        patch.json_patch({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": "10"}])


def test_kopf_finalizer_patch_applies_when_the_resource_version_matches() -> None:
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "101"},
        {"op": "add", "path": "/metadata/finalizers", "value": ["x"]},
    ]
    obj = {"metadata": {"name": "w", "resourceVersion": "101"}}
    assert patch.json_patch(obj, ops) == {
        "metadata": {"name": "w", "resourceVersion": "101", "finalizers": ["x"]}
    }
    with pytest.raises(PatchTestFailed, match="resourceVersion"):
        patch.json_patch({"metadata": {"resourceVersion": "102"}}, ops)


def test_kopf_removes_a_finalizer_by_index_and_appends_with_dash() -> None:
    obj = {"metadata": {"finalizers": ["a", "b"]}}
    assert patch.json_patch(obj, [{"op": "remove", "path": "/metadata/finalizers/0"}]) == {
        "metadata": {"finalizers": ["b"]}
    }
    assert patch.json_patch(obj, [{"op": "add", "path": "/metadata/finalizers/-", "value": "c"}]) == {
        "metadata": {"finalizers": ["a", "b", "c"]}
    }


@pytest.mark.parametrize(
    ("ops", "error", "message"),
    [
        ({"op": "add"}, MalformedPatch, "must be an array of operation objects, got object"),
        (["add"], MalformedPatch, "operation 0: must be an object, got string"),
        ([{"path": "/a"}], MalformedPatch, 'operation 0: "op" is nothing'),
        ([{"op": "frob", "path": "/a"}], MalformedPatch, 'operation 0: "op" is "frob"'),
        ([{"op": "add", "value": 1}], MalformedPatch, 'missing member "path"'),
        ([{"op": "add", "path": "/a"}], MalformedPatch, 'missing member "value"'),
        ([{"op": "move", "path": "/a"}], MalformedPatch, 'missing member "from"'),
        ([{"op": "add", "path": "a", "value": 1}], MalformedPatch, 'must be empty or start with "/"'),
        ([{"op": "add", "path": "/a~2", "value": 1}], MalformedPatch, '"~" must be followed by 0 or 1'),
        ([{"op": "add", "path": 3, "value": 1}], MalformedPatch, "must be a string, got integer"),
        ([{"op": "remove", "path": "/nope"}], PatchError, '"/nope" does not exist'),
        ([{"op": "replace", "path": "/nope", "value": 1}], PatchError, '"/nope" does not exist'),
        ([{"op": "add", "path": "/l/01", "value": 1}], PatchError, "not an array index"),
        ([{"op": "add", "path": "/l/3", "value": 1}], PatchError, "index 3 is out of range"),
        ([{"op": "remove", "path": "/l/2"}], PatchError, "index 2 is out of range"),
        ([{"op": "remove", "path": "/l/-"}], PatchError, '"-"'),
        ([{"op": "add", "path": "/s/x", "value": 1}], PatchError, '"/s" is a string'),
        ([{"op": "move", "from": "/o", "path": "/o/x"}], PatchError, "into one of its own children"),
        ([{"op": "copy", "from": "/nope", "path": "/x"}], PatchError, '"/nope" does not exist'),
        ([{"op": "remove", "path": ""}], PatchError, "whole document"),
        ([{"op": "test", "path": "/nope", "value": 1}], PatchTestFailed, "does not exist"),
    ],
)
def test_json_patch_errors_name_the_operation_and_path(
    ops: Any, error: type[PatchError], message: str
) -> None:
    target = {"l": [1, 2], "s": "str", "o": {"k": 1}}
    with pytest.raises(error, match=message.replace("(", r"\(").replace("[", r"\[")) as caught:
        patch.json_patch(target, ops)
    if isinstance(ops, list) and error is not MalformedPatch:
        assert "operation 0" in str(caught.value)
    assert target == {"l": [1, 2], "s": "str", "o": {"k": 1}}


def test_json_patch_is_atomic_and_ops_see_earlier_ops() -> None:
    target = {"a": 1}
    ops = [{"op": "add", "path": "/b", "value": 2}, {"op": "copy", "from": "/b", "path": "/c"}]
    assert patch.json_patch(target, ops) == {"a": 1, "b": 2, "c": 2}
    with pytest.raises(PatchError):
        patch.json_patch(target, [*ops, {"op": "remove", "path": "/zzz"}])
    assert target == {"a": 1}


def test_json_patch_root_replace_and_copy_independence() -> None:
    assert patch.json_patch({"a": 1}, [{"op": "replace", "path": "", "value": [1]}]) == [1]
    result = patch.json_patch(
        {"a": {"x": [1]}},
        [{"op": "copy", "from": "/a", "path": "/b"}, {"op": "add", "path": "/b/x/-", "value": 2}],
    )
    assert result == {"a": {"x": [1]}, "b": {"x": [1, 2]}}


def test_json_patch_test_distinguishes_bool_from_int_but_not_int_from_float() -> None:
    patch.json_patch({"n": 1}, [{"op": "test", "path": "/n", "value": 1.0}])
    with pytest.raises(PatchTestFailed):
        patch.json_patch({"n": 1}, [{"op": "test", "path": "/n", "value": True}])


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(_keys, json_values, max_size=4), _keys, json_values)
def test_json_patch_test_of_a_just_added_value_succeeds(target: Any, key: str, value: Any) -> None:
    pointer = "/" + key.replace("~", "~0").replace("/", "~1")
    ops = [{"op": "add", "path": pointer, "value": value}, {"op": "test", "path": pointer, "value": value}]
    result = patch.json_patch(target, ops)
    assert result[key] == value


# --------------------------------------------------------------------------------------------
# Strategic merge

POD_KEYS = patch.merge_keys_for("v1", "Pod")
DEPLOYMENT_KEYS = patch.merge_keys_for("apps/v1", "Deployment")


def _pod(*containers: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": list(containers)},
    }


def test_merge_keys_for_knows_the_builtins_and_not_custom_resources() -> None:
    assert POD_KEYS is not None and DEPLOYMENT_KEYS is not None
    assert POD_KEYS.at(("spec", "containers")) == patch.ListMerge("name")
    assert DEPLOYMENT_KEYS.at(("spec", "template", "spec", "containers", "env")) == patch.ListMerge("name")
    assert DEPLOYMENT_KEYS.at(("metadata", "finalizers")) == patch.ListMerge(None)
    assert DEPLOYMENT_KEYS.at(("spec", "template", "spec", "tolerations")) is None
    service = patch.merge_keys_for("v1", "Service")
    assert service is not None and service.at(("spec", "ports")) == patch.ListMerge("port")
    assert patch.merge_keys_for("example.com/v1", "Widget") is None
    assert patch.merge_keys_for("serving.knative.dev/v1", "Service") is None


def test_containers_merge_by_name_and_env_by_name() -> None:
    pod = _pod(
        {"name": "app", "image": "a:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
        {"name": "sidecar", "image": "s:1"},
    )
    smp = {"spec": {"containers": [{"name": "app", "image": "a:2", "env": [{"name": "B", "value": "3"}]}]}}
    result = patch.strategic_merge_patch(pod, smp, POD_KEYS)
    assert result["spec"]["containers"] == [
        {"name": "app", "image": "a:2", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}]},
        {"name": "sidecar", "image": "s:1"},
    ]
    assert pod["spec"]["containers"][0]["image"] == "a:1"


def test_deployment_template_lists_merge_by_their_keys() -> None:
    deployment = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "app", "ports": [{"containerPort": 80, "name": "http"}]},
                    ],
                    "volumes": [{"name": "v1", "emptyDir": {}}],
                    "tolerations": [{"key": "a"}],
                }
            }
        }
    }
    smp = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "app", "ports": [{"containerPort": 9090, "name": "metrics"}]}],
                    "volumes": [{"name": "v2", "configMap": {"name": "c"}}],
                    "tolerations": [{"key": "b"}],
                }
            }
        }
    }
    spec = patch.strategic_merge_patch(deployment, smp, DEPLOYMENT_KEYS)["spec"]["template"]["spec"]
    # As kube-apiserver does, an item new to a list (and absent from any order directive) comes first.
    assert [p["containerPort"] for p in spec["containers"][0]["ports"]] == [9090, 80]
    assert [v["name"] for v in spec["volumes"]] == ["v2", "v1"]
    assert spec["tolerations"] == [{"key": "b"}]


def test_patch_delete_directive_removes_a_list_item() -> None:
    pod = _pod({"name": "app"}, {"name": "sidecar"})
    smp = {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}
    assert patch.strategic_merge_patch(pod, smp, POD_KEYS)["spec"]["containers"] == [{"name": "app"}]


def test_patch_replace_directive_on_a_list_and_on_a_map() -> None:
    pod = _pod({"name": "app", "image": "a"}, {"name": "sidecar"})
    smp_list = {"spec": {"containers": [{"name": "only"}, {"$patch": "replace"}]}}
    assert patch.strategic_merge_patch(pod, smp_list, POD_KEYS)["spec"]["containers"] == [{"name": "only"}]
    obj = {"spec": {"selector": {"a": "1", "b": "2"}}}
    smp_map = {"spec": {"selector": {"c": "3", "$patch": "replace"}}}
    assert patch.strategic_merge_patch(obj, smp_map, POD_KEYS) == {"spec": {"selector": {"c": "3"}}}
    assert patch.strategic_merge_patch(obj, {"spec": {"$patch": "delete"}}, POD_KEYS) == {"spec": {}}


def test_finalizers_merge_as_a_set_and_delete_from_primitive_list() -> None:
    obj = {"metadata": {"finalizers": ["a", "b"]}}
    added = patch.strategic_merge_patch(obj, {"metadata": {"finalizers": ["b", "c"]}}, POD_KEYS)
    assert added["metadata"]["finalizers"] == ["a", "b", "c"]
    removed = patch.strategic_merge_patch(
        obj, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}, POD_KEYS
    )
    assert removed == {"metadata": {"finalizers": ["b"]}}


def test_owner_references_merge_by_uid_and_conditions_by_type() -> None:
    obj = {
        "metadata": {"ownerReferences": [{"uid": "1", "name": "a"}]},
        "status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Other", "status": "True"}]},
    }
    smp = {
        "metadata": {"ownerReferences": [{"uid": "2", "name": "b"}]},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    result = patch.strategic_merge_patch(obj, smp, DEPLOYMENT_KEYS)
    assert [o["uid"] for o in result["metadata"]["ownerReferences"]] == ["2", "1"]
    assert result["status"]["conditions"] == [
        {"type": "Ready", "status": "True"},
        {"type": "Other", "status": "True"},
    ]


def test_set_element_order_reorders_and_is_not_stored() -> None:
    pod = _pod({"name": "a"}, {"name": "b"})
    smp = {
        "spec": {
            "$setElementOrder/containers": [{"name": "c"}, {"name": "b"}, {"name": "a"}],
            "containers": [{"name": "c"}],
        }
    }
    result = patch.strategic_merge_patch(pod, smp, POD_KEYS)
    assert result["spec"] == {"containers": [{"name": "c"}, {"name": "b"}, {"name": "a"}]}


def test_retain_keys_clears_fields_not_listed() -> None:
    obj = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    smp = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert patch.strategic_merge_patch(obj, smp, DEPLOYMENT_KEYS) == {
        "spec": {"strategy": {"type": "Recreate"}}
    }


def test_null_deletes_and_scalars_replace() -> None:
    obj = {"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"replicas": 1}}
    smp = {"metadata": {"labels": {"a": None}}, "spec": {"replicas": 3}}
    assert patch.strategic_merge_patch(obj, smp, DEPLOYMENT_KEYS) == {
        "metadata": {"labels": {"b": "2"}},
        "spec": {"replicas": 3},
    }


def test_custom_resources_merge_like_merge_patch_without_directives() -> None:
    obj = {"spec": {"items": [{"name": "a", "v": 1}], "keep": True}}
    smp = {
        "spec": {
            "items": [
                {"name": "b", "$patch": "merge"},
                {"name": "a", "$patch": "delete"},
                {"$patch": "replace"},
            ],
            "$setElementOrder/items": [{"name": "b"}],
        }
    }
    assert patch.strategic_merge_patch(obj, smp, None) == {"spec": {"items": [{"name": "b"}], "keep": True}}


@pytest.mark.parametrize(
    ("smp", "message"),
    [
        (
            {"spec": {"containers": [{"image": "x"}]}},
            'spec.containers\\[0\\]: the item does not contain the merge key "name"',
        ),
        ({"spec": {"containers": ["x"]}}, "must be objects"),
        ({"spec": {"$patch": "frobnicate"}}, 'spec: unknown "\\$patch" directive'),
        ({"metadata": {"finalizers": [{"a": 1}]}}, "merged as a set cannot hold objects"),
        ({"spec": {"$retainKeys": "x"}}, "must be a list of field names"),
    ],
)
def test_strategic_merge_errors_name_the_field(smp: Any, message: str) -> None:
    with pytest.raises(MalformedPatch, match=message):
        patch.strategic_merge_patch(_pod({"name": "a"}), smp, POD_KEYS)


def test_strategic_merge_treats_non_string_keys_from_yaml_as_plain_fields() -> None:
    result = patch.strategic_merge_patch({"data": {1: "a"}}, {"data": {2: "b", 1: None}}, None)
    assert result == {"data": {2: "b"}}


def test_strategic_merge_patch_must_be_an_object() -> None:
    with pytest.raises(MalformedPatch, match="must be a JSON object, got array"):
        patch.strategic_merge_patch({}, [{"op": "add"}], None)


# --------------------------------------------------------------------------------------------
# Fuzz: arbitrary JSON never raises anything but PatchError, and results share nothing with inputs


def _containers(value: Any) -> set[int]:
    """The ids of every dict and list inside a JSON value."""
    if isinstance(value, dict):
        return {id(value)}.union(*(_containers(v) for v in value.values()))
    if isinstance(value, list):
        return {id(value)}.union(*(_containers(v) for v in value))
    return set()


_op_dicts = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "x"])},
    optional={
        "path": st.sampled_from(["", "/", "/a", "/a/0", "/a/-", "/b/c", "/~01", "/a/1", 7])
        | st.text(max_size=4),
        "from": st.sampled_from(["", "/a", "/a/0", "/b"]),
        "value": json_values,
    },
)
_directive_dicts = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    *("name", "a", "containers", "finalizers", "metadata", "spec"),
                    *("$patch", "$retainKeys", "$setElementOrder/a", "$deleteFromPrimitiveList/a"),
                ]
            ),
            inner | st.sampled_from(["replace", "delete", "merge"]),
            max_size=4,
        )
    ),
    max_leaves=15,
)


@settings(max_examples=80, deadline=None)
@given(json_values, st.lists(_op_dicts, max_size=4) | json_values)
def test_json_patch_raises_only_patch_errors(target: Any, ops: Any) -> None:
    before = copy.deepcopy((target, ops))
    with contextlib.suppress(PatchError):
        result = patch.json_patch(target, ops)
        assert not _containers(result) & (_containers(target) | _containers(ops))
    assert (target, ops) == before


@settings(max_examples=80, deadline=None)
@given(json_values | _directive_dicts, _directive_dicts, st.sampled_from([None, "Pod", "Deployment"]))
def test_strategic_and_merge_patch_raise_only_patch_errors(target: Any, smp: Any, kind: str | None) -> None:
    keys = None if kind is None else patch.merge_keys_for("apps/v1" if kind == "Deployment" else "v1", kind)
    before = copy.deepcopy((target, smp))
    inputs = _containers(target) | _containers(smp)
    assert not _containers(patch.merge_patch(target, smp)) & inputs
    try:
        result = patch.strategic_merge_patch(target, smp, keys)
    except PatchError:
        pass
    else:
        assert not _containers(result) & inputs
        if "$" not in json.dumps(target):
            assert "$patch" not in json.dumps(result)
    assert (target, smp) == before


def test_a_kubectl_apply_patch_removing_an_env_var_and_switching_a_volume_source() -> None:
    live = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
        "spec": {
            "replicas": 2,
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "a:1",
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                        },
                        {"name": "injected-by-someone-else", "image": "s:1"},
                    ],
                    "volumes": [{"name": "v", "emptyDir": {}}],
                }
            },
        },
    }
    # The shape kubectl's client-side apply sends for these edits.
    smp = {
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}"}},
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "app"}],
                    "$setElementOrder/volumes": [{"name": "v"}],
                    "containers": [
                        {
                            "$setElementOrder/env": [{"name": "A"}],
                            "env": [{"$patch": "delete", "name": "B"}],
                            "image": "a:2",
                            "name": "app",
                        }
                    ],
                    "volumes": [
                        {"$retainKeys": ["configMap", "name"], "configMap": {"name": "c"}, "name": "v"}
                    ],
                }
            }
        },
    }
    result = patch.strategic_merge_patch(live, smp, DEPLOYMENT_KEYS)
    spec = result["spec"]["template"]["spec"]
    assert spec["containers"] == [
        {"name": "app", "image": "a:2", "env": [{"name": "A", "value": "1"}]},
        {"name": "injected-by-someone-else", "image": "s:1"},
    ]
    assert spec["volumes"] == [{"name": "v", "configMap": {"name": "c"}}]
    assert result["spec"]["replicas"] == 2
    assert result["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] == "{...}"


def test_set_element_order_on_a_primitive_list() -> None:
    obj = {"metadata": {"finalizers": ["a", "b", "c"]}}
    smp = {"metadata": {"$setElementOrder/finalizers": ["c", "a"], "finalizers": ["c", "a"]}}
    assert patch.strategic_merge_patch(obj, smp, POD_KEYS) == {"metadata": {"finalizers": ["b", "c", "a"]}}


@pytest.mark.parametrize(
    ("live", "patched", "order", "expected"),
    [
        # No directive: patch items in patch order, live-only items around them by live position.
        (["a", "b"], ["c"], None, ["c", "a", "b"]),
        (["a", "b"], ["b"], None, ["a", "b"]),
        (["a", "b", "c"], ["c", "a"], None, ["b", "c", "a"]),
        (["a", "b", "c"], ["b", "d"], None, ["a", "b", "d", "c"]),
        # $setElementOrder wins over both.
        (["a", "b"], ["c"], ["a", "c", "b"], ["a", "c", "b"]),
        (["a", "b", "c"], [], ["c", "b", "a"], ["c", "b", "a"]),
    ],
)
def test_merged_list_order_follows_kube(
    live: list[str], patched: list[str], order: list[str] | None, expected: list[str]
) -> None:
    obj = {"spec": {"containers": [{"name": n} for n in live]}}
    spec: dict[str, Any] = {"containers": [{"name": n, "image": "new"} for n in patched]}
    if order is not None:
        spec["$setElementOrder/containers"] = [{"name": n} for n in order]
    result = patch.strategic_merge_patch(obj, {"spec": spec}, POD_KEYS)
    assert [c["name"] for c in result["spec"]["containers"]] == expected


def test_set_element_order_must_list_the_patch_items_in_order() -> None:
    smp = {"spec": {"$setElementOrder/containers": [{"name": "a"}], "containers": [{"name": "b"}]}}
    with pytest.raises(MalformedPatch, match="missing from the order list"):
        patch.strategic_merge_patch(_pod({"name": "a"}), smp, POD_KEYS)
