"""The autoscaler's view of config-autoscaler: the shared parsing, plus Knative's fixed constants.

Parsing and validation live in `serving.api.config.autoscaler`, which the operator reads too;
what only the autoscaler needs (tick and bucket sizes, the activation timeout) is here.
"""

from __future__ import annotations

from serving.api.config.autoscaler import (
    CONFIG_MAP_NAME,
    HPA_CLASS,
    KNOWN_KEYS,
    KPA_CLASS,
    PANIC_THRESHOLD_PERCENTAGE_MAX,
    PANIC_THRESHOLD_PERCENTAGE_MIN,
    PANIC_WINDOW_PERCENTAGE_MAX,
    PANIC_WINDOW_PERCENTAGE_MIN,
    TARGET_MIN,
    WINDOW_MAX_SECONDS,
    WINDOW_MIN_SECONDS,
    AutoscalerConfig,
    ConfigError,
    from_configmap,
    validate,
)

__all__ = [
    "ACTIVATION_TIMEOUT_BUFFER_SECONDS",
    "BUCKET_SECONDS",
    "CONFIG_MAP_NAME",
    "DEFAULT_PROGRESS_DEADLINE_SECONDS",
    "HPA_CLASS",
    "KNOWN_KEYS",
    "KPA_CLASS",
    "PANIC_THRESHOLD_PERCENTAGE_MAX",
    "PANIC_THRESHOLD_PERCENTAGE_MIN",
    "PANIC_WINDOW_PERCENTAGE_MAX",
    "PANIC_WINDOW_PERCENTAGE_MIN",
    "RPS_TARGET_UTILIZATION",
    "TARGET_MIN",
    "TICK_INTERVAL_SECONDS",
    "WINDOW_MAX_SECONDS",
    "WINDOW_MIN_SECONDS",
    "AutoscalerConfig",
    "ConfigError",
    "from_configmap",
    "validate",
]

# Fixed constants of Knative's autoscaler, not configurable there either.
TICK_INTERVAL_SECONDS = 2.0
BUCKET_SECONDS = 1
RPS_TARGET_UTILIZATION = 0.7  # fixed in code for rps; only the annotation overrides it
# Knative scales an activation that never becomes ready back to zero after the Deployment's
# progress deadline plus this buffer (pkg/reconciler/autoscaling/kpa/scaler.go).
ACTIVATION_TIMEOUT_BUFFER_SECONDS = 30.0
DEFAULT_PROGRESS_DEADLINE_SECONDS = 600.0
