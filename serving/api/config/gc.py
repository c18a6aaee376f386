"""config-gc: revision garbage collection limits (knative/serving pkg/gc/config.go)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from serving.api.config._parse import ConfigError
from serving.api.durations import DurationError, parse_duration

NAME: Final = "config-gc"
DISABLED: Final = -1


def _duration_or_disabled(data: Mapping[str, str], key: str, default: float) -> float:
    raw = data.get(key, "").strip()
    if not raw:
        return default
    if raw.lower() == "disabled":
        return DISABLED
    try:
        value = parse_duration(raw)
    except DurationError as e:
        raise ConfigError(f"failed to parse {key!r}: {e}") from None
    if value < 0:
        raise ConfigError(f"{key} must be non-negative or 'disabled', was {raw!r}")
    return value


def _int_or_disabled(data: Mapping[str, str], key: str, default: int) -> int:
    raw = data.get(key, "").strip()
    if not raw:
        return default
    if raw.lower() == "disabled":
        return DISABLED
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"failed to parse {key!r}: {raw!r} is not an integer") from None
    if value < 0:
        raise ConfigError(f"{key} must be non-negative or 'disabled', was {raw!r}")
    return value


@dataclass(frozen=True)
class GCConfig:
    """Limits in seconds and counts; DISABLED (-1) turns one off."""

    retain_since_create_time: float = 48 * 3600.0
    retain_since_last_active_time: float = 15 * 3600.0
    min_non_active_revisions: int = 20
    max_non_active_revisions: int = 1000

    @classmethod
    def from_data(cls, data: Mapping[str, str]) -> GCConfig:
        cfg = cls(
            retain_since_create_time=_duration_or_disabled(data, "retain-since-create-time", 48 * 3600.0),
            retain_since_last_active_time=_duration_or_disabled(
                data, "retain-since-last-active-time", 15 * 3600.0
            ),
            min_non_active_revisions=_int_or_disabled(data, "min-non-active-revisions", 20),
            max_non_active_revisions=_int_or_disabled(data, "max-non-active-revisions", 1000),
        )
        if cfg.min_non_active_revisions == DISABLED:
            raise ConfigError("min-non-active-revisions cannot be 'disabled'")
        if (
            cfg.max_non_active_revisions != DISABLED
            and cfg.min_non_active_revisions > cfg.max_non_active_revisions
        ):
            raise ConfigError(
                f"min-non-active-revisions ({cfg.min_non_active_revisions}) must be <= "
                f"max-non-active-revisions ({cfg.max_non_active_revisions})"
            )
        return cfg
