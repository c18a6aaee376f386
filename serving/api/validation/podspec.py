"""PodSpec rules for a Revision (knative/serving pkg/apis/serving/k8s_validation.go).

Paths are relative to the RevisionSpec (`containers[0].ports.containerPort`).
kwake difference: a container may omit `image` when it has a `command`, because localkube runs
pods as local processes; Knative always requires `image`.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from typing import Any

from serving.api import errors, keys
from serving.api.config.features import MULTI_CONTAINER, PODSPEC_INIT_CONTAINERS, FeaturesConfig
from serving.api.errors import FieldError, FieldErrors
from serving.api.kmeta import dns1123_label_errors
from serving.api.validation.numbers import as_int
from serving.api.validation.probes import validate_probe
from serving.api.validation.resources import validate_resources

# PodSpec fields that Knative gates behind a kubernetes.podspec-* flag (Disabled by default).
GATED_FIELDS = {
    "affinity": "kubernetes.podspec-affinity",
    "nodeSelector": "kubernetes.podspec-nodeselector",
    "tolerations": "kubernetes.podspec-tolerations",
    "securityContext": "kubernetes.podspec-securitycontext",
    "runtimeClassName": "kubernetes.podspec-runtimeclassname",
    "initContainers": PODSPEC_INIT_CONTAINERS,
}
# Volume types whose mounts may be writable.
_WRITABLE_VOLUMES = ("emptyDir", "persistentVolumeClaim", "ephemeral")
# Kubernetes' IsEnvVarName (Knative leaves env names to the Deployment's validation; kwake
# refuses them at admission so the Revision does not fail later).
_ENV_VAR_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_ENV_VAR_NAME_ERROR = (
    "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', "
    "and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used "
    "for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"
)


def validate_pod_spec(spec: Mapping[str, Any], features: FeaturesConfig) -> FieldErrors:
    errs = FieldErrors()
    for field, flag in GATED_FIELDS.items():
        if spec.get(field) and not features.allowed(flag):
            errs = errs.also(errors.disallowed_fields(field))
    volumes, verrs = _validate_volumes(spec.get("volumes") or [])
    errs = errs.also(verrs.via_field("volumes"))
    raw_containers = spec.get("containers") or []
    if not isinstance(raw_containers, list) or not all(isinstance(c, Mapping) for c in raw_containers):
        return errs.also(errors.invalid_value(raw_containers, "containers"))
    containers = list(raw_containers)
    if not containers:
        return errs.also(errors.missing_field("containers"))
    if len(containers) > 1 and not features.allowed(MULTI_CONTAINER):
        return errs.also(errors.multiple_one_of("containers"))
    if len(containers) == 1:
        return errs.also(
            validate_container(containers[0], volumes, serving=True).via_index(0).via_field("containers")
        )
    with_ports = [i for i, c in enumerate(containers) if c.get("ports")]
    if not with_ports:
        errs = errs.also(errors.missing_field("containers[*].ports"))
    elif len(with_ports) > 1 or any(len(containers[i]["ports"]) > 1 for i in with_ports):
        errs = errs.also(
            FieldError(
                "more than one container port is set",
                ("containers[*].ports",),
                "Only a single port is allowed across all containers",
            )
        )
    serving_index = with_ports[0] if with_ports else 0
    for i, c in enumerate(containers):
        errs = errs.also(
            validate_container(c, volumes, serving=(i == serving_index)).via_index(i).via_field("containers")
        )
    return errs


def _validate_volumes(items: list[Mapping[str, Any]]) -> tuple[dict[str, bool], FieldErrors]:
    """Volume names mapped to whether their mounts may be writable, and the errors found."""
    seen: dict[str, bool] = {}
    errs = FieldErrors()
    for i, v in enumerate(items):
        name = v.get("name") or ""
        if not name:
            errs = errs.also(errors.missing_field("name").via_index(i))
        elif dns1123_label_errors(name):
            errs = errs.also(errors.invalid_value(name, "name").via_index(i))
        elif name in seen:
            errs = errs.also(FieldError(f'duplicate volume name "{name}"', ("name",)).via_index(i))
        seen[name] = any(t in v for t in _WRITABLE_VOLUMES)
    return seen, errs


def validate_container(c: Mapping[str, Any], volumes: Mapping[str, bool], *, serving: bool) -> FieldErrors:
    errs = FieldErrors()
    if not c:
        return errs.also(errors.missing_field(""))
    name = c.get("name") or ""
    if name in keys.RESERVED_CONTAINER_NAMES:
        errs = errs.also(FieldError(f'"{name}" is a reserved container name', ("name",)))
    elif name and dns1123_label_errors(str(name)):
        errs = errs.also(errors.invalid_value(name, "name", " ".join(dns1123_label_errors(str(name)))))
    errs = errs.also(_validate_env(c.get("env") or [], serving=serving).via_field("env"))
    if not c.get("image") and not c.get("command"):
        errs = errs.also(errors.missing_field("image"))
    port = None
    if serving:
        ports = c.get("ports") or []
        errs = errs.also(_validate_ports(ports).via_field("ports"))
        # Knative checks probes against the user port: the one named, else 8080.
        port = as_int(ports[0].get("containerPort")) if ports and isinstance(ports[0], Mapping) else None
        port = port or keys.DEFAULT_USER_PORT
        errs = errs.also(
            validate_probe(c.get("readinessProbe"), port, readiness=True).via_field("readinessProbe")
        )
    errs = errs.also(validate_probe(c.get("livenessProbe"), port, readiness=False).via_field("livenessProbe"))
    errs = errs.also(validate_resources(c.get("resources")).via_field("resources"))
    errs = errs.also(_validate_security_context(c.get("securityContext")).via_field("securityContext"))
    errs = errs.also(_validate_mounts(c.get("volumeMounts") or [], volumes).via_field("volumeMounts"))
    return errs


# Knative's SecurityContextMask: what a container may set; privileged, procMount, SELinux and
# Windows options are refused.
_SECURITY_CONTEXT_FIELDS = frozenset(
    {
        "allowPrivilegeEscalation",
        "capabilities",
        "readOnlyRootFilesystem",
        "runAsGroup",
        "runAsNonRoot",
        "runAsUser",
        "seccompProfile",
    }
)


def _validate_security_context(context: Mapping[str, Any] | None) -> FieldErrors:
    if not context:
        return FieldErrors()
    if not isinstance(context, Mapping):
        return FieldErrors().also(errors.invalid_value(context, ""))
    refused = sorted(
        k for k, v in context.items() if k not in _SECURITY_CONTEXT_FIELDS and v not in (None, False)
    )
    return FieldErrors().also(errors.disallowed_fields(*refused) if refused else None)


def _validate_env(env: list[Mapping[str, Any]], *, serving: bool) -> FieldErrors:
    errs = FieldErrors()
    if not isinstance(env, list):
        return errs.also(errors.invalid_value(env, ""))
    for i, e in enumerate(env):
        if not isinstance(e, Mapping):
            errs = errs.also(errors.invalid_value(e, "").via_index(i))
            continue
        name = e.get("name") or ""
        if not name:
            errs = errs.also(errors.missing_field("name").via_index(i))
        elif name in keys.RESERVED_ENV_VARS and (serving or name != "PORT"):
            errs = errs.also(
                FieldError(f'"{name}" is a reserved environment variable', ("name",)).via_index(i)
            )
        elif not isinstance(name, str) or not _ENV_VAR_NAME.match(name):
            errs = errs.also(errors.invalid_value(name, "name", _ENV_VAR_NAME_ERROR).via_index(i))
        if e.get("value") and e.get("valueFrom"):
            errs = errs.also(errors.multiple_one_of("value", "valueFrom").via_index(i))
    return errs


def _validate_ports(ports: list[Mapping[str, Any]]) -> FieldErrors:
    if not ports:
        return FieldErrors()
    errs = FieldErrors()
    if len(ports) > 1:
        errs = errs.also(
            FieldError("More than one container port is set", ("",), "Only a single port is allowed")
        )
    port = ports[0]
    proto = port.get("protocol") or ""
    if proto not in ("", "TCP"):
        errs = errs.also(errors.invalid_value(proto, "protocol"))
    if port.get("hostPort") or port.get("hostIP"):
        errs = errs.also(errors.disallowed_fields(*[f for f in ("hostIP", "hostPort") if port.get(f)]))
    raw = port.get("containerPort") or 0
    number = as_int(raw)
    if number is None:
        errs = errs.also(errors.invalid_value(raw, "containerPort"))
    elif number in keys.RESERVED_PORTS:
        errs = errs.also(errors.invalid_value(number, "containerPort"))
    elif not 1 <= number <= 65535:
        errs = errs.also(errors.out_of_bounds(number, 1, 65535, "containerPort"))
    name = port.get("name") or ""
    if name not in keys.VALID_PORT_NAMES:
        errs = errs.also(
            FieldError(
                f"Port name {name} is not allowed", ("",), "Name must be empty, or one of: 'h2c', 'http1'"
            )
        )
    return errs


def _validate_mounts(mounts: list[Mapping[str, Any]], volumes: Mapping[str, bool]) -> FieldErrors:
    errs = FieldErrors()
    seen_paths: set[str] = set()
    for i, m in enumerate(mounts):
        name = m.get("name") or ""
        if name not in volumes:
            errs = errs.also(FieldError("volumeMount has no matching volume", ("name",)).via_index(i))
        path = m.get("mountPath") or ""
        clean = posixpath.normpath(path) if path else ""
        if not path:
            errs = errs.also(errors.missing_field("mountPath").via_index(i))
        elif clean in keys.RESERVED_MOUNT_PATHS:
            errs = errs.also(
                FieldError(f'mountPath "{clean}" is a reserved path', ("mountPath",)).via_index(i)
            )
        elif not path.startswith("/"):
            errs = errs.also(errors.invalid_value(path, "mountPath").via_index(i))
        elif clean in seen_paths:
            errs = errs.also(errors.invalid_value(f'"{path}" must be unique', "mountPath").via_index(i))
        seen_paths.add(clean)
        if not m.get("readOnly") and not volumes.get(name, False):
            errs = errs.also(errors.missing_field("readOnly").via_index(i))
    return errs
