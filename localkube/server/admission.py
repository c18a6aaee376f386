"""Calls registered admission webhooks (AdmissionReview v1), as kube-apiserver does.

Mutating webhooks run first, in name order, each seeing the previous one's patch; validating
webhooks then see the final object. A webhook that cannot be reached obeys its failurePolicy.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import ssl
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout

from localkube import patch as patching
from localkube import selectors
from localkube.client.sessions import close_session
from localkube.server import errors
from localkube.server.review import AdmissionRequest
from localkube.store.sqlite import Store

log = logging.getLogger("localkube.admission")

MUTATING = "mutatingwebhookconfigurations.admissionregistration.k8s.io"
VALIDATING = "validatingwebhookconfigurations.admissionregistration.k8s.io"


class WebhookAdmission:
    def __init__(self, store: Store, session_factory: Callable[[], ClientSession] | None = None) -> None:
        self._store = store
        self._session: ClientSession | None = None
        self._contexts: dict[tuple[str, bool], ssl.SSLContext] = {}
        self._session_factory = session_factory or (lambda: ClientSession(timeout=ClientTimeout(total=30)))

    async def close(self) -> None:
        if self._session is not None:
            # Abort TLS connections rather than wait for a close_notify a stopped webhook never sends.
            await close_session(self._session)
            self._session = None

    def _configs(self, group_resource: str) -> list[dict[str, Any]]:
        return sorted(self._store.scan(group_resource), key=lambda o: o["metadata"]["name"])

    async def admit(self, request: AdmissionRequest) -> dict[str, Any] | None:
        if request.rt.group == "admissionregistration.k8s.io":
            return request.obj  # as kube: webhooks are never called for webhook configurations
        mutating = self._configs(MUTATING)
        validating = self._configs(VALIDATING)
        if not mutating and not validating:
            return request.obj
        for config in mutating:
            for hook in config.get("webhooks") or []:
                if self._applies(hook, request):
                    # Each mutating webhook sees what the previous ones made of the object.
                    request = dataclasses.replace(request, obj=await self._call(hook, request, mutate=True))
        for config in validating:
            for hook in config.get("webhooks") or []:
                if self._applies(hook, request):
                    await self._call(hook, request, mutate=False)
        return request.obj

    def _applies(self, hook: dict[str, Any], request: AdmissionRequest) -> bool:
        rt, subresource, namespace = request.rt, request.subresource, request.namespace
        obj = request.obj or request.old
        resource = f"{rt.plural}/{subresource}" if subresource else rt.plural
        matched = False
        for rule in hook.get("rules") or []:
            ops = rule.get("operations") or []
            if "*" not in ops and request.operation not in ops:
                continue
            if not _matches_any(rule.get("apiGroups") or [], rt.group):
                continue
            if not _matches_any(rule.get("apiVersions") or [], rt.version):
                continue
            if not _resource_matches(rule.get("resources") or [], resource):
                continue
            scope = rule.get("scope", "*")
            if (scope == "Namespaced" and not rt.namespaced) or (scope == "Cluster" and rt.namespaced):
                continue
            matched = True
            break
        if not matched:
            return False
        try:
            object_sel = selectors.label_selector_from_spec(hook.get("objectSelector"))
            if not object_sel.matches(((obj or {}).get("metadata") or {}).get("labels") or {}):
                return False
            ns_spec = hook.get("namespaceSelector")
            if ns_spec and rt.namespaced:
                ns_obj = self._store.get(("namespaces", "", namespace))
                labels = ((ns_obj or {}).get("metadata") or {}).get("labels") or {}
                labels = {**labels, "kubernetes.io/metadata.name": namespace}
                if not selectors.label_selector_from_spec(ns_spec).matches(labels):
                    return False
        except selectors.SelectorError:
            return False
        return True

    async def _call(
        self, hook: dict[str, Any], request: AdmissionRequest, *, mutate: bool
    ) -> dict[str, Any] | None:
        rt, obj = request.rt, request.obj
        hook_name = hook.get("name", "")
        uid = str(uuid.uuid4())
        review: dict[str, Any] = {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": uid,
                "kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
                "resource": {"group": rt.group, "version": rt.version, "resource": rt.plural},
                "requestKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
                "requestResource": {"group": rt.group, "version": rt.version, "resource": rt.plural},
                "name": request.name,
                "namespace": request.namespace,
                "operation": request.operation,
                "userInfo": {
                    "username": "localkube-admin",
                    "groups": ["system:masters", "system:authenticated"],
                },
                "object": obj,
                "oldObject": request.old,
                "dryRun": request.dry_run,
                "options": None,
            },
        }
        if request.subresource:
            review["request"]["subResource"] = (
                request.subresource
            )  # kube-apiserver omits it for the main resource
        failure_policy = hook.get("failurePolicy", "Fail")
        try:
            url, ssl_ctx = self._endpoint(hook)
            timeout = float(hook.get("timeoutSeconds", 10))
            if self._session is None:
                self._session = self._session_factory()
            async with self._session.post(
                url, json=review, ssl=ssl_ctx, timeout=ClientTimeout(total=timeout)
            ) as r:
                if r.status != 200:
                    raise ClientError(f"the webhook answered HTTP {r.status}")
                answer = await r.json(content_type=None)
        except (ClientError, OSError, TimeoutError, ValueError) as exc:
            if failure_policy == "Ignore":
                log.warning("webhook %s failed and is ignored: %s", hook_name, exc)
                return obj
            raise errors.ApiError(
                500, "InternalError", f'Internal error occurred: failed calling webhook "{hook_name}": {exc}'
            ) from exc
        response = (answer or {}).get("response") or {}
        if not response.get("allowed", False):
            status = response.get("status") or {}
            message = status.get("message") or "denied"
            code = int(status.get("code") or 400)
            reason = status.get("reason") or ("BadRequest" if code == 400 else "Forbidden")
            raise errors.ApiError(
                code, reason, f'admission webhook "{hook_name}" denied the request: {message}'
            )
        if mutate and obj is not None and response.get("patch"):
            if response.get("patchType", "JSONPatch") != "JSONPatch":
                raise errors.internal(f'webhook "{hook_name}" answered an unsupported patchType')
            try:
                ops = json.loads(base64.b64decode(response["patch"]))
                patched = patching.json_patch(obj, ops)
            except (ValueError, patching.PatchError) as exc:
                raise errors.internal(
                    f'webhook "{hook_name}" answered a patch that does not apply: {exc}'
                ) from exc
            if isinstance(patched, dict):
                return patched
        return obj

    def _context_for(self, ca_bundle: str, *, check_hostname: bool) -> ssl.SSLContext:
        """One context per CA, reused: a new context per call would cost a TLS handshake per pod."""
        key = (ca_bundle, check_hostname)
        ctx = self._contexts.get(key)
        if ctx is None:
            ctx = ssl.create_default_context(cadata=base64.b64decode(ca_bundle).decode())
            # A service reference's certificate names the service, not the loopback address it runs on.
            ctx.check_hostname = check_hostname
            self._contexts[key] = ctx
        return ctx

    def _endpoint(self, hook: dict[str, Any]) -> tuple[str, ssl.SSLContext | bool]:
        config = hook.get("clientConfig") or {}
        ca = config.get("caBundle")
        ctx: ssl.SSLContext | bool = True
        if ca:
            ctx = self._context_for(str(ca), check_hostname=bool(config.get("url")))
        url = config.get("url")
        if url:
            return str(url), ctx
        service = config.get("service") or {}
        ns, svc_name = service.get("namespace", ""), service.get("name", "")
        endpoints = self._store.get(("endpoints", ns, svc_name))
        for subset in (endpoints or {}).get("subsets") or []:
            for address in subset.get("addresses") or []:
                ports = subset.get("ports") or []
                port = ports[0].get("port") if ports else service.get("port", 443)
                path = service.get("path", "/")
                return f"https://{address.get('ip')}:{port}{path}", ctx
        raise ClientError(f"service {ns}/{svc_name} has no ready endpoints")


def _matches_any(patterns: list[str], value: str) -> bool:
    return "*" in patterns or value in patterns


def _resource_matches(patterns: list[str], resource: str) -> bool:
    main, _, sub = resource.partition("/")
    for pattern in patterns:
        if pattern in ("*/*", resource):
            return True
        if pattern == "*" and not sub:
            return True
        p_main, _, p_sub = pattern.partition("/")
        if sub and p_sub == "*" and p_main == main:
            return True
        if sub and p_main == "*" and p_sub == sub:
            return True
    return False
