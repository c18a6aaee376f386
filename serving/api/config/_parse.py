"""Small parsers shared by the ConfigMap readers; each raises ConfigError naming the key."""

from __future__ import annotations

from collections.abc import Mapping

from serving.api.durations import DurationError, parse_duration


class ConfigError(ValueError):
    """A ConfigMap value Knative would also refuse."""


def get_int(data: Mapping[str, str], key: str, default: int) -> int:
    raw = data.get(key)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw.strip())
    except ValueError:
        raise ConfigError(f"failed to parse {key!r}: {raw!r} is not an integer") from None


def get_float(data: Mapping[str, str], key: str, default: float) -> float:
    raw = data.get(key)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw.strip())
    except ValueError:
        raise ConfigError(f"failed to parse {key!r}: {raw!r} is not a number") from None


def get_bool(data: Mapping[str, str], key: str, default: bool) -> bool:
    raw = data.get(key)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() == "true"


def get_duration(data: Mapping[str, str], key: str, default: float) -> float:
    raw = data.get(key)
    if raw is None or raw.strip() == "":
        return default
    try:
        return parse_duration(raw)
    except DurationError as e:
        raise ConfigError(f"failed to parse {key!r}: {e}") from None


def get_str(data: Mapping[str, str], key: str, default: str) -> str:
    raw = data.get(key)
    return default if raw is None or raw.strip() == "" else raw.strip()
