"""`kubectl apply -k deploy/` against localkube: every object is accepted and stored.

localkube has no controllers or kubelet in this fixture, so the Deployments' pods never run
(their images could not run here anyway); what is checked is that the API accepts the objects.
"""

from __future__ import annotations

import json

from tests.conftest import Kubectl
from tests.deploy.manifests import DEPLOY, SYSTEM_NAMESPACE, render

NAMESPACED_KINDS = (
    "deployments",
    "services",
    "configmaps",
    "serviceaccounts",
    "roles",
    "rolebindings",
    "poddisruptionbudgets",
)


def test_apply_k_deploy_stores_every_object(kubectl: Kubectl) -> None:
    first = kubectl.run("apply", "-k", str(DEPLOY), timeout=120)
    objects = render()
    assert first.stdout.count("created") == len(objects), first.stdout
    stored = _stored(kubectl)
    namespaced = {
        (o["kind"], o["metadata"]["name"])
        for o in objects
        if o["metadata"].get("namespace") == SYSTEM_NAMESPACE
    }
    assert namespaced <= stored.keys()
    crds = json.loads(kubectl.run("get", "crd", "-o", "json").stdout)["items"]
    assert len(crds) == sum(1 for o in objects if o["kind"] == "CustomResourceDefinition")
    # Applying again creates and changes nothing (kubectl may still send an empty-effect patch
    # for a PodDisruptionBudget's selector: the stored resourceVersions show nothing changed).
    second = kubectl.run("apply", "-k", str(DEPLOY), timeout=120)
    assert "created" not in second.stdout, second.stdout
    assert _stored(kubectl) == stored


def _stored(kubectl: Kubectl) -> dict[tuple[str, str], str]:
    """(kind, name) -> resourceVersion of what kwake-system holds."""
    listed = json.loads(
        kubectl.run("get", ",".join(NAMESPACED_KINDS), "-n", SYSTEM_NAMESPACE, "-o", "json").stdout
    )
    return {
        (item["kind"], item["metadata"]["name"]): item["metadata"]["resourceVersion"]
        for item in listed["items"]
    }
