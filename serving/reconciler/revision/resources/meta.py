"""Labels and annotations a Revision's children carry (revision/resources/meta.go).

The routing state and route labels are left out, so a Revision moving between routes does not
roll its pods.
"""

from __future__ import annotations

from serving.api import keys
from serving.api.types import Revision
from serving.reconciler.kmeta import without

_EXCLUDED_LABELS = (keys.ROUTE_LABEL, keys.ROUTING_STATE_LABEL)
_EXCLUDED_ANNOTATIONS = (
    keys.ROUTES_ANNOTATION,
    keys.ROUTING_STATE_MODIFIED_ANNOTATION,
    keys.NO_GC_ANNOTATION,
    "serving.knative.dev/lastPinned",
    "kubectl.kubernetes.io/last-applied-configuration",
)
APP_LABEL = "app"


def make_labels(revision: Revision) -> dict[str, str]:
    labels = without(revision.meta.labels, _EXCLUDED_LABELS)
    labels[keys.REVISION_LABEL] = revision.meta.name
    labels[keys.REVISION_UID_LABEL] = revision.meta.uid
    labels.setdefault(APP_LABEL, revision.meta.name)
    return labels


def make_annotations(revision: Revision) -> dict[str, str]:
    return without(revision.meta.annotations, _EXCLUDED_ANNOTATIONS)


def make_selector(revision: Revision) -> dict[str, str]:
    return {keys.REVISION_UID_LABEL: revision.meta.uid}
