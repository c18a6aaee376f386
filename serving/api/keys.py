"""API groups, kinds, label and annotation keys and header names, as Knative spells them.

Source: knative/serving pkg/apis/serving/register.go, pkg/apis/autoscaling/register.go,
knative.dev/networking pkg/apis/networking/register.go and pkg/http/header.
"""

from __future__ import annotations

from typing import Final

# Groups and versions.
SERVING_GROUP: Final = "serving.knative.dev"
SERVING_VERSION: Final = "v1"
SERVING_API_VERSION: Final = f"{SERVING_GROUP}/{SERVING_VERSION}"
AUTOSCALING_INTERNAL_GROUP: Final = "autoscaling.internal.knative.dev"
AUTOSCALING_INTERNAL_API_VERSION: Final = f"{AUTOSCALING_INTERNAL_GROUP}/v1alpha1"
NETWORKING_INTERNAL_GROUP: Final = "networking.internal.knative.dev"
NETWORKING_INTERNAL_API_VERSION: Final = f"{NETWORKING_INTERNAL_GROUP}/v1alpha1"

# Kinds.
SERVICE: Final = "Service"
CONFIGURATION: Final = "Configuration"
ROUTE: Final = "Route"
REVISION: Final = "Revision"
POD_AUTOSCALER: Final = "PodAutoscaler"
INGRESS: Final = "Ingress"

# serving.knative.dev labels.
SERVICE_LABEL: Final = "serving.knative.dev/service"
SERVICE_UID_LABEL: Final = "serving.knative.dev/serviceUID"
CONFIGURATION_LABEL: Final = "serving.knative.dev/configuration"
CONFIGURATION_UID_LABEL: Final = "serving.knative.dev/configurationUID"
CONFIGURATION_GENERATION_LABEL: Final = "serving.knative.dev/configurationGeneration"
REVISION_LABEL: Final = "serving.knative.dev/revision"
REVISION_UID_LABEL: Final = "serving.knative.dev/revisionUID"
ROUTE_LABEL: Final = "serving.knative.dev/route"
ROUTE_NAMESPACE_LABEL: Final = "serving.knative.dev/routeNamespace"
ROUTING_STATE_LABEL: Final = "serving.knative.dev/routingState"
VISIBILITY_LABEL: Final = "networking.knative.dev/visibility"
VISIBILITY_CLUSTER_LOCAL: Final = "cluster-local"

# Routing states of a Revision (serving.knative.dev/routingState).
ROUTING_STATE_PENDING: Final = "pending"
ROUTING_STATE_ACTIVE: Final = "active"
ROUTING_STATE_RESERVE: Final = "reserve"

# serving.knative.dev annotations.
CREATOR_ANNOTATION: Final = "serving.knative.dev/creator"
LAST_MODIFIER_ANNOTATION: Final = "serving.knative.dev/lastModifier"
ROUTES_ANNOTATION: Final = "serving.knative.dev/routes"
ROUTING_STATE_MODIFIED_ANNOTATION: Final = "serving.knative.dev/routingStateModified"
NO_GC_ANNOTATION: Final = "serving.knative.dev/no-gc"
ROLLOUT_DURATION_ANNOTATION: Final = "serving.knative.dev/rollout-duration"
PROGRESS_DEADLINE_ANNOTATION: Final = "serving.knative.dev/progress-deadline"
QUEUE_SIDECAR_RESOURCE_PERCENTAGE_ANNOTATION: Final = "queue.sidecar.serving.knative.dev/resource-percentage"
SERVING_GROUP_PREFIX: Final = "serving.knative.dev/"

# networking annotations.
INGRESS_CLASS_ANNOTATION: Final = "networking.knative.dev/ingress.class"
ROLLOUT_ANNOTATION: Final = "networking.internal.knative.dev/rollout"

# kwake's own annotation: the hash of the desired spec a child was built from, compared by the
# reconcilers to detect drift without diffing fields that others (the autoscaler) own.
SPEC_HASH_ANNOTATION: Final = "serving.kwake.dev/spec-hash"

