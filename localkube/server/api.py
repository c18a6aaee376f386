"""The API's object semantics, independent of HTTP: create, read, update, patch, delete, watch.

This is where kube-apiserver's rules live: uid and timestamps, generation bumped on spec changes
only, optimistic concurrency on resourceVersion, the status and scale subresources, finalizers and
deletionTimestamp, ownerReference garbage collection, namespace deletion, and CRDs registered as
they are written (the registry is updated before the CRD's own watch event goes out).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from localkube import patch as patching
from localkube import selectors, validation
from localkube.server import errors, objects
from localkube.server.defaults import WrongShape, apply_builtin_defaults
from localkube.server.resources import Registry, ResourceType, crd_types
from localkube.server.review import AdmissionRequest
from localkube.server.watch import WatchHub
from localkube.store.sqlite import Change, ObjectKey, Store

log = logging.getLogger("localkube.api")

CRD_GR = "customresourcedefinitions.apiextensions.k8s.io"
NAMESPACE_GR = "namespaces"
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
MAX_RETRIES = 16


class Admission(Protocol):
    async def admit(self, request: AdmissionRequest) -> dict[str, Any] | None: ...


class NoAdmission:
    async def admit(self, request: AdmissionRequest) -> dict[str, Any] | None:
        return request.obj


@dataclass(frozen=True)
class WriteOptions:
    dry_run: bool = False
    field_validation: str = "Strict"  # Ignore | Warn | Strict
    field_manager: str = ""


@dataclass(frozen=True)
class DeleteOptions:
    propagation_policy: str | None = None
    grace_period_seconds: int | None = None
    precondition_uid: str | None = None
    precondition_rv: str | None = None
    dry_run: bool = False


@dataclass(frozen=True)
class WriteResult:
    obj: dict[str, Any]
    created: bool = False
    warnings: tuple[str, ...] = ()


Clock = Callable[[], datetime.datetime]


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class Api:
    def __init__(
        self,
        store: Store,
        registry: Registry,
        *,
        clock: Clock = _utcnow,
        admission: Admission | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.hub = WatchHub()
        self.clock = clock
        self.admission: Admission = admission or NoAdmission()
        self._uids: dict[str, ObjectKey] = {}
        self._dependents: dict[str, set[ObjectKey]] = {}
        self._gc_queue: asyncio.Queue[str] | None = None
        self._gc_task: asyncio.Task[None] | None = None
        self.on_change: list[Callable[[Change], None]] = []
        for key in store.all_keys():
            obj = store.get(key)
            if obj is not None:
                self._index(key, None, obj)
        for crd in list(store.scan(CRD_GR)):
            self._register_crd(crd)

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        self._gc_queue = asyncio.Queue()
        self._gc_task = asyncio.create_task(self._gc_loop(), name="localkube-garbage-collector")
        self._gc_task.add_done_callback(_log_unexpected_exit)
        self.ensure_namespaces(SYSTEM_NAMESPACES)
        self._sweep_orphans()
        for ns in list(self.store.scan(NAMESPACE_GR)):
            if ns.get("metadata", {}).get("deletionTimestamp"):
                self._schedule(ns["metadata"]["uid"])

    async def stop(self) -> None:
        self.hub.close_all()
        if self._gc_task is not None:
            self._gc_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._gc_task
            self._gc_task = None

    def ensure_namespaces(self, names: tuple[str, ...] | list[str]) -> None:
        rt = self._type("", "namespaces")
        for name in names:
            if self.store.get((NAMESPACE_GR, "", name)) is None:
                body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
                self._commit_create(rt, "", self._prepare_new(rt, "", body))

    # -- reads -----------------------------------------------------------------------------
    def get(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        obj = self.store.get(self._key(rt, namespace, name))
        if obj is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return self.present(rt, obj)

    def list_objects(
        self,
        rt: ResourceType,
        namespace: str | None,
        label_selector: selectors.LabelSelector | None = None,
        field_selector: selectors.FieldSelector | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        ns = namespace if rt.namespaced else None
        candidates: Iterator[dict[str, Any]]
        wanted_name = field_selector.exact("metadata.name") if field_selector else None
        if wanted_name is not None and (ns is not None or not rt.namespaced):
            one = self.store.get(self._key(rt, ns or "", wanted_name))
            candidates = iter([one] if one is not None else [])
        else:
            candidates = self.store.scan(rt.group_resource, ns)
        items = [
            self.present(rt, obj) for obj in candidates if self.matches(obj, label_selector, field_selector)
        ]
        items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"].get("name", "")))
        return items, self.store.resource_version

    @staticmethod
    def matches(
        obj: dict[str, Any],
        label_selector: selectors.LabelSelector | None,
        field_selector: selectors.FieldSelector | None,
    ) -> bool:
        if label_selector is not None and not label_selector.matches(
            obj.get("metadata", {}).get("labels") or {}
        ):
            return False
        return field_selector is None or field_selector.matches(obj)

    def present(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """The object as served at rt's version (a shallow copy with apiVersion and kind set)."""
        if obj.get("apiVersion") == rt.api_version and obj.get("kind") == rt.kind:
            return obj
        out = dict(obj)
        out["apiVersion"] = rt.api_version
        out["kind"] = rt.kind
        return out

    # -- create ----------------------------------------------------------------------------
    async def create(
        self, rt: ResourceType, namespace: str, body: Any, opts: WriteOptions = WriteOptions()
    ) -> WriteResult:
        body = self._check_body(rt, namespace, body)
        self._check_namespace_open(rt, namespace)
        obj = self._prepare_new(rt, namespace, body)
        warnings = self._validate(rt, obj, opts, old=None)
        name = obj["metadata"]["name"]
        admitted = await self.admission.admit(
            AdmissionRequest("CREATE", rt, None, namespace, name, obj, None, opts.dry_run)
        )
        obj = admitted if admitted is not None else obj
        if self.store.get(self._key(rt, namespace, name)) is not None:
            raise errors.already_exists(rt.plural, rt.group, name)
        self._check_namespace_open(rt, namespace)
        if opts.dry_run:
            return WriteResult(self.present(rt, obj), created=True, warnings=warnings)
        self._commit_create(rt, namespace, obj)
        return WriteResult(self.present(rt, obj), created=True, warnings=warnings)

    def _prepare_new(self, rt: ResourceType, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        obj = objects.clone_object(body)
        md = objects.meta(obj)
        if not md.get("name"):
            prefix = md.get("generateName")
            if not prefix:
                raise errors.invalid(
                    rt.kind,
                    rt.group,
                    "",
                    [
                        errors.StatusCause(
                            "metadata.name",
                            "FieldValueRequired",
                            "Required value: name or generateName is required",
                        )
                    ],
                )
            md["name"] = f"{prefix}{uuid.uuid4().hex[:5]}"
        if rt.namespaced:
            md["namespace"] = namespace
        else:
            md.pop("namespace", None)
        md["uid"] = str(uuid.uuid4())
        md["creationTimestamp"] = objects.rfc3339(self.clock())
        if _tracks_generation(rt):
            md["generation"] = 1
        else:
            md.pop("generation", None)
        for key in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion", "selfLink"):
            md.pop(key, None)
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        if rt.status and rt.from_crd:
            obj.pop("status", None)
        if not rt.from_crd:
            _defaults(rt, obj)
        if rt.plural == "pods" and not rt.group:
            status = obj.setdefault("status", {})
            if isinstance(status, dict):
                status.setdefault("phase", "Pending")
                status.setdefault("qosClass", "BestEffort")
        if rt.schema is not None:
            defaulted: dict[str, Any] = validation.apply_schema_defaults(rt.schema, obj)
            return defaulted
        return obj

    def _commit_create(self, rt: ResourceType, namespace: str, obj: dict[str, Any]) -> Change:
        key = self._key(rt, namespace, obj["metadata"]["name"])
        return self._write("ADDED", rt, key, obj)

    # -- update and patch --------------------------------------------------------------------
    async def update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        subresource: str | None = None,
        opts: WriteOptions = WriteOptions(),
    ) -> WriteResult:
        checked = self._check_body(rt, namespace, body, name=name, subresource=subresource)
        wanted_rv = (checked.get("metadata") or {}).get("resourceVersion")

        def mutate(current: dict[str, Any]) -> dict[str, Any]:
            if wanted_rv and str(wanted_rv) != current["metadata"].get("resourceVersion"):
                raise errors.conflict(rt.plural, rt.group, name)
            return objects.clone_object(checked)

        return await self._guaranteed_update(rt, namespace, name, subresource, opts, mutate)

    async def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        patch_type: str,
        patch_body: Any,
        subresource: str | None = None,
        opts: WriteOptions = WriteOptions(),
    ) -> WriteResult:
        key = self._key(rt, namespace, name)
        if patch_type == "apply" and self.store.get(key) is None and subresource is None:
            if not isinstance(patch_body, dict):
                raise errors.bad_request("an apply patch must be an object")
            body = dict(patch_body)
            body.setdefault("metadata", {})
            body["metadata"] = dict(body["metadata"])
            body["metadata"].setdefault("name", name)
            return await self.create(rt, namespace, body, opts)
        merge_keys = None if rt.from_crd else patching.merge_keys_for(rt.api_version, rt.kind)

        def mutate(current: dict[str, Any]) -> dict[str, Any]:
            base = current
            if subresource == "scale":
                base = self._scale_of(rt, current)
            try:
                if patch_type == "json":
                    patched = patching.json_patch(base, patch_body)
                elif patch_type == "merge":
                    if not isinstance(patch_body, dict):
                        raise errors.bad_request(
                            "a merge patch must be a JSON object; to send a list of operations use "
                            "Content-Type application/json-patch+json"
                        )
                    patched = patching.merge_patch(base, patch_body)
                elif patch_type == "strategic":
                    if not isinstance(patch_body, dict):
                        raise errors.bad_request("a strategic merge patch must be a JSON object")
                    patched = patching.strategic_merge_patch(base, patch_body, merge_keys)
                elif patch_type == "apply":
                    if not isinstance(patch_body, dict):
                        raise errors.bad_request("an apply patch must be an object")
                    patched = _apply_as_merge(base, patch_body)
                else:
                    raise errors.unsupported_media_type(patch_type)
            except patching.MalformedPatch as exc:
                raise errors.bad_request(
                    f"the server rejected our request due to an error in our request: {exc}"
                ) from exc
            except patching.PatchError as exc:
                # A well-formed patch that does not apply (a failed test, a missing path): kube says 422.
                raise errors.ApiError(
                    422, "Invalid", f"the server rejected our request due to an error in our request: {exc}"
                ) from exc
            if not isinstance(patched, dict):
                raise errors.bad_request("the patch did not produce an object")
            patched_rv = (patched.get("metadata") or {}).get("resourceVersion")
            if patched_rv and str(patched_rv) != base.get("metadata", {}).get("resourceVersion"):
                raise errors.conflict(rt.plural, rt.group, name)
            return patched

        return await self._guaranteed_update(rt, namespace, name, subresource, opts, mutate)

    async def _guaranteed_update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        subresource: str | None,
        opts: WriteOptions,
        mutate: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> WriteResult:
        key = self._key(rt, namespace, name)
        for _ in range(MAX_RETRIES):
            current = self.store.get(key)
            if current is None:
                raise errors.not_found(rt.plural, rt.group, name)
            proposed = mutate(objects.clone_object(current))
            new = self._merge_update(rt, current, proposed, subresource)
            warnings = self._validate(rt, new, opts, old=current)
            operation_sub = subresource if subresource in ("status", "scale") else None
            admitted = await self.admission.admit(
                AdmissionRequest("UPDATE", rt, operation_sub, namespace, name, new, current, opts.dry_run)
            )
            new = admitted if admitted is not None else new
            if self.store.get(key) is not current:
                continue  # someone wrote in between: recompute from what is there now
            if objects.same_ignoring_rv(current, new):
                return WriteResult(self._served_sub(rt, current, subresource), warnings=warnings)
            if opts.dry_run:
                return WriteResult(self._served_sub(rt, new, subresource), warnings=warnings)
            self._write_update(rt, key, current, new)
            stored = self.store.get(key) or new
            return WriteResult(self._served_sub(rt, stored, subresource), warnings=warnings)
        raise errors.conflict(rt.plural, rt.group, name, "too many concurrent writers, try again")

    def _served_sub(self, rt: ResourceType, obj: dict[str, Any], subresource: str | None) -> dict[str, Any]:
        if subresource == "scale":
            return self._scale_of(rt, obj)
        return self.present(rt, obj)

    def _merge_update(
        self, rt: ResourceType, current: dict[str, Any], proposed: dict[str, Any], subresource: str | None
    ) -> dict[str, Any]:
        """The object to store: the proposal, less what this endpoint may not change."""
        if subresource == "scale":
            if rt.scale is None:
                raise errors.path_not_found()
            replicas = (proposed.get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                raise errors.invalid(
                    "Scale",
                    "autoscaling",
                    current["metadata"]["name"],
                    [
                        errors.StatusCause(
                            "spec.replicas",
                            "FieldValueInvalid",
                            f"Invalid value: {replicas!r}: must be greater than or equal to 0",
                        )
                    ],
                )
            new = objects.clone_object(current)
            _set_path(new, rt.scale.spec_replicas, replicas)
        elif subresource == "status":
            new = objects.clone_object(current)
            if "status" in proposed:
                new["status"] = proposed["status"]
            else:
                new.pop("status", None)
            # kube lets a status write carry metadata label/annotation changes only for some kinds;
            # we keep metadata as it is, which is what CRD status subresources do.
        else:
            new = proposed
            if rt.status:
                if "status" in current:
                    new["status"] = current["status"]
                else:
                    new.pop("status", None)
        new["apiVersion"] = rt.api_version
        new["kind"] = rt.kind
        md = objects.meta(new)
        old_md = current["metadata"]
        for fixed in (
            "uid",
            "creationTimestamp",
            "name",
            "namespace",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ):
            if fixed in old_md:
                md[fixed] = old_md[fixed]
            else:
                md.pop(fixed, None)
        md["resourceVersion"] = old_md.get("resourceVersion")
        if old_md.get("deletionTimestamp"):
            added = set(md.get("finalizers") or []) - set(old_md.get("finalizers") or [])
            if added:
                raise errors.ApiError(
                    422,
                    "Invalid",
                    f'{rt.kind} "{old_md["name"]}" is invalid: metadata.finalizers: '
                    f"Forbidden: no new finalizers can be added if the object is being deleted, "
                    f"found new finalizers {sorted(added)}",
                )
        if not md.get("finalizers"):
            md.pop("finalizers", None)
        if not rt.from_crd and subresource is None:
            _defaults(rt, new)
        if _tracks_generation(rt) and objects.spec_part(new) != objects.spec_part(current):
            md["generation"] = int(old_md.get("generation", 1)) + 1
        return new

    def _write_update(
        self, rt: ResourceType, key: ObjectKey, current: dict[str, Any], new: dict[str, Any]
    ) -> None:
        md = new["metadata"]
        # As kube's store: an update removes an object being deleted once it has no finalizers,
        # unless a grace period still runs (a pod whose kubelet has not confirmed yet).
        if (
            md.get("deletionTimestamp")
            and not md.get("finalizers")
            and not md.get("deletionGracePeriodSeconds")
        ):
            self._remove(rt, key, new)
            return
        self._write("MODIFIED", rt, key, new)
        if md.get("deletionTimestamp") and "foregroundDeletion" in (md.get("finalizers") or []):
            self._schedule(md["uid"])

    # -- scale subresource --------------------------------------------------------------------
    def get_scale(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        obj = self.store.get(self._key(rt, namespace, name))
        if obj is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return self._scale_of(rt, obj)

    def _scale_of(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        if rt.scale is None:
            raise errors.path_not_found()
        md = obj["metadata"]
        spec_replicas = _get_path(obj, rt.scale.spec_replicas)
        status_replicas = _get_path(obj, rt.scale.status_replicas)
        status: dict[str, Any] = {"replicas": status_replicas if isinstance(status_replicas, int) else 0}
        if rt.scale.label_selector:
            selector = _get_path(obj, rt.scale.label_selector)
            if isinstance(selector, str):
                status["selector"] = selector
        if not rt.from_crd:
            spec_selector = (obj.get("spec") or {}).get("selector")
            if isinstance(spec_selector, dict):
                with contextlib.suppress(TypeError, AttributeError):
                    status["selector"] = _selector_string(spec_selector)
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: md[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in md
            },
            "spec": {"replicas": spec_replicas if isinstance(spec_replicas, int) else 0},
            "status": status,
        }

    # -- delete ------------------------------------------------------------------------------
    async def delete(
        self, rt: ResourceType, namespace: str, name: str, opts: DeleteOptions = DeleteOptions()
    ) -> tuple[dict[str, Any], bool]:
        """Delete; returns (object, removed_now)."""
        key = self._key(rt, namespace, name)
        current = self.store.get(key)
        if current is None:
            raise errors.not_found(rt.plural, rt.group, name)
        md = current["metadata"]
        if opts.precondition_uid and opts.precondition_uid != md.get("uid"):
            raise errors.conflict(
                rt.plural,
                rt.group,
                name,
                f"Precondition failed: UID in precondition: {opts.precondition_uid}, "
                f"UID in object meta: {md.get('uid')}",
            )
        if opts.precondition_rv and opts.precondition_rv != md.get("resourceVersion"):
            raise errors.conflict(rt.plural, rt.group, name)
        await self.admission.admit(
            AdmissionRequest("DELETE", rt, None, namespace, name, None, current, opts.dry_run)
        )
        if opts.dry_run:
            return self.present(rt, current), False
        current = self.store.get(key)
        if current is None:
            raise errors.not_found(rt.plural, rt.group, name)
        new = objects.clone_object(current)
        nmd = new["metadata"]
        now = self.clock()
        policy = opts.propagation_policy or "Background"
        if policy not in ("Background", "Foreground", "Orphan"):
            raise errors.bad_request(
                f"unsupported propagationPolicy {policy!r}: use Background, Foreground or Orphan"
            )

        if rt.group_resource == NAMESPACE_GR and not rt.group:
            if name in ("default", "kube-system", "kube-public"):
                raise errors.forbidden(f'namespaces "{name}" is forbidden: this namespace may not be deleted')
            if nmd.get("deletionTimestamp"):
                return self.present(rt, current), False
            nmd["deletionTimestamp"] = objects.rfc3339(now)
            nmd["deletionGracePeriodSeconds"] = 0
            new.setdefault("status", {})["phase"] = "Terminating"
            self._write("MODIFIED", rt, key, new)
            self._schedule(nmd["uid"])
            return self.present(rt, new), False

        if rt.plural == "pods" and not rt.group and self._graceful_pod(new, opts):
            if nmd.get("deletionTimestamp"):
                return self.present(rt, current), False
            grace = opts.grace_period_seconds
            if grace is None:
                grace = int((new.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
            nmd["deletionTimestamp"] = objects.rfc3339(now + datetime.timedelta(seconds=grace))
            nmd["deletionGracePeriodSeconds"] = grace
            self._write("MODIFIED", rt, key, new)
            return self.present(rt, new), False

        if policy == "Orphan":
            self._orphan_dependents(nmd["uid"])
        if policy == "Foreground" and self._dependents.get(nmd["uid"]):
            finalizers = list(nmd.get("finalizers") or [])
            if "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            nmd["finalizers"] = finalizers
        if nmd.get("finalizers"):
            if not nmd.get("deletionTimestamp"):
                nmd["deletionTimestamp"] = objects.rfc3339(now)
                nmd["deletionGracePeriodSeconds"] = 0
            if objects.same_ignoring_rv(current, new):
                return self.present(rt, current), False
            self._write("MODIFIED", rt, key, new)
            if "foregroundDeletion" in nmd["finalizers"]:
                self._schedule(nmd["uid"])
            return self.present(rt, new), False
        removed = self._remove(rt, key, new)
        return self.present(rt, removed), True

    @staticmethod
    def _graceful_pod(pod: dict[str, Any], opts: DeleteOptions) -> bool:
        """A pod bound to a node is deleted in two steps: the kubelet confirms with grace 0."""
        if opts.grace_period_seconds == 0:
            return False
        return bool((pod.get("spec") or {}).get("nodeName"))

    def _remove(self, rt: ResourceType, key: ObjectKey, final: dict[str, Any]) -> dict[str, Any]:
        final = objects.clone_object(final)
        self._write("DELETED", rt, key, final)
        self._schedule(final["metadata"]["uid"])
        if key[0] == CRD_GR:
            self._schedule_crd_cleanup(final)
        return final

    # -- the write path ----------------------------------------------------------------------
    def _write(self, change_type: str, rt: ResourceType, key: ObjectKey, obj: dict[str, Any]) -> Change:
        previous = self.store.get(key)
        obj["metadata"]["resourceVersion"] = str(self.store.next_rv())
        obj["apiVersion"] = self._storage_api_version(rt)
        obj["kind"] = rt.kind
        if key[0] == CRD_GR and change_type != "DELETED":
            self._register_crd(obj)  # discovery first, then the CRD's own event
        change = self.store.write(change_type, key, obj)
        self._index(key, previous, None if change_type == "DELETED" else obj)
        self.hub.publish(change)
        for listener in self.on_change:
            listener(change)
        if key[0] == CRD_GR and change_type == "DELETED":
            self._unregister_crd(obj)
        if change_type != "DELETED":
            # A dependent that names an owner already gone is collected, as kube's GC does.
            for owner_uid in objects.owner_uids(obj):
                if owner_uid not in self._uids:
                    self._schedule(owner_uid)
        if change_type == "DELETED":
            # An owner in foreground deletion waits for its dependents: look at it again.
            for owner_uid in objects.owner_uids(obj):
                owner_key = self._uids.get(owner_uid)
                owner = self.store.get(owner_key) if owner_key else None
                if owner is not None and owner["metadata"].get("deletionTimestamp"):
                    self._schedule(owner_uid)
        if previous is not None and change_type != "ADDED" and key[1]:
            ns = self.store.get((NAMESPACE_GR, "", key[1]))
            if change_type == "DELETED" and ns is not None and ns["metadata"].get("deletionTimestamp"):
                self._schedule(ns["metadata"]["uid"])
        return change

    def _storage_api_version(self, rt: ResourceType) -> str:
        storage = self.registry.storage_type(rt.group, rt.plural)
        return (storage or rt).api_version

    def _index(self, key: ObjectKey, previous: dict[str, Any] | None, obj: dict[str, Any] | None) -> None:
        if previous is not None:
            uid = previous["metadata"].get("uid")
            if uid and obj is None:
                self._uids.pop(uid, None)
            for owner in objects.owner_uids(previous):
                bucket = self._dependents.get(owner)
                if bucket is not None:
                    bucket.discard(key)
                    if not bucket:
                        del self._dependents[owner]
        if obj is not None:
            uid = obj["metadata"].get("uid")
            if uid:
                self._uids[uid] = key
            for owner in objects.owner_uids(obj):
                self._dependents.setdefault(owner, set()).add(key)

    # -- validation --------------------------------------------------------------------------
    def _check_body(
        self,
        rt: ResourceType,
        namespace: str,
        body: Any,
        *,
        name: str | None = None,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errors.bad_request(
                f"the body of a {rt.kind} must be a JSON object, got {type(body).__name__}"
            )
        if not rt.from_crd:
            _check_builtin_shape(rt, body)
        if subresource == "scale":
            return body
        kind = body.get("kind")
        if kind is not None and kind != rt.kind:
            raise errors.bad_request(
                f"the kind of the object ({kind!r}) does not match the path ({rt.kind!r} at "
                f"{rt.base_path(namespace or None)})"
            )
        api_version = body.get("apiVersion")
        if api_version is not None and not self._same_group(api_version, rt):
            raise errors.bad_request(
                f"the apiVersion of the object ({api_version!r}) does not match the path ({rt.api_version!r})"
            )
        md = body.get("metadata")
        if md is None:
            md = {}
        if not isinstance(md, dict):
            raise errors.bad_request("metadata must be an object")
        body_ns = md.get("namespace")
        if rt.namespaced and body_ns and body_ns != namespace:
            raise errors.bad_request(
                f"the namespace of the provided object ({body_ns!r}) does not match the "
                f"namespace sent on the request ({namespace!r})"
            )
        if name is not None and md.get("name") and md.get("name") != name:
            raise errors.bad_request(
                f"the name of the object ({md.get('name')!r}) does not match the name on the URL ({name!r})"
            )
        return body

    def _same_group(self, api_version: str, rt: ResourceType) -> bool:
        group = api_version.rpartition("/")[0]
        return group == rt.group

    def _validate(
        self, rt: ResourceType, obj: dict[str, Any], opts: WriteOptions, old: dict[str, Any] | None
    ) -> tuple[str, ...]:
        md = obj["metadata"]
        name_rule: Literal["label", "subdomain"] = (
            "label" if rt.plural in ("namespaces", "services") and not rt.group else "subdomain"
        )
        causes = [
            errors.StatusCause(c.field, c.reason, c.message)
            for c in validation.metadata_causes(md, namespaced=rt.namespaced, name_rule=name_rule)
        ]
        warnings: list[str] = []
        if rt.schema is not None:
            pruned, unknown = validation.prune_unknown_fields(rt.schema, obj)
            if unknown:
                if opts.field_validation == "Strict":
                    listed = ", ".join(f'unknown field "{f}"' for f in unknown)
                    raise errors.bad_request(f"strict decoding error: {listed}")
                if opts.field_validation == "Warn":
                    warnings.extend(f'unknown field "{f}"' for f in unknown)
            obj.clear()
            obj.update(pruned)
            body_for_schema = {k: v for k, v in obj.items() if k not in ("metadata", "apiVersion", "kind")}
            causes.extend(
                errors.StatusCause(c.field, c.reason, c.message)
                for c in validation.schema_causes(rt.schema, body_for_schema)
            )
        if causes:
            raise errors.invalid(rt.kind, rt.group, md.get("name", ""), causes)
        if rt.group_resource == CRD_GR:
            self._validate_crd(obj, old)
        return tuple(warnings)

    def _validate_crd(self, crd: dict[str, Any], old: dict[str, Any] | None) -> None:
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        group = spec.get("group", "")
        plural = names.get("plural", "")
        causes: list[errors.StatusCause] = []
        if not group:
            causes.append(errors.StatusCause("spec.group", "FieldValueRequired", "Required value"))
        if not plural:
            causes.append(errors.StatusCause("spec.names.plural", "FieldValueRequired", "Required value"))
        if not names.get("kind"):
            causes.append(errors.StatusCause("spec.names.kind", "FieldValueRequired", "Required value"))
        if crd["metadata"].get("name") != f"{plural}.{group}":
            causes.append(
                errors.StatusCause(
                    "metadata.name",
                    "FieldValueInvalid",
                    f'Invalid value: "{crd["metadata"].get("name")}": '
                    'must be spec.names.plural+"."+spec.group',
                )
            )
        versions = spec.get("versions") or []
        if not versions:
            causes.append(errors.StatusCause("spec.versions", "FieldValueRequired", "Required value"))
        elif sum(1 for v in versions if v.get("storage")) != 1:
            causes.append(
                errors.StatusCause(
                    "spec.versions",
                    "FieldValueInvalid",
                    "Invalid value: must have exactly one version marked as storage version",
                )
            )
        if causes:
            raise errors.invalid(
                "CustomResourceDefinition", "apiextensions.k8s.io", crd["metadata"].get("name", ""), causes
            )
        existing = self.registry.any_version(group, plural)
        if existing is not None and not existing.from_crd:
            raise errors.invalid(
                "CustomResourceDefinition",
                "apiextensions.k8s.io",
                crd["metadata"]["name"],
                [
                    errors.StatusCause(
                        "spec.names.plural",
                        "FieldValueInvalid",
                        f"Invalid value: {plural!r}: conflicts with a built-in resource",
                    )
                ],
            )

    # -- namespaces ----------------------------------------------------------------------------
    def _check_namespace_open(self, rt: ResourceType, namespace: str) -> None:
        if not rt.namespaced:
            return
        ns = self.store.get((NAMESPACE_GR, "", namespace))
        if ns is None:
            raise errors.not_found("namespaces", "", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise errors.forbidden(
                f'{rt.plural} "{namespace}" is forbidden: unable to create new content in namespace '
                f"{namespace} because it is being terminated"
            )

    # -- CRDs ----------------------------------------------------------------------------------
    def _register_crd(self, crd: dict[str, Any]) -> None:
        spec = crd.get("spec") or {}
        group = spec.get("group", "")
        plural = (spec.get("names") or {}).get("plural", "")
        if not group or not plural:
            return
        self.registry.remove_group_resource(group, plural)
        for rt in crd_types(crd):
            self.registry.add(rt)
        established = {
            "type": "Established",
            "status": "True",
            "reason": "InitialNamesAccepted",
            "message": "the initial names have been accepted",
        }
        accepted = {
            "type": "NamesAccepted",
            "status": "True",
            "reason": "NoConflicts",
            "message": "no conflicts found",
        }
        status = crd.setdefault("status", {})
        now = objects.rfc3339(self.clock())
        existing = {c.get("type"): c for c in status.get("conditions") or []}
        for cond in (accepted, established):
            prior = existing.get(cond["type"])
            cond["lastTransitionTime"] = (prior or {}).get("lastTransitionTime", now)
            existing[cond["type"]] = cond
        status["conditions"] = list(existing.values())
        status["acceptedNames"] = spec.get("names") or {}
        status["storedVersions"] = [v.get("name") for v in spec.get("versions") or [] if v.get("storage")]

    def _unregister_crd(self, crd: dict[str, Any]) -> None:
        spec = crd.get("spec") or {}
        self.registry.remove_group_resource(
            spec.get("group", ""), (spec.get("names") or {}).get("plural", "")
        )

    def _schedule_crd_cleanup(self, crd: dict[str, Any]) -> None:
        spec = crd.get("spec") or {}
        group = spec.get("group", "")
        plural = (spec.get("names") or {}).get("plural", "")
        gr = f"{plural}.{group}"
        for obj in list(self.store.scan(gr)):
            key = (gr, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            final = objects.clone_object(obj)
            final["metadata"]["resourceVersion"] = str(self.store.next_rv())
            change = self.store.write("DELETED", key, final)
            self._index(key, obj, None)
            self.hub.publish(change)

    # -- garbage collection --------------------------------------------------------------------
    def _schedule(self, uid: str) -> None:
        if self._gc_queue is not None:
            self._gc_queue.put_nowait(uid)

    async def _gc_loop(self) -> None:
        assert self._gc_queue is not None
        while True:
            uid = await self._gc_queue.get()
            try:
                await self._collect(uid)
            except errors.ApiError as exc:
                log.debug("garbage collection of dependents of %s: %s", uid, exc)
            except Exception:
                log.exception("garbage collection of dependents of %s failed", uid)

    async def _collect(self, uid: str) -> None:
        owner_key = self._uids.get(uid)
        owner = self.store.get(owner_key) if owner_key else None
        if owner is not None and owner_key is not None and owner_key[0] == NAMESPACE_GR:
            await self._finish_namespace(owner_key, owner)
            return
        dependents = list(self._dependents.get(uid, ()))
        if owner is not None:
            md = owner["metadata"]
            if md.get("deletionTimestamp") and "foregroundDeletion" in (md.get("finalizers") or []):
                if dependents:
                    for key in dependents:
                        await self._delete_dependent(key, uid, "Foreground")
                    return
                rt = self._rt_for_key(owner_key)  # type: ignore[arg-type]
                if rt is not None:
                    new = objects.clone_object(owner)
                    new["metadata"]["finalizers"] = [f for f in md["finalizers"] if f != "foregroundDeletion"]
                    if not new["metadata"]["finalizers"]:
                        new["metadata"].pop("finalizers")
                    self._write_update(rt, owner_key, owner, new)  # type: ignore[arg-type]
            return
        for key in dependents:
            await self._delete_dependent(key, uid, "Background")

    async def _delete_dependent(self, key: ObjectKey, owner_uid: str, policy: str) -> None:
        obj = self.store.get(key)
        rt = self._rt_for_key(key)
        if obj is None or rt is None:
            return
        refs = obj["metadata"].get("ownerReferences") or []
        living = [r for r in refs if r.get("uid") != owner_uid and self._owner_alive(r.get("uid", ""))]
        if living and policy == "Background":
            new = objects.clone_object(obj)
            new["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != owner_uid]
            self._write("MODIFIED", rt, key, new)
            return
        if obj["metadata"].get("deletionTimestamp"):
            return
        try:
            await self.delete(rt, key[1], key[2], DeleteOptions(propagation_policy=policy))
        except errors.ApiError as exc:
            if exc.code != 404:
                raise

    def _owner_alive(self, uid: str) -> bool:
        key = self._uids.get(uid)
        if key is None:
            return False
        obj = self.store.get(key)
        return obj is not None and not (
            obj["metadata"].get("deletionTimestamp")
            and "foregroundDeletion" not in (obj["metadata"].get("finalizers") or [])
        )

    def _orphan_dependents(self, uid: str) -> None:
        for key in list(self._dependents.get(uid, ())):
            obj = self.store.get(key)
            rt = self._rt_for_key(key)
            if obj is None or rt is None:
                continue
            new = objects.clone_object(obj)
            refs = [r for r in new["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
            if refs:
                new["metadata"]["ownerReferences"] = refs
            else:
                new["metadata"].pop("ownerReferences", None)
            self._write("MODIFIED", rt, key, new)

    def _sweep_orphans(self) -> None:
        """After a restart, dependents whose owners are gone are collected, as kube's GC does."""
        for owner_uid in list(self._dependents):
            if owner_uid not in self._uids:
                self._schedule(owner_uid)

    async def _finish_namespace(self, ns_key: ObjectKey, ns_obj: dict[str, Any]) -> None:
        if not ns_obj["metadata"].get("deletionTimestamp"):
            return
        namespace = ns_key[2]
        remaining = 0
        for rt in self.registry:
            if not rt.namespaced or not rt.storage_version:
                continue
            for obj in list(self.store.scan(rt.group_resource, namespace)):
                remaining += 1
                if obj["metadata"].get("deletionTimestamp"):
                    continue
                try:
                    await self.delete(
                        rt, namespace, obj["metadata"]["name"], DeleteOptions(propagation_policy="Background")
                    )
                except errors.ApiError as exc:
                    if exc.code != 404:
                        log.warning(
                            "deleting %s/%s in namespace %s: %s",
                            rt.plural,
                            obj["metadata"]["name"],
                            namespace,
                            exc,
                        )
        if remaining == 0 or not any(
            True
            for rt in self.registry
            if rt.namespaced and any(self.store.scan(rt.group_resource, namespace))
        ):
            current = self.store.get(ns_key)
            if current is not None:
                ns_rt = self._type("", "namespaces")
                final = objects.clone_object(current)
                final.setdefault("spec", {})["finalizers"] = []
                self._write("DELETED", ns_rt, ns_key, final)

    def _rt_for_key(self, key: ObjectKey) -> ResourceType | None:
        plural, _, group = key[0].partition(".")
        return self.registry.storage_type(group, plural)

    def _type(self, group: str, plural: str) -> ResourceType:
        rt = self.registry.storage_type(group, plural)
        if rt is None:
            raise errors.path_not_found()
        return rt

    @staticmethod
    def _key(rt: ResourceType, namespace: str, name: str) -> ObjectKey:
        return (rt.group_resource, namespace if rt.namespaced else "", name)


def _defaults(rt: ResourceType, obj: dict[str, Any]) -> None:
    try:
        apply_builtin_defaults(rt.group, rt.plural, obj)
    except WrongShape as exc:
        raise errors.bad_request(f"{rt.kind} in version {rt.version!r} cannot be handled: {exc}") from exc


def _check_builtin_shape(rt: ResourceType, body: dict[str, Any]) -> None:
    """The type checks kube's decoder makes for the built-ins, which have no schema here: a null
    top-level field reads as absent; an object field of another type is a 400."""
    for key in ("spec", "status", "data", "stringData", "binaryData"):
        if key in body and body[key] is None:
            del body[key]
    for key in ("spec", "status"):
        if key in body and not isinstance(body[key], dict):
            raise errors.bad_request(
                f"{rt.kind} in version {rt.version!r} cannot be handled: {key} must be an "
                f"object, got {type(body[key]).__name__}"
            )
    if rt.plural in ("configmaps", "secrets") and not rt.group:
        for key in ("data", "stringData", "binaryData"):
            value = body.get(key)
            if value is not None and (
                not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values())
            ):
                raise errors.bad_request(f"{rt.kind}.{key} must be a map of strings")


GENERATION_GROUPS = frozenset(
    {
        "apps",
        "batch",
        "policy",
        "networking.k8s.io",
        "autoscaling",
        "apiextensions.k8s.io",
        "admissionregistration.k8s.io",
    }
)


def _tracks_generation(rt: ResourceType) -> bool:
    """kube keeps metadata.generation for custom resources and the workload-style built-ins."""
    return rt.from_crd or rt.group in GENERATION_GROUPS


def _apply_as_merge(current: dict[str, Any], applied: dict[str, Any]) -> Any:
    """Server-side apply without field ownership: the applied configuration wins field by field."""
    return patching.merge_patch(current, _drop_nulls(applied))


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _split_path(path: str) -> list[str]:
    return [p for p in path.strip().lstrip(".").split(".") if p]


def _get_path(obj: Any, path: str) -> Any:
    for part in _split_path(path):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _set_path(obj: dict[str, Any], path: str, value: Any) -> None:
    parts = _split_path(path)
    for part in parts[:-1]:
        nxt = obj.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            obj[part] = nxt
        obj = nxt
    obj[parts[-1]] = value


def _selector_string(selector: dict[str, Any]) -> str:
    terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In":
            terms.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            terms.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            terms.append(str(key))
        elif op == "DoesNotExist":
            terms.append(f"!{key}")
    return ",".join(terms)


def _log_unexpected_exit(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("task %s stopped unexpectedly", task.get_name(), exc_info=task.exception())


AsyncCallback = Callable[[], Awaitable[None]]
