"""API errors, parsed from the metav1.Status body every Kubernetes API server sends on failure.

Catch the specific class when the outcome is expected (`NotFound` on a get, `Conflict` on an
update raced by someone else, `AlreadyExists` on a create, `Gone` when a watch's
resourceVersion is too old); every class is an `ApiError` with `.status` (HTTP code), `.reason`
(Status reason), `.message` and `.body` (the parsed Status, or a synthesized one when the
server did not send a Status).
"""

from __future__ import annotations

import json
from typing import Any


class ApiError(Exception):
    """An API call failed. `.status` is the HTTP code; `.reason` the Status reason (e.g. `NotFound`)."""

    def __init__(self, status: int, reason: str, message: str, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body

    @property
    def details(self) -> dict[str, Any]:
        details = self.body.get("details")
        return details if isinstance(details, dict) else {}


class NotFound(ApiError):
    """404: the object (or the resource type) does not exist."""


class Conflict(ApiError):
    """409 Conflict: the object changed since it was read (resourceVersion precondition failed)."""


class AlreadyExists(ApiError):
    """409 AlreadyExists: a create named an object that exists."""


class Gone(ApiError):
    """410 Expired/Gone: the resourceVersion is too old; relist and watch again."""


class Invalid(ApiError):
    """422 Invalid: the object failed validation (or a json-patch `test` op failed)."""


def _status_body(status: int, text: str) -> dict[str, Any]:
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("kind") == "Status":
        return parsed
    # Not a Status (a proxy's HTML page, an empty body): synthesize one as kubectl would show it.
    message = text.strip()[:500] if text else ""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message or f"the server responded with HTTP {status}",
        "reason": _DEFAULT_REASONS.get(status, "InternalError" if status >= 500 else "Unknown"),
        "code": status,
    }


_DEFAULT_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def error_from_status(body: dict[str, Any], http_status: int | None = None) -> ApiError:
    """The `ApiError` subclass a metav1.Status body describes (used for in-stream watch ERRORs too)."""
    code = body.get("code")
    status = code if isinstance(code, int) and code else (http_status or 500)
    reason = str(body.get("reason") or _DEFAULT_REASONS.get(status, "Unknown"))
    message = str(body.get("message") or "")
    cls: type[ApiError] = ApiError
    if status == 404:
        cls = NotFound
    elif status == 409:
        cls = AlreadyExists if reason == "AlreadyExists" else Conflict
    elif status == 410:
        cls = Gone
    elif status == 422:
        cls = Invalid
    return cls(status, reason, message, body)


def error_from_response(http_status: int, text: str) -> ApiError:
    """The error for a non-2xx HTTP response with body `text`."""
    return error_from_status(_status_body(http_status, text), http_status)
