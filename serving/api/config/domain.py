"""config-domain: which domain a Route gets, chosen by label selectors.

Each key is a domain; its value is empty (matches every route) or YAML `selector: {k: v}`.
The most specific matching selector (most labels) wins. With no entry, the default is
`svc.<cluster-domain>` (cluster-local), as in knative/serving pkg/reconciler/route/config/domain.go.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import yaml

from serving.api.config._parse import ConfigError

NAME: Final = "config-domain"
DEFAULT_DOMAIN: Final = "svc.cluster.local"


@dataclass(frozen=True)
class DomainConfig:
    # (domain, selector) pairs; kept as a tuple so the config stays hashable and frozen.
    domains: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = field(default_factory=tuple)

    @classmethod
    def from_data(cls, data: Mapping[str, str]) -> DomainConfig:
        out = []
        for domain, raw in sorted(data.items()):
            if domain.startswith("_"):
                continue  # _example and friends
            selector: dict[str, str] = {}
            if raw.strip():
                try:
                    parsed = yaml.safe_load(raw)
                except yaml.YAMLError as e:
                    raise ConfigError(f"config-domain {domain!r}: {e}") from None
                sel = parsed.get("selector", {}) if isinstance(parsed, dict) else None
                if not isinstance(sel, dict):
                    raise ConfigError(f"config-domain {domain!r}: expected 'selector: {{label: value}}'")
                selector = {str(k): str(v) for k, v in sel.items()}
            out.append((domain, tuple(sorted(selector.items()))))
        return cls(tuple(out))

    def lookup(self, labels: Mapping[str, str]) -> str:
        """The domain for an object with these labels."""
        best: tuple[int, str] | None = None
        for domain, selector in self.domains:
            if all(labels.get(k) == v for k, v in selector):
                score = len(selector)
                if best is None or score > best[0]:
                    best = (score, domain)
        return best[1] if best else DEFAULT_DOMAIN
