"""The validating webhook judges an object as the defaulting webhook would leave it, ran it or not.

kopf registers the operator's validating and mutating configurations one after the other
(measured: 15-30 ms apart on an idle machine, longer on a loaded one). `kwake up` applies its
manifests as soon as the gateway listens, so on a loaded machine a Service could arrive with
only the validating webhook registered and be refused for the traffic only defaulting adds
("Traffic targets sum to 0, want 100"); `kwake up` then never saw it Ready.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from loadtests.kwake import hello_service
from localkube.client import MUTATING_WEBHOOKS, ApiError
from localkube.server.runner import ThreadedApiServer
from serving.api.config import Config
from serving.operator import admission
from serving.operator.handlers import WEBHOOK_CONFIG_NAME
from serving.operator.resources import KSERVICES

from .operator_harness import running_operator

CFG = Config()
# examples/hello.yaml: no traffic, no timeouts, no container name; defaulting fills them.
HELLO: dict[str, Any] = hello_service("hello", {})


def test_an_undefaulted_service_without_traffic_is_admitted() -> None:
    admission.validate("Service", copy.deepcopy(HELLO), None, CFG)


def test_an_undefaulted_service_is_still_refused_for_what_defaulting_does_not_fix() -> None:
    body = copy.deepcopy(HELLO)
    body["spec"]["traffic"] = [{"latestRevision": True, "percent": 50}]
    with pytest.raises(admission.Refused, match=r"Traffic targets sum to 50, want 100: spec\.traffic"):
        admission.validate("Service", body, None, CFG)
    body = copy.deepcopy(HELLO)
    body["spec"]["template"]["spec"]["timeoutSeconds"] = 100_000
    with pytest.raises(admission.Refused, match=r"spec\.template\.spec\.timeoutSeconds"):
        admission.validate("Service", body, None, CFG)


def test_a_named_template_stored_undefaulted_may_be_relabelled_without_a_rename() -> None:
    """Stored in the window (undefaulted); a later metadata-only update arrives defaulted by
    the mutating webhook: the defaults are not a template change that needs a new name."""
    stored = copy.deepcopy(HELLO)
    stored["spec"]["template"]["metadata"] = {"name": "hello-first"}
    update = admission.mutate("Service", copy.deepcopy(stored), stored, "alice", CFG)
    update["metadata"]["labels"] = {"team": "a"}
    admission.validate("Service", update, stored, CFG)
    renamed_free_change = copy.deepcopy(update)
    renamed_free_change["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/kwake/kwake:0.2.0"
    with pytest.raises(admission.Refused, match="without a name change"):
        admission.validate("Service", renamed_free_change, stored, CFG)


@pytest.mark.timeout(90)
async def test_a_service_created_while_only_the_validating_webhook_is_registered(
    apiserver: ThreadedApiServer,
) -> None:
    """The window kwake up fell into, held open: the mutating configuration emptied."""
    async with running_operator(apiserver.kubeconfig) as client:
        await client.patch(MUTATING_WEBHOOKS, WEBHOOK_CONFIG_NAME, {"webhooks": []})
        try:
            created = await client.create(KSERVICES, copy.deepcopy(HELLO), "default")
        except ApiError as refused:
            pytest.fail(f"refused: {refused}")
        assert created["metadata"]["name"] == "hello"
        assert "traffic" not in created["spec"]  # not defaulted: the operator defaults as it reads
