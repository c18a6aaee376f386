"""Route conditions: Ready = AllTrafficAssigned + IngressReady + CertificateProvisioned.

Source: knative/serving pkg/apis/serving/v1/route_lifecycle.go.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from serving.api.conditions import ConditionSet, get

READY: Final = "Ready"
ALL_TRAFFIC_ASSIGNED: Final = "AllTrafficAssigned"
INGRESS_READY: Final = "IngressReady"
CERTIFICATE_PROVISIONED: Final = "CertificateProvisioned"
CONDITIONS: Final = ConditionSet(READY, (ALL_TRAFFIC_ASSIGNED, INGRESS_READY, CERTIFICATE_PROVISIONED))

Status = Mapping[str, Any] | None


def initialize(status: Status, now: float) -> dict[str, Any]:
    return CONDITIONS.initialize(status, now)


def mark_traffic_assigned(status: Status, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_true(status, ALL_TRAFFIC_ASSIGNED, now)


def mark_unknown_traffic_error(status: Status, message: str, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_unknown(status, ALL_TRAFFIC_ASSIGNED, "Unknown", message, now)


def mark_configuration_not_ready(status: Status, name: str, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_unknown(
        status,
        ALL_TRAFFIC_ASSIGNED,
        "RevisionMissing",
        f'Configuration "{name}" is waiting for a Revision to become ready.',
        now,
    )


def mark_configuration_failed(status: Status, name: str, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_false(
        status,
        ALL_TRAFFIC_ASSIGNED,
        "RevisionMissing",
        f'Configuration "{name}" does not have any ready Revision.',
        now,
    )


def mark_revision_not_ready(status: Status, name: str, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_unknown(
        status, ALL_TRAFFIC_ASSIGNED, "RevisionMissing", f'Revision "{name}" is not yet ready.', now
    )


def mark_revision_failed(status: Status, name: str, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_false(
        status, ALL_TRAFFIC_ASSIGNED, "RevisionMissing", f'Revision "{name}" failed to become ready.', now
    )


def mark_missing_traffic_target(status: Status, kind: str, name: str, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_false(
        status,
        ALL_TRAFFIC_ASSIGNED,
        f"{kind}Missing",
        f'{kind} "{name}" referenced in traffic not found.',
        now,
    )


def mark_ingress_not_configured(status: Status, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_unknown(
        status, INGRESS_READY, "IngressNotConfigured", "Ingress has not yet been reconciled.", now
    )


def mark_ingress_rollout_in_progress(status: Status, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_unknown(
        status,
        INGRESS_READY,
        "RolloutInProgress",
        "A gradual rollout of the latest revision(s) is in progress.",
        now,
    )


def mark_tls_not_enabled(status: Status, message: str, now: float) -> dict[str, Any]:
    """kwake serves plain HTTP; the certificate condition is True with this reason, as Knative does."""
    return CONDITIONS.mark_true(status, CERTIFICATE_PROVISIONED, now, "TLSNotEnabled", message)


def mark_not_owned(status: Status, kind: str, name: str, now: float) -> dict[str, Any]:
    return CONDITIONS.mark_false(
        status, INGRESS_READY, "NotOwned", f'There is an existing {kind} "{name}" that we do not own.', now
    )


def propagate_ingress_status(status: Status, ingress_status: Status, now: float) -> dict[str, Any]:
    ready = get(ingress_status, READY)
    if ready is None:
        return mark_ingress_not_configured(status, now)
    if ready.is_true:
        return CONDITIONS.mark_true(status, INGRESS_READY, now)
    if ready.is_false:
        return CONDITIONS.mark_false(status, INGRESS_READY, ready.reason, ready.message, now)
    return CONDITIONS.mark_unknown(status, INGRESS_READY, ready.reason, ready.message, now)
