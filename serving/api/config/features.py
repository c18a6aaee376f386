"""config-features: feature flags (knative/serving pkg/apis/config/features.go)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from serving.api.config._parse import ConfigError

NAME: Final = "config-features"
ENABLED: Final = "Enabled"
DISABLED: Final = "Disabled"
ALLOWED: Final = "Allowed"

MULTI_CONTAINER: Final = "multi-container"
TAG_HEADER_BASED_ROUTING: Final = "tag-header-based-routing"
PODSPEC_EMPTYDIR: Final = "kubernetes.podspec-emptydir"
PODSPEC_INIT_CONTAINERS: Final = "kubernetes.podspec-init-containers"

# Flags kwake reads, with Knative's defaults. Other kubernetes.podspec-* flags default Disabled.
DEFAULT_FLAGS: Final[dict[str, str]] = {
    MULTI_CONTAINER: ENABLED,
    TAG_HEADER_BASED_ROUTING: DISABLED,
    PODSPEC_EMPTYDIR: ENABLED,
    PODSPEC_INIT_CONTAINERS: DISABLED,
    "kubernetes.podspec-affinity": DISABLED,
    "kubernetes.podspec-nodeselector": DISABLED,
    "kubernetes.podspec-tolerations": DISABLED,
    "kubernetes.podspec-securitycontext": DISABLED,
    "kubernetes.podspec-hostpath": DISABLED,
    "kubernetes.podspec-persistent-volume-claim": DISABLED,
    "kubernetes.podspec-fieldref": DISABLED,
    "kubernetes.podspec-runtimeclassname": DISABLED,
    "kubernetes.podspec-volumes-emptydir": ENABLED,
}


@dataclass(frozen=True)
class FeaturesConfig:
    flags: tuple[tuple[str, str], ...] = field(default_factory=lambda: tuple(sorted(DEFAULT_FLAGS.items())))

    @classmethod
    def from_data(cls, data: Mapping[str, str]) -> FeaturesConfig:
        flags = dict(DEFAULT_FLAGS)
        for key, raw in data.items():
            if key.startswith("_"):
                continue
            value = raw.strip().capitalize()
            if value not in (ENABLED, DISABLED, ALLOWED):
                raise ConfigError(f"config-features {key!r}: {raw!r} is not Enabled, Disabled or Allowed")
            flags[key] = value
        return cls(tuple(sorted(flags.items())))

    def flag(self, name: str) -> str:
        return dict(self.flags).get(name, DISABLED)

    def enabled(self, name: str) -> bool:
        """True when the flag is Enabled (Allowed means 'only where an annotation asks')."""
        return self.flag(name) == ENABLED

    def allowed(self, name: str) -> bool:
        return self.flag(name) in (ENABLED, ALLOWED)
