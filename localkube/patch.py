"""The three PATCH bodies kube-apiserver accepts, as pure functions over decoded JSON.

- `merge_patch`: RFC 7386 (application/merge-patch+json).
- `json_patch`: RFC 6902 (application/json-patch+json).
- `strategic_merge_patch`: Kubernetes' strategic merge (application/strategic-merge-patch+json),
  driven by the `MergeKeys` that `merge_keys_for(apiVersion, kind)` returns for built-in kinds.

None of them mutates its inputs; each returns a fresh document sharing nothing with them.
Errors: `MalformedPatch` when the patch document itself is wrong (kube answers 400), `PatchError`
when a well-formed patch cannot apply to this object (kube answers 422 for JSON patch), and
`PatchTestFailed` when a JSON patch `test` op fails (422).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from localkube import jsonpath
from localkube.jsonpath import PointerError, deep_copy, json_equal, type_name


class PatchError(ValueError):
    """A patch that cannot be applied; str(err) is the message to show the client."""


class MalformedPatch(PatchError):
    """The patch document itself is wrong (not a list of ops, unknown op, bad pointer): a 400."""


class PatchTestFailed(PatchError):
    """A JSON patch `test` operation did not hold: a 422 the client may retry after a re-read."""


# ---------------------------------------------------------------------------------------------
# Reading a patch body


def parse_patch_body(raw: bytes | str) -> Any:
    """Decode a JSON patch body, rejecting duplicate member names (RFC 6902 A.13) as malformed."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise MalformedPatch(f'the patch repeats the member "{key}" in one object')
            result[key] = value
        return result

    try:
        return json.loads(raw, object_pairs_hook=no_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise MalformedPatch(f"the patch is not valid JSON: {err}") from None


# ---------------------------------------------------------------------------------------------
# RFC 7386


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 JSON merge patch: null deletes, objects merge, anything else replaces."""
    if not isinstance(patch, dict):
        return deep_copy(patch)
    source = target if isinstance(target, dict) else {}
    result = {k: deep_copy(v) for k, v in source.items() if k not in patch}
    for key, value in patch.items():
        if value is None:
            continue
        result[key] = merge_patch(source.get(key), value)
    # Keep the target's key order for keys that stay, then new keys (stable, readable output).
    ordered = {k: result[k] for k in source if k in result}
    ordered.update((k, v) for k, v in result.items() if k not in ordered)
    return ordered


# ---------------------------------------------------------------------------------------------
# RFC 6902

_OPS: Final = ("add", "remove", "replace", "move", "copy", "test")


def json_patch(target: Any, operations: Any) -> Any:
    """Apply an RFC 6902 JSON patch atomically: all operations, or an error and no result."""
    if not isinstance(operations, list):
        raise MalformedPatch(
            f"a JSON patch must be an array of operation objects, got {type_name(operations)}"
        )
    document = deep_copy(target)
    for index, operation in enumerate(operations):
        document = _apply_operation(document, index, operation)
    return document


def _apply_operation(document: Any, index: int, operation: Any) -> Any:
    if not isinstance(operation, dict):
        raise MalformedPatch(f"operation {index}: must be an object, got {type_name(operation)}")
    op = operation.get("op")
    if op not in _OPS:
        shown = json.dumps(op) if "op" in operation else "nothing"
        raise MalformedPatch(f'operation {index}: "op" is {shown}, expected one of {", ".join(_OPS)}')
    if "path" not in operation:
        raise MalformedPatch(f'operation {index} ({op}): missing member "path"')
    where = f"operation {index} ({op} {json.dumps(operation['path'])})"
    try:
        path = jsonpath.parse_pointer(operation["path"])
    except PointerError as err:
        raise MalformedPatch(f"{where}: {err}") from None

    if op in ("add", "replace", "test") and "value" not in operation:
        raise MalformedPatch(f'{where}: missing member "value"')
    source: tuple[str, ...] = ()
    if op in ("move", "copy"):
        if "from" not in operation:
            raise MalformedPatch(f'{where}: missing member "from"')
        try:
            source = jsonpath.parse_pointer(operation["from"])
        except PointerError as err:
            raise MalformedPatch(f'{where}: "from": {err}') from None

    try:
        if op == "add":
            return jsonpath.set_at(document, path, deep_copy(operation["value"]), insert=True)
        if op == "replace":
            return jsonpath.set_at(document, path, deep_copy(operation["value"]), insert=False)
        if op == "remove":
            jsonpath.remove_at(document, path)
            return document
        if op == "test":
            _test(document, path, operation["value"], where)
            return document
        if op == "copy":
            value = deep_copy(jsonpath.resolve(document, source))
            return jsonpath.set_at(document, path, value, insert=True)
        # move
        if path == source:
            jsonpath.resolve(document, source)  # must still exist
            return document
        if path[: len(source)] == source:
            raise PatchError(f'{where}: cannot move "{operation["from"]}" into one of its own children')
        value = jsonpath.remove_at(document, source)
        return jsonpath.set_at(document, path, value, insert=True)
    except PointerError as err:
        raise PatchError(f"{where}: {err}") from None


def _test(document: Any, path: tuple[str, ...], expected: Any, where: str) -> None:
    try:
        actual = jsonpath.resolve(document, path)
    except PointerError as err:
        raise PatchTestFailed(f"{where}: test failed: {err}") from None
    if not json_equal(actual, expected):
        raise PatchTestFailed(
            f"{where}: test failed: the value is {_short(actual)}, the patch expects {_short(expected)}"
        )


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------------------------
# Strategic merge: which lists merge, and by what


@dataclass(frozen=True)
class ListMerge:
    """How strategic merge combines one list field: by `merge_key`, or as a set of scalars."""

    merge_key: str | None = None  # None: a list of scalars merged as a set (e.g. finalizers)


@dataclass(frozen=True)
class MergeKeys:
    """The list fields of one kind that strategic merge merges instead of replacing.

    Keys are field paths from the object root naming fields only: stepping into a list item
    adds no step, so `("spec", "containers", "env")` is the env list of every container.
    """

    lists: Mapping[tuple[str, ...], ListMerge] = field(default_factory=lambda: MappingProxyType({}))

    def at(self, path: tuple[str, ...]) -> ListMerge | None:
        return self.lists.get(path)


_SET = ListMerge(None)


def _by(key: str) -> ListMerge:
    return ListMerge(key)


def _metadata(prefix: tuple[str, ...]) -> dict[tuple[str, ...], ListMerge]:
    meta = (*prefix, "metadata")
    return {(*meta, "finalizers"): _SET, (*meta, "ownerReferences"): _by("uid")}


def _pod_spec(prefix: tuple[str, ...]) -> dict[tuple[str, ...], ListMerge]:
    table: dict[tuple[str, ...], ListMerge] = {
        (*prefix, "volumes"): _by("name"),
        (*prefix, "imagePullSecrets"): _by("name"),
        (*prefix, "hostAliases"): _by("ip"),
        (*prefix, "topologySpreadConstraints"): _by("topologyKey"),
        (*prefix, "resourceClaims"): _by("name"),
        (*prefix, "schedulingGates"): _by("name"),
    }
    for containers in ("containers", "initContainers", "ephemeralContainers"):
        c = (*prefix, containers)
        table[c] = _by("name")
        table[(*c, "env")] = _by("name")
        table[(*c, "ports")] = _by("containerPort")
        table[(*c, "volumeMounts")] = _by("mountPath")
        table[(*c, "volumeDevices")] = _by("devicePath")
    return table


def _pod_template(prefix: tuple[str, ...]) -> dict[tuple[str, ...], ListMerge]:
    return {**_metadata(prefix), **_pod_spec((*prefix, "spec"))}


def _conditions() -> dict[tuple[str, ...], ListMerge]:
    return {("status", "conditions"): _by("type")}


def _workload() -> dict[tuple[str, ...], ListMerge]:
    return {**_pod_template(("spec", "template")), **_conditions()}


# (API group, kind) -> the kind's merge lists, without the object's own metadata (added to all).
_LISTS_BY_KIND: Final[Mapping[tuple[str, str], dict[tuple[str, ...], ListMerge]]] = MappingProxyType(
    {
        ("", "Pod"): {
            **_pod_spec(("spec",)),
            **_conditions(),
            ("status", "podIPs"): _by("ip"),
            ("status", "hostIPs"): _by("ip"),
        },
        ("", "PodTemplate"): _pod_template(("template",)),
        ("", "ReplicationController"): _workload(),
        ("", "Service"): {("spec", "ports"): _by("port"), **_conditions()},
        ("", "Namespace"): _conditions(),
        ("", "Node"): {**_conditions(), ("status", "addresses"): _by("type")},
        ("", "PersistentVolumeClaim"): _conditions(),
        ("", "ServiceAccount"): {("secrets",): _by("name")},
        ("", "ConfigMap"): {},
        ("", "Secret"): {},
        ("", "Endpoints"): {},
        ("", "Event"): {},
        ("", "ResourceQuota"): {},
        ("", "LimitRange"): {},
        ("events.k8s.io", "Event"): {},
        ("scheduling.k8s.io", "PriorityClass"): {},
        ("storage.k8s.io", "StorageClass"): {},
        ("apps", "Deployment"): _workload(),
        ("apps", "ReplicaSet"): _workload(),
        ("apps", "StatefulSet"): _workload(),
        ("apps", "DaemonSet"): _workload(),
        ("batch", "Job"): _workload(),
        ("batch", "CronJob"): _pod_template(("spec", "jobTemplate", "spec", "template")),
        ("coordination.k8s.io", "Lease"): {},
        ("apiextensions.k8s.io", "CustomResourceDefinition"): _conditions(),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): {("webhooks",): _by("name")},
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): {("webhooks",): _by("name")},
        ("rbac.authorization.k8s.io", "Role"): {},
        ("rbac.authorization.k8s.io", "ClusterRole"): {},
        ("rbac.authorization.k8s.io", "RoleBinding"): {},
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"): {},
        ("policy", "PodDisruptionBudget"): _conditions(),
        ("networking.k8s.io", "Ingress"): {},
        ("networking.k8s.io", "IngressClass"): {},
        ("networking.k8s.io", "NetworkPolicy"): {},
        ("autoscaling", "HorizontalPodAutoscaler"): _conditions(),
        ("discovery.k8s.io", "EndpointSlice"): {},
    }
)
_BUILTIN_LISTS: Final[Mapping[tuple[str, str], Mapping[tuple[str, ...], ListMerge]]] = MappingProxyType(
    {kind: MappingProxyType(lists) for kind, lists in _LISTS_BY_KIND.items()}
)


def merge_keys_for(api_version: str, kind: str) -> MergeKeys | None:
    """The strategic-merge table of a built-in kind, or None (custom resources, unknown kinds)."""
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    lists = _BUILTIN_LISTS.get((group, kind))
    if lists is None:
        return None
    return MergeKeys(MappingProxyType({**_metadata(()), **lists}))


# ---------------------------------------------------------------------------------------------
# Strategic merge: the algorithm

_PATCH: Final = "$patch"
_RETAIN_KEYS: Final = "$retainKeys"
_ORDER: Final = "$setElementOrder/"
_DELETE_PRIMITIVES: Final = "$deleteFromPrimitiveList/"


def strategic_merge_patch(target: Any, patch: Any, merge_keys: MergeKeys | None) -> Any:
    """Apply a Kubernetes strategic merge patch (a JSON object) to an object.

    Lists named in `merge_keys` merge by their key (or as sets of scalars); all other lists are
    replaced. With `merge_keys=None` every list is replaced, as in a merge patch. Directives
    (`$patch`, `$retainKeys`, `$setElementOrder/…`, `$deleteFromPrimitiveList/…`) are applied
    and never appear in the result. Merged lists are ordered as kube-apiserver orders them
    (k8s.io/apimachinery strategicpatch): `$setElementOrder` first, then the patch's order,
    then the live order, so an item new to a list without an order directive comes first.
    """
    if not isinstance(patch, dict):
        raise MalformedPatch(f"a strategic merge patch must be a JSON object, got {type_name(patch)}")
    return _merge_map(target, patch, (), merge_keys)


def _field_path(path: tuple[str, ...]) -> str:
    return ".".join(path) or "the object"


def _is_directive(key: str) -> bool:
    # Keys are strings in JSON; a YAML-decoded body may hold others, which are plain fields.
    return isinstance(key, str) and (
        key in (_PATCH, _RETAIN_KEYS) or key.startswith((_ORDER, _DELETE_PRIMITIVES))
    )


def _merge_map(
    original: Any, patch: dict[str, Any], path: tuple[str, ...], keys: MergeKeys | None
) -> dict[str, Any]:
    directive = patch.get(_PATCH, "merge")
    if directive == "delete":
        return {}  # kube leaves an empty map where the deleted one was
    if directive == "replace":
        original = None
    elif directive != "merge":
        raise MalformedPatch(
            f'{_field_path(path)}: unknown "$patch" directive {_short(directive)} '
            "(expected merge, replace or delete)"
        )
    source = original if isinstance(original, dict) else {}
    if _RETAIN_KEYS in patch:
        # kube clears the live fields the directive does not list, then merges the patch.
        retain = patch[_RETAIN_KEYS]
        if not isinstance(retain, list) or not all(isinstance(k, str) for k in retain):
            raise MalformedPatch(f"{_field_path((*path, _RETAIN_KEYS))}: must be a list of field names")
        source = {k: v for k, v in source.items() if k in retain}

    # Fields the patch touches are built from the original below; only the others are copied here
    # (the placeholder keeps the original's key order and is always overwritten or removed).
    result = {k: v if k in patch and not _is_directive(k) else deep_copy(v) for k, v in source.items()}
    ordered = _merge_ordered_lists(source, patch, path, keys, result)
    for key, value in patch.items():
        if _is_directive(key) or key in ordered:
            continue
        child = (*path, key)
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            result[key] = _merge_map(source.get(key), value, child, keys)
        elif isinstance(value, list):
            result[key] = _merge_list(source.get(key), value, child, keys)
        else:
            result[key] = value

    for key, values in patch.items():
        if isinstance(key, str) and key.startswith(_DELETE_PRIMITIVES):
            name = key[len(_DELETE_PRIMITIVES) :]
            if not isinstance(values, list):
                raise MalformedPatch(f"{_field_path((*path, key))}: must be a list of values to delete")
            if isinstance(result.get(name), list):
                result[name] = [x for x in result[name] if not any(json_equal(x, v) for v in values)]
    return result


def _merge_ordered_lists(
    source: dict[str, Any],
    patch: dict[str, Any],
    path: tuple[str, ...],
    keys: MergeKeys | None,
    result: dict[str, Any],
) -> set[str]:
    """Merge the lists that carry a `$setElementOrder`, into `result`; returns their names."""
    done: set[str] = set()
    for key, order in patch.items():
        if not (isinstance(key, str) and key.startswith(_ORDER)):
            continue
        name = key[len(_ORDER) :]
        where = (*path, key)
        if not isinstance(order, list):
            raise MalformedPatch(f"{_field_path(where)}: must be a list")
        strategy = keys.at((*path, name)) if keys is not None else None
        if strategy is None:
            continue  # a list that is replaced: the patch's own order is the order
        live = source.get(name) if isinstance(source.get(name), list) else None
        patched = patch.get(name) if isinstance(patch.get(name), list) else None
        if patched is not None:
            _check_order(patched, order, strategy, where)
            merged = _merge_list(live, patched, (*path, name), keys)
        elif live is not None:
            merged = deep_copy(live)
        else:
            continue
        wanted = [_identity(o, strategy) for o in order]
        result[name] = _normalize_order(merged, wanted, live or [], strategy)
        done.add(name)
    return done


def _identity(item: Any, strategy: ListMerge) -> Any:
    if strategy.merge_key is None:
        return item
    return item.get(strategy.merge_key) if isinstance(item, dict) else None


def _position(identities: list[Any], identity: Any) -> int:
    return next((i for i, x in enumerate(identities) if json_equal(x, identity)), -1)


def _check_order(patched: list[Any], order: list[Any], strategy: ListMerge, where: tuple[str, ...]) -> None:
    """As kube: the patch's items must appear in the order list, in the same relative order."""
    kept = [i for i in patched if not (isinstance(i, dict) and _PATCH in i)]
    wanted = [_identity(o, strategy) for o in order]
    cursor = 0
    for item in kept:
        found = _position(wanted[cursor:], _identity(item, strategy))
        if found < 0:
            raise MalformedPatch(
                f"{_field_path(where)}: the patch list item {_short(item)} is missing from the order list "
                "or out of its order"
            )
        cursor += found + 1


def _merge_sorted(
    server_only: list[Any], patched: list[Any], live: list[Any], strategy: ListMerge
) -> list[Any]:
    """kube's mergeSortedSlice: interleave two ordered lists, by live position where both are live."""
    live_ids = [_identity(x, strategy) for x in live]
    out: list[Any] = []
    i = j = 0
    while i < len(server_only) or j < len(patched):
        if j >= len(patched):
            out.append(server_only[i])
            i += 1
        elif i >= len(server_only):
            out.append(patched[j])
            j += 1
        else:
            left = _position(live_ids, _identity(server_only[i], strategy))
            right = _position(live_ids, _identity(patched[j], strategy))
            if 0 <= left < right:
                out.append(server_only[i])
                i += 1
            else:
                out.append(patched[j])
                j += 1
    return out


def _normalize_order(merged: list[Any], wanted: list[Any], live: list[Any], strategy: ListMerge) -> list[Any]:
    """Items named in `wanted` take its order; the others keep the live order around them."""
    ranked = [(item, _position(wanted, _identity(item, strategy))) for item in merged]
    patched = [item for item, rank in sorted((p for p in ranked if p[1] >= 0), key=lambda p: p[1])]
    server_only = [item for item, rank in ranked if rank < 0]
    return _merge_sorted(server_only, patched, live, strategy)


def _strip(value: Any) -> Any:
    """A copy of a patch value without directives, for lists that replace rather than merge."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not _is_directive(k)}
    if isinstance(value, list):
        return [_strip(v) for v in value if not _is_marker(v)]
    return value


def _is_marker(item: Any) -> bool:
    """A list item that is an instruction, not an element: `{"$patch": "replace"}` or a delete."""
    return isinstance(item, dict) and item.get(_PATCH) in ("replace", "delete")


def _merge_list(original: Any, patch: list[Any], path: tuple[str, ...], keys: MergeKeys | None) -> list[Any]:
    strategy = keys.at(path) if keys is not None else None
    if strategy is None:
        return _strip(patch)  # type: ignore[no-any-return]
    live = list(original) if isinstance(original, list) else []
    if strategy.merge_key is None:
        return _merge_scalars(live, patch, path, strategy)

    key = strategy.merge_key
    items: list[dict[str, Any]] = []
    replace = False
    for position, item in enumerate(patch):
        where = f"{_field_path(path)}[{position}]"
        if not isinstance(item, dict):
            raise MalformedPatch(f'{where}: items of this list must be objects with the merge key "{key}"')
        directive = item.get(_PATCH)
        if directive == "replace":
            replace = True  # kube: the whole list becomes the patch's other items
        elif directive is not None and directive not in ("delete", "merge"):
            raise MalformedPatch(f'{where}: unknown "$patch" directive {_short(directive)}')
        elif key not in item:
            raise MalformedPatch(f'{where}: the item does not contain the merge key "{key}"')
        elif directive == "delete":
            live = [x for x in live if not (isinstance(x, dict) and json_equal(x.get(key), item[key]))]
        else:
            items.append(item)
    if replace:
        return [_merge_map(None, item, path, keys) for item in items]

    merged = deep_copy(live)
    for item in items:
        found = next(
            (i for i, x in enumerate(merged) if isinstance(x, dict) and json_equal(x.get(key), item[key])),
            None,
        )
        if found is None:
            merged.append(_merge_map(None, item, path, keys))
        else:
            merged[found] = _merge_map(merged[found], item, path, keys)
    return _normalize_order(merged, [i[key] for i in items], live, strategy)


def _merge_scalars(
    live: list[Any], patch: list[Any], path: tuple[str, ...], strategy: ListMerge
) -> list[Any]:
    if any(isinstance(i, dict) and i.get(_PATCH) == "replace" for i in patch):
        return [i for i in patch if not isinstance(i, dict)]
    values = [i for i in patch if not (isinstance(i, dict) and set(i) == {_PATCH})]
    for item in values:
        if isinstance(item, dict | list):
            raise MalformedPatch(
                f"{_field_path(path)}: a list of values merged as a set cannot hold {type_name(item)}s"
            )
    merged: list[Any] = []
    for item in live + values:
        if not any(json_equal(item, x) for x in merged):
            merged.append(deep_copy(item))
    return _normalize_order(merged, values, live, strategy)