# autoscaling.knative.dev annotations (the camelCase aliases are accepted on input).
AUTOSCALING_PREFIX: Final = "autoscaling.knative.dev/"
CLASS_ANNOTATION: Final = "autoscaling.knative.dev/class"
METRIC_ANNOTATION: Final = "autoscaling.knative.dev/metric"
TARGET_ANNOTATION: Final = "autoscaling.knative.dev/target"
TARGET_UTILIZATION_ANNOTATION: Final = "autoscaling.knative.dev/target-utilization-percentage"
TARGET_BURST_CAPACITY_ANNOTATION: Final = "autoscaling.knative.dev/target-burst-capacity"
MIN_SCALE_ANNOTATION: Final = "autoscaling.knative.dev/min-scale"
MAX_SCALE_ANNOTATION: Final = "autoscaling.knative.dev/max-scale"
INITIAL_SCALE_ANNOTATION: Final = "autoscaling.knative.dev/initial-scale"
ACTIVATION_SCALE_ANNOTATION: Final = "autoscaling.knative.dev/activation-scale"
SCALE_DOWN_DELAY_ANNOTATION: Final = "autoscaling.knative.dev/scale-down-delay"
WINDOW_ANNOTATION: Final = "autoscaling.knative.dev/window"
PANIC_WINDOW_PERCENTAGE_ANNOTATION: Final = "autoscaling.knative.dev/panic-window-percentage"
PANIC_THRESHOLD_PERCENTAGE_ANNOTATION: Final = "autoscaling.knative.dev/panic-threshold-percentage"
SCALE_TO_ZERO_POD_RETENTION_ANNOTATION: Final = "autoscaling.knative.dev/scale-to-zero-pod-retention-period"
METRIC_AGGREGATION_ANNOTATION: Final = "autoscaling.knative.dev/metric-aggregation-algorithm"

# Each canonical key with the aliases Knative also accepts, in Knative's priority order.
AUTOSCALING_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    MIN_SCALE_ANNOTATION: (MIN_SCALE_ANNOTATION, "autoscaling.knative.dev/minScale"),
    MAX_SCALE_ANNOTATION: (MAX_SCALE_ANNOTATION, "autoscaling.knative.dev/maxScale"),
    INITIAL_SCALE_ANNOTATION: (INITIAL_SCALE_ANNOTATION, "autoscaling.knative.dev/initialScale"),
    ACTIVATION_SCALE_ANNOTATION: (ACTIVATION_SCALE_ANNOTATION,),
    SCALE_DOWN_DELAY_ANNOTATION: (SCALE_DOWN_DELAY_ANNOTATION, "autoscaling.knative.dev/scaleDownDelay"),
    WINDOW_ANNOTATION: (WINDOW_ANNOTATION,),
    PANIC_WINDOW_PERCENTAGE_ANNOTATION: (
        PANIC_WINDOW_PERCENTAGE_ANNOTATION,
        "autoscaling.knative.dev/panicWindowPercentage",
    ),
    PANIC_THRESHOLD_PERCENTAGE_ANNOTATION: (
        PANIC_THRESHOLD_PERCENTAGE_ANNOTATION,
        "autoscaling.knative.dev/panicThresholdPercentage",
    ),
    TARGET_UTILIZATION_ANNOTATION: (
        TARGET_UTILIZATION_ANNOTATION,
        "autoscaling.knative.dev/targetUtilizationPercentage",
    ),
    TARGET_BURST_CAPACITY_ANNOTATION: (
        TARGET_BURST_CAPACITY_ANNOTATION,
        "autoscaling.knative.dev/targetBurstCapacity",
    ),
    SCALE_TO_ZERO_POD_RETENTION_ANNOTATION: (
        SCALE_TO_ZERO_POD_RETENTION_ANNOTATION,
        "autoscaling.knative.dev/scaleToZeroPodRetentionPeriod",
    ),
    METRIC_AGGREGATION_ANNOTATION: (
        METRIC_AGGREGATION_ANNOTATION,
        "autoscaling.knative.dev/metricAggregationAlgorithm",
    ),
    CLASS_ANNOTATION: (CLASS_ANNOTATION,),
    METRIC_ANNOTATION: (METRIC_ANNOTATION,),
    TARGET_ANNOTATION: (TARGET_ANNOTATION,),
}

KPA_CLASS: Final = "kpa.autoscaling.knative.dev"
HPA_CLASS: Final = "hpa.autoscaling.knative.dev"
METRIC_CONCURRENCY: Final = "concurrency"
METRIC_RPS: Final = "rps"

# HTTP headers the ingress adds or matches (knative.dev/networking pkg/http/header).
REVISION_HEADER: Final = "Knative-Serving-Revision"
NAMESPACE_HEADER: Final = "Knative-Serving-Namespace"
TAG_HEADER: Final = "Knative-Serving-Tag"
DEFAULT_ROUTE_HEADER: Final = "Knative-Serving-Default-Route"

# Ports and container contract.
DEFAULT_USER_PORT: Final = 8080
USER_PORT_NAME: Final = "user-port"
DEFAULT_USER_CONTAINER_NAME: Final = "user-container"
DEFAULT_INIT_CONTAINER_NAME: Final = "init-container"
RESERVED_PORTS: Final = frozenset({8012, 8013, 8022, 9090, 9091, 8008})
RESERVED_ENV_VARS: Final = frozenset({"PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION"})
RESERVED_CONTAINER_NAMES: Final = frozenset({"queue-proxy"})
RESERVED_MOUNT_PATHS: Final = frozenset({"/", "/dev", "/dev/log"})
VALID_PORT_NAMES: Final = frozenset({"", "http1", "h2c"})
PROTOCOL_HTTP1: Final = "http1"
PROTOCOL_H2C: Final = "h2c"
