"""Integers from raw JSON, without trusting the type: a webhook must refuse, never crash.

localkube checks the CRD schema's types before the webhooks see an object, but validation also
runs on stored objects (an object written while the webhook was away) and in tests.
"""

from __future__ import annotations


def as_int(value: object) -> int | None:
    """`value` as an int when it is one (or an integral float or numeric string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None
