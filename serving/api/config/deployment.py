"""config-deployment: what the Revision reconciler puts into Deployments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from serving.api.config._parse import ConfigError, get_duration

NAME: Final = "config-deployment"


@dataclass(frozen=True)
class DeploymentConfig:
    progress_deadline_seconds: float = 600.0

    @classmethod
    def from_data(cls, data: Mapping[str, str]) -> DeploymentConfig:
        cfg = cls(progress_deadline_seconds=get_duration(data, "progress-deadline", 600.0))
        if cfg.progress_deadline_seconds <= 0:
            raise ConfigError("progress-deadline must be positive")
        if cfg.progress_deadline_seconds != int(cfg.progress_deadline_seconds):
            raise ConfigError("progress-deadline must be specified with at most second precision")
        return cfg
