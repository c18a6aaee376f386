"""Knative's ConfigMaps in the system namespace, parsed into one frozen Config.

`Config.from_configmaps({"config-network": {...}, ...})` reads the data of each ConfigMap
present (a missing one means all defaults). A bad value raises ConfigError; callers keep their
previous Config then, as Knative's config watchers do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from serving.api.config import autoscaler, defaults, deployment, domain, features, gc, network
from serving.api.config._parse import ConfigError
from serving.api.config.autoscaler import AutoscalerConfig
from serving.api.config.defaults import DefaultsConfig
from serving.api.config.deployment import DeploymentConfig
from serving.api.config.domain import DomainConfig
from serving.api.config.features import FeaturesConfig
from serving.api.config.gc import GCConfig
from serving.api.config.network import NetworkConfig

SYSTEM_NAMESPACE: Final = "kwake-system"
CONFIGMAP_NAMES: Final = (
    autoscaler.NAME,
    defaults.NAME,
    deployment.NAME,
    domain.NAME,
    features.NAME,
    gc.NAME,
    network.NAME,
)

__all__ = [
    "CONFIGMAP_NAMES",
    "SYSTEM_NAMESPACE",
    "AutoscalerConfig",
    "Config",
    "ConfigError",
    "DefaultsConfig",
    "DeploymentConfig",
    "DomainConfig",
    "FeaturesConfig",
    "GCConfig",
    "NetworkConfig",
]


@dataclass(frozen=True)
class Config:
    defaults: DefaultsConfig = field(default_factory=DefaultsConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    domain: DomainConfig = field(default_factory=DomainConfig)
    gc: GCConfig = field(default_factory=GCConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    deployment: DeploymentConfig = field(default_factory=DeploymentConfig)
    autoscaler: AutoscalerConfig = field(default_factory=AutoscalerConfig)

    @classmethod
    def from_configmaps(cls, data_by_name: Mapping[str, Mapping[str, str]]) -> Config:
        def data(name: str) -> Mapping[str, str]:
            return data_by_name.get(name) or {}

        return cls(
            defaults=DefaultsConfig.from_data(data(defaults.NAME)),
            network=NetworkConfig.from_data(data(network.NAME)),
            domain=DomainConfig.from_data(data(domain.NAME)),
            gc=GCConfig.from_data(data(gc.NAME)),
            features=FeaturesConfig.from_data(data(features.NAME)),
            deployment=DeploymentConfig.from_data(data(deployment.NAME)),
            autoscaler=AutoscalerConfig.from_data(data(autoscaler.NAME)),
        )
