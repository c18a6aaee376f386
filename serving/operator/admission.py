"""Admission for the four serving kinds: Knative's defaulting and validation, served by kopf.

A refused object gets Knative's message, `validation failed: <message>: <field path>`, which
kubectl prints after `admission webhook "..." denied the request:`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from serving.api import keys
from serving.api.config import Config
from serving.api.defaults import DEFAULTERS, set_user_info
from serving.api.validation import VALIDATORS


class Refused(Exception):
    """The object is invalid; the message is what the user sees."""


def mutate(
    kind: str, body: Mapping[str, Any], old: Mapping[str, Any] | None, user: str, cfg: Config
) -> dict[str, Any]:
    """The defaulted object, with creator/lastModifier set from the requesting user."""
    out = DEFAULTERS[kind](body, cfg)
    if kind in (keys.SERVICE, keys.CONFIGURATION, keys.ROUTE) and user and not _owned_by_service(body):
        out = set_user_info(out, old, user)
    return out


def validate(kind: str, body: Mapping[str, Any], old: Mapping[str, Any] | None, cfg: Config) -> None:
    """Raise Refused with Knative's message when `body` is not valid."""
    if old is not None and kind != keys.REVISION and old.get("spec") == body.get("spec"):
        # Metadata-only or status changes are never refused for rules a ConfigMap may have
        # tightened since the object was admitted (Knative skips spec checks likewise).
        return
    # Validate what the defaulting webhook makes of the object, whether or not it ran: kopf
    # registers the validating and the mutating configuration one after the other, and a
    # Service created in between (kwake up applies its manifests as soon as the gateway
    # listens) would otherwise be refused for the traffic only defaulting adds ("Traffic
    # targets sum to 0"). Defaulting is idempotent: a defaulted body is unchanged. Compare like
    # with like: an old object stored while the webhook was away is undefaulted, and defaulting
    # it now must not read as a change (to a Revision's immutable spec, to a named template).
    if old is not None:
        old = DEFAULTERS[kind](old, cfg)
    errs = VALIDATORS[kind](DEFAULTERS[kind](body, cfg), cfg, old)
    if errs:
        raise Refused(f"validation failed: {errs}")


def _owned_by_service(body: Mapping[str, Any]) -> bool:
    refs = (body.get("metadata") or {}).get("ownerReferences") or []
    return any(
        r.get("kind") == keys.SERVICE and r.get("apiVersion") == keys.SERVING_API_VERSION for r in refs
    )
