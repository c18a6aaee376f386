"""A Knative Service from command-line flags, and an existing Service changed by them. Pure.

`service_from_flags` is `kn service create`; `update_service` is `kn service update`: flags that
touch the revision template make a new revision, `--tag/--untag/--traffic` only move traffic.
Every value is checked first; a `FlagError` names the flag, and nothing is built.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from serving.api import keys
from serving.api.kmeta import dns1035_label_errors
from serving.cli.kn import flags as f
from serving.cli.kn.traffic import LATEST, compute_traffic

# Autoscaling annotations act on revisions; on the Service's own metadata they would do nothing.
_TEMPLATE_ONLY_PREFIXES = (keys.AUTOSCALING_PREFIX,)


def check_name(name: str) -> None:
    problems = dns1035_label_errors(name)
    if problems:
        raise f.FlagError(f"service name {name!r} is not valid: {'; '.join(problems)}")


def service_from_flags(name: str, namespace: str, flags: f.ServiceFlags) -> dict[str, Any]:
    """The Service `kwake service create NAME` sends."""
    check_name(name)
    if not flags.image and not flags.command:
        raise f.FlagError("give the app to run: --image IMAGE, or --cmd COMMAND for a local process")
    if flags.traffic or flags.untags:
        raise f.FlagError("--traffic and --untag change an existing Service: use kwake service update")
    for raw in flags.tags:
        if not raw.startswith(f"{LATEST}="):
            raise f.FlagError(f"--tag {raw!r}: a new Service has only @latest to tag (@latest=TAG)")
    body: dict[str, Any] = {
        "apiVersion": keys.SERVING_API_VERSION,
        "kind": keys.SERVICE,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"template": {"metadata": {}, "spec": {"containers": [{}]}}},
    }
    _change_template(body, flags, name)
    if flags.tags:
        body["spec"]["traffic"] = compute_traffic([], tags=flags.tags)
    return _prune(body)


def update_service(existing: Mapping[str, Any], flags: f.ServiceFlags) -> dict[str, Any]:
    """`existing` with the flags applied (resourceVersion kept, so the update is conditional)."""
    body = copy.deepcopy(dict(existing))
    body.pop("status", None)
    meta = body.setdefault("metadata", {})
    for key in ("managedFields", "creationTimestamp", "generation", "uid"):
        meta.pop(key, None)
    spec = body.setdefault("spec", {})
    template = spec.setdefault("template", {})
    if flags.changes_template:
        # A revision name can be used once: an unchanged name on a changed template is refused.
        (template.get("metadata") or {}).pop("name", None)
        _change_template(body, flags, str(meta.get("name", "")))
    if flags.changes_traffic:
        spec["traffic"] = compute_traffic(
            spec.get("traffic") or [], tags=flags.tags, untags=flags.untags, traffic=flags.traffic
        )
    return body


def _change_template(body: dict[str, Any], flags: f.ServiceFlags, service: str) -> None:
    env = f.env_changes(flags.env)
    annotations = f.annotation_changes(flags.annotations)
    template = body["spec"].setdefault("template", {})
    tmeta = template.setdefault("metadata", {})
    tspec = template.setdefault("spec", {})
    containers = tspec.setdefault("containers", [])
    if not containers:
        containers.append({})
    container = containers[0]
    if flags.image is not None:
        container["image"] = flags.image
    if flags.command:
        container["command"] = list(flags.command)
    if flags.args:
        container["args"] = list(flags.args)
    if env:
        container["env"] = _merge_env(container.get("env") or [], env)
    if flags.port is not None:
        port_name, number = f.port(flags.port)
        port: dict[str, Any] = {"containerPort": number}
        if port_name:
            port["name"] = port_name
        container["ports"] = [port]
    if flags.concurrency_limit is not None:
        tspec["containerConcurrency"] = f.whole_number(
            "--concurrency-limit", flags.concurrency_limit, minimum=0
        )
    scale = _scale_annotations(flags)
    tannotations = tmeta.setdefault("annotations", {})
    tannotations.update(scale)
    smeta = body.setdefault("metadata", {})
    sannotations = smeta.setdefault("annotations", {})
    for key, value in annotations:
        targets = [tannotations]
        if not key.startswith(_TEMPLATE_ONLY_PREFIXES):
            targets.append(sannotations)
        for target in targets:
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value
    if flags.revision_name is not None:
        name = flags.revision_name
        full = name if name.startswith(f"{service}-") else f"{service}-{name}"
        if dns1035_label_errors(full):
            raise f.FlagError(f"--revision-name {name!r}: {full!r} is not a valid revision name")
        tmeta["name"] = full


def _merge_env(current: list[Any], changes: list[tuple[str, str | None]]) -> list[dict[str, Any]]:
    env = [dict(e) for e in current]
    for name, value in changes:
        index = next((i for i, e in enumerate(env) if e.get("name") == name), None)
        if value is None:
            if index is not None:
                del env[index]
        elif index is None:
            env.append({"name": name, "value": value})
        else:
            env[index] = {"name": name, "value": value}
    return env


def _scale_annotations(flags: f.ServiceFlags) -> dict[str, str]:
    out: dict[str, str] = {}
    low = high = None
    if flags.scale_min is not None:
        low = f.whole_number("--scale-min", flags.scale_min, minimum=0)
        out[keys.MIN_SCALE_ANNOTATION] = str(low)
    if flags.scale_max is not None:
        high = f.whole_number("--scale-max", flags.scale_max, minimum=0)
        out[keys.MAX_SCALE_ANNOTATION] = str(high)
    if low is not None and high and low > high:
        raise f.FlagError(f"--scale-min {low} is above --scale-max {high}")
    if flags.scale_target is not None:
        out[keys.TARGET_ANNOTATION] = str(f.whole_number("--scale-target", flags.scale_target, minimum=1))
    if flags.scale_window is not None:
        out[keys.WINDOW_ANNOTATION] = f.window(flags.scale_window)
    if flags.scale_init is not None:
        out[keys.INITIAL_SCALE_ANNOTATION] = str(f.whole_number("--scale-init", flags.scale_init, minimum=0))
    return out


def _prune(body: dict[str, Any]) -> dict[str, Any]:
    """Drop the empty maps the builder made on its way (a clean manifest for -o yaml)."""
    template = body["spec"]["template"]
    if not template["metadata"].get("annotations"):
        template["metadata"].pop("annotations", None)
    if not template["metadata"]:
        del template["metadata"]
    if not body["metadata"].get("annotations"):
        body["metadata"].pop("annotations", None)
    return body
