"""The operator's current Config, rebuilt whenever one of Knative's ConfigMaps changes.

A ConfigMap with a bad value is refused and the previous Config kept (as Knative's config
watchers do); the error is remembered so it can be logged and posted as an Event.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from serving.api.config import CONFIGMAP_NAMES, SYSTEM_NAMESPACE, Config, ConfigError

log = logging.getLogger("kwake.operator.config")


class ConfigHolder:
    def __init__(self, namespace: str = SYSTEM_NAMESPACE) -> None:
        self.namespace = namespace
        self.current = Config()
        self._data: dict[str, dict[str, str]] = {}

    def watches(self, namespace: str, name: str) -> bool:
        return namespace == self.namespace and name in CONFIGMAP_NAMES

    def update(self, name: str, data: Mapping[str, str] | None) -> bool:
        """Apply one ConfigMap's data (None: deleted). True when the Config changed."""
        candidate = dict(self._data)
        if data is None:
            candidate.pop(name, None)
        else:
            candidate[name] = {str(k): str(v) for k, v in data.items()}
        try:
            cfg = Config.from_configmaps(candidate)
        except ConfigError as e:
            log.error("%s/%s refused, keeping the previous configuration: %s", self.namespace, name, e)
            return False
        self._data = candidate
        changed = cfg != self.current
        self.current = cfg
        return changed
