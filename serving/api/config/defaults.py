"""config-defaults: revision defaults (knative/serving pkg/apis/config/defaults.go)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from serving.api.config._parse import ConfigError, get_bool, get_int, get_str

NAME: Final = "config-defaults"


@dataclass(frozen=True)
class DefaultsConfig:
    revision_timeout_seconds: int = 300
    max_revision_timeout_seconds: int = 600
    # None means "the revision's timeoutSeconds" (response start) and "disabled" (idle, 0).
    revision_response_start_timeout_seconds: int | None = None
    revision_idle_timeout_seconds: int = 0
    container_concurrency: int = 0
    container_concurrency_max_limit: int = 1000
    allow_container_concurrency_zero: bool = True
    enable_service_links: bool | None = False
    user_container_name: str = "user-container"
    init_container_name: str = "init-container"

    @classmethod
    def from_data(cls, data: Mapping[str, str]) -> DefaultsConfig:
        raw_rst = data.get("revision-response-start-timeout-seconds", "").strip()
        links = data.get("enable-service-links", "false").strip().lower()
        cfg = cls(
            revision_timeout_seconds=get_int(data, "revision-timeout-seconds", 300),
            max_revision_timeout_seconds=get_int(data, "max-revision-timeout-seconds", 600),
            revision_response_start_timeout_seconds=int(raw_rst) if raw_rst.lstrip("-").isdigit() else None,
            revision_idle_timeout_seconds=get_int(data, "revision-idle-timeout-seconds", 0),
            container_concurrency=get_int(data, "container-concurrency", 0),
            container_concurrency_max_limit=get_int(data, "container-concurrency-max-limit", 1000),
            allow_container_concurrency_zero=get_bool(data, "allow-container-concurrency-zero", True),
            enable_service_links=None if links == "default" else links == "true",
            user_container_name=get_str(data, "container-name-template", "user-container"),
            init_container_name=get_str(data, "init-container-name-template", "init-container"),
        )
        if cfg.revision_timeout_seconds <= 0:
            raise ConfigError(
                f"revision-timeout-seconds must be positive, was {cfg.revision_timeout_seconds}"
            )
        if cfg.revision_timeout_seconds > cfg.max_revision_timeout_seconds:
            raise ConfigError(
                f"revision-timeout-seconds ({cfg.revision_timeout_seconds}) cannot be greater than "
                f"max-revision-timeout-seconds ({cfg.max_revision_timeout_seconds})"
            )
        if cfg.container_concurrency_max_limit < 1:
            raise ConfigError("container-concurrency-max-limit must be at least 1")
        if not 0 <= cfg.container_concurrency <= cfg.container_concurrency_max_limit:
            raise ConfigError(
                f"container-concurrency must be in [0, {cfg.container_concurrency_max_limit}], "
                f"was {cfg.container_concurrency}"
            )
        return cfg
