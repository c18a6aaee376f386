"""The operator against a real localkube API server, with the real kopf.

No Deployment controller or kubelet runs here: the test plays the parts of the other
components (Deployment status, the autoscaler's PodAutoscaler status, the gateway's KIngress
status) by writing those statuses through the API, and checks what the operator does.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import yaml

from localkube.client import (
    CONFIGMAPS,
    DEPLOYMENTS,
    EVENTS,
    NAMESPACES,
    SERVICES,
    ApiClient,
    ApiError,
    load_connection,
)
from localkube.server.runner import ThreadedApiServer
from serving.api.meta import get_condition
from serving.operator.resources import CONFIGURATIONS, INGRESSES, KSERVICES, PODAUTOSCALERS, REVISIONS, ROUTES

from ..conftest import Kubectl
from .operator_harness import eventually, running_operator, serve_ingresses

pytestmark = pytest.mark.timeout(90)

HELLO: dict[str, Any] = {
    "apiVersion": "serving.knative.dev/v1",
    "kind": "Service",
    "metadata": {"name": "hello", "namespace": "default"},
    "spec": {
        "template": {
            "spec": {
                "containers": [{"image": "ghcr.io/kwake/kwake:0.1.0", "command": ["python3", "-m", "x"]}]
            }
        }
    },
}


def _ready(obj: dict[str, Any] | None) -> str:
    cond = get_condition((obj or {}).get("status"), "Ready")
    return cond.status if cond else ""


async def _get(client: ApiClient, resource: Any, name: str) -> dict[str, Any] | None:
    return await client.get_or_none(resource, name, "default")


async def _play_the_other_components(client: ApiClient, revision: str, route: str) -> None:
    """Report the Deployment available, the PodAutoscaler active and the KIngress served."""
    await eventually(lambda: _get(client, DEPLOYMENTS, f"{revision}-deployment"), what="the Deployment")
    await client.patch(
        DEPLOYMENTS,
        f"{revision}-deployment",
        {
            "status": {
                "replicas": 1,
                "readyReplicas": 1,
                "availableReplicas": 1,
                "conditions": [
                    {"type": "Available", "status": "True"},
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
                ],
            }
        },
        "default",
        subresource="status",
    )
    await eventually(lambda: _get(client, PODAUTOSCALERS, revision), what="the PodAutoscaler")
    await client.patch(
        PODAUTOSCALERS,
        revision,
        {
            "status": {
                "desiredScale": 1,
                "actualScale": 1,
                "conditions": [
                    {"type": "Active", "status": "True"},
                    {"type": "Ready", "status": "True"},
                    {"type": "ScaleTargetInitialized", "status": "True"},
                ],
            }
        },
        "default",
        subresource="status",
    )
    await _serve_ingress(client, route)


async def _serve_ingress(client: ApiClient, route: str) -> None:
    """What the gateway does once it routes the KIngress's current generation."""
    ing = await eventually(lambda: _get(client, INGRESSES, route), what="the KIngress")
    await client.patch(
        INGRESSES,
        route,
        {
            "status": {
                "observedGeneration": ing["metadata"]["generation"],
                "conditions": [
                    {"type": "LoadBalancerReady", "status": "True"},
                    {"type": "NetworkConfigured", "status": "True"},
                    {"type": "Ready", "status": "True"},
                ],
            }
        },
        "default",
        subresource="status",
    )


async def test_service_to_ready_and_a_second_revision(apiserver: ThreadedApiServer) -> None:
    async with running_operator(apiserver.kubeconfig) as client:
        await client.create(KSERVICES, HELLO, "default")
        await eventually(lambda: _get(client, DEPLOYMENTS, "hello-00001-deployment"), what="the Deployment")
        cfg = await client.get(CONFIGURATIONS, "hello", "default")
        assert cfg["metadata"]["ownerReferences"][0]["kind"] == "Service"
        rev = await client.get(REVISIONS, "hello-00001", "default")
        assert rev["metadata"]["labels"]["serving.knative.dev/configurationGeneration"] == "1"
        # The webhook defaulted the template before anything was built from it.
        assert rev["spec"]["timeoutSeconds"] == 300
        k8s_svc = await eventually(lambda: _get(client, SERVICES, "hello-00001"), what="the K8s Service")
        assert k8s_svc["spec"]["ports"][0]["port"] == 80
        svc = await client.get(KSERVICES, "hello", "default")
        assert _ready(svc) != "True"

        await _play_the_other_components(client, "hello-00001", "hello")

        async def ready_service() -> dict[str, Any] | None:
            svc = await _get(client, KSERVICES, "hello")
            return svc if _ready(svc) == "True" else None

        svc = await eventually(ready_service, what="ksvc/hello Ready")
        status = svc["status"]
        assert status["latestReadyRevisionName"] == "hello-00001"
        assert status["url"] == "http://hello.default.svc.cluster.local"
        assert status["traffic"] == [{"revisionName": "hello-00001", "latestRevision": True, "percent": 100}]
        assert status["observedGeneration"] == svc["metadata"]["generation"]
        rev = await client.get(REVISIONS, "hello-00001", "default")
        assert rev["metadata"]["labels"]["serving.knative.dev/routingState"] == "active"
        assert rev["status"]["actualReplicas"] == 1

        # A new template makes hello-00002; traffic moves once it is ready.
        svc["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "V", "value": "2"}]
        await client.replace(
            KSERVICES, {k: svc[k] for k in ("apiVersion", "kind", "metadata", "spec")}, "default"
        )
        await eventually(
            lambda: _get(client, DEPLOYMENTS, "hello-00002-deployment"), what="the second Deployment"
        )
        await _play_the_other_components(client, "hello-00002", "hello")

        async def migrated() -> dict[str, Any] | None:
            svc = await _get(client, KSERVICES, "hello")
            traffic = (svc or {}).get("status", {}).get("traffic") or []
            ok = traffic and traffic[0]["revisionName"] == "hello-00002"
            return svc if ok else None

        await eventually(migrated, what="traffic on hello-00002")
        await _serve_ingress(client, "hello")  # the KIngress changed again
        await eventually(ready_service, what="ksvc/hello Ready on hello-00002")

        async def reserved() -> bool:
            old = await _get(client, REVISIONS, "hello-00001")
            return (
                old is not None and old["metadata"]["labels"]["serving.knative.dev/routingState"] == "reserve"
            )

        await eventually(reserved, what="hello-00001 in reserve")


async def test_bad_traffic_is_refused_with_knatives_message(apiserver: ThreadedApiServer) -> None:
    async with running_operator(apiserver.kubeconfig) as client:
        bad = {**HELLO, "spec": {**HELLO["spec"], "traffic": [{"latestRevision": True, "percent": 90}]}}
        with pytest.raises(ApiError) as info:
            await client.create(KSERVICES, bad, "default")
        assert info.value.status == 400
        assert "Traffic targets sum to 90, want 100: spec.traffic" in str(info.value)
        assert await client.get_or_none(KSERVICES, "hello", "default") is None


async def test_objects_it_does_not_own_are_left_alone(apiserver: ThreadedApiServer) -> None:
    async with running_operator(apiserver.kubeconfig) as client:
        squatter = {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Route",
            "metadata": {"name": "hello", "namespace": "default"},
            "spec": {"traffic": [{"revisionName": "elsewhere-00001", "percent": 100}]},
        }
        await client.create(ROUTES, squatter, "default")
        await client.create(KSERVICES, HELLO, "default")

        async def refused() -> dict[str, Any] | None:
            svc = await _get(client, KSERVICES, "hello")
            cond = get_condition((svc or {}).get("status"), "RoutesReady")
            return svc if cond is not None and cond.reason == "NotOwned" else None

        svc = await eventually(refused, what="RoutesReady NotOwned")
        cond = get_condition(svc["status"], "Ready")
        assert cond is not None and cond.status == "False"
        assert cond.message == 'There is an existing Route "hello" that we do not own.'
        route = await client.get(ROUTES, "hello", "default")
        assert route["spec"]["traffic"][0]["revisionName"] == "elsewhere-00001"


async def test_objects_made_while_it_was_down_converge_without_duplicates(
    apiserver: ThreadedApiServer,
) -> None:
    async with running_operator(apiserver.kubeconfig, webhooks=False) as client:
        pass  # installs the CRDs; the operator then stops
    async with ApiClient(load_connection(str(apiserver.kubeconfig))) as client:
        await client.create(KSERVICES, HELLO, "default")
    for _ in range(2):  # start, stop, start again: level-based, so nothing is made twice
        async with running_operator(apiserver.kubeconfig, webhooks=False, install=False) as client:
            await eventually(
                lambda: _get(client, DEPLOYMENTS, "hello-00001-deployment"), what="the Deployment"
            )
            await eventually(lambda: _get(client, PODAUTOSCALERS, "hello-00001"), what="the PodAutoscaler")
            revisions = await client.list(REVISIONS, "default")
            assert [r["metadata"]["name"] for r in revisions["items"]] == ["hello-00001"]
            assert len((await client.list(DEPLOYMENTS, "default"))["items"]) == 1
            events = await client.list(EVENTS, "default")
            reasons = {(e["involvedObject"]["kind"], e["reason"]) for e in events["items"]}
            assert ("Service", "Created") in reasons and ("Configuration", "Created") in reasons


async def test_kubectl_apply_of_bad_traffic_fails_with_the_field_path(
    apiserver: ThreadedApiServer, kubectl: Kubectl
) -> None:
    async with running_operator(apiserver.kubeconfig):
        manifest = yaml.safe_dump(
            {**HELLO, "spec": {**HELLO["spec"], "traffic": [{"latestRevision": True, "percent": 90}]}}
        )
        result = await asyncio.to_thread(kubectl.run, "apply", "-f", "-", input=manifest, check=False)
        assert result.returncode != 0
        assert (
            'admission webhook "validate-services.serving.kwake.dev" denied the request: '
            "validation failed: Traffic targets sum to 90, want 100: spec.traffic"
        ) in result.stderr
        good = await asyncio.to_thread(kubectl.run, "apply", "-f", "-", input=yaml.safe_dump(HELLO))
        assert "service.serving.knative.dev/hello created" in good.stdout
        shown = await asyncio.to_thread(kubectl.run, "get", "ksvc", "hello", "-o", "yaml")
        assert "timeoutSeconds: 300" in shown.stdout


async def test_deleting_the_service_removes_everything_it_owned(apiserver: ThreadedApiServer) -> None:
    async with running_operator(apiserver.kubeconfig) as client:
        await client.create(KSERVICES, HELLO, "default")
        await eventually(lambda: _get(client, PODAUTOSCALERS, "hello-00001"), what="the PodAutoscaler")
        await eventually(lambda: _get(client, SERVICES, "hello-00001"), what="the K8s Service")
        await client.delete(KSERVICES, "hello", "default")

        remaining: list[list[str]] = [[]]

        async def all_gone() -> bool:
            left: list[str] = []
            remaining[0] = left
            for resource in (CONFIGURATIONS, ROUTES, REVISIONS, DEPLOYMENTS, PODAUTOSCALERS):
                left += [
                    f"{resource.kind}/{o['metadata']['name']}"
                    for o in (await client.list(resource, "default"))["items"]
                ]
            if await _get(client, SERVICES, "hello-00001") is not None:
                left.append("Service/hello-00001")
            return not left

        try:
            await eventually(all_gone, what="the owned objects to be collected")
        except AssertionError as e:
            raise AssertionError(f"{e}; still there: {remaining[0]}") from None


async def test_configmap_changes_reach_existing_routes(apiserver: ThreadedApiServer) -> None:
    async with running_operator(apiserver.kubeconfig) as client:
        await client.create(KSERVICES, HELLO, "default")
        await _play_the_other_components(client, "hello-00001", "hello")

        async def url_is(want: str) -> bool:
            route = await _get(client, ROUTES, "hello")
            return bool((route or {}).get("status", {}).get("url") == want)

        await eventually(
            lambda: url_is("http://hello.default.svc.cluster.local"), what="the cluster-local URL"
        )
        await client.create(NAMESPACES, {"metadata": {"name": "kwake-system"}})
        config_domain = {
            "metadata": {"name": "config-domain", "namespace": "kwake-system"},
            "data": {"localhost": ""},
        }
        await client.create(CONFIGMAPS, config_domain, "kwake-system")
        await eventually(lambda: url_is("http://hello.default.localhost"), what="the URL from config-domain")
        ingress = await client.get(INGRESSES, "hello", "default")
        hosts = {h for rule in ingress["spec"]["rules"] for h in rule["hosts"]}
        assert "hello.default.localhost" in hosts
        # A bad value is refused and the previous configuration kept.
        await client.patch(
            CONFIGMAPS, "config-domain", {"data": {"x.com": "selector: [oops"}}, "kwake-system"
        )
        await client.patch(KSERVICES, "hello", {"metadata": {"labels": {"touch": "1"}}}, "default")
        await eventually(lambda: url_is("http://hello.default.localhost"), what="the URL unchanged")


async def test_gradual_rollout_moves_traffic_in_steps(apiserver: ThreadedApiServer) -> None:
    body = {
        **HELLO,
        "metadata": {**HELLO["metadata"], "annotations": {"serving.knative.dev/rollout-duration": "3s"}},
    }
    async with running_operator(apiserver.kubeconfig) as client:
        stop = asyncio.Event()
        gateway = asyncio.create_task(serve_ingresses(client, stop), name="stand-in-gateway")
        try:
            await client.create(KSERVICES, body, "default")
            await _play_the_other_components(client, "hello-00001", "hello")
            await client.patch(
                KSERVICES, "hello", {"spec": {"template": {"metadata": {"labels": {"v": "2"}}}}}, "default"
            )
            await _play_the_other_components(client, "hello-00002", "hello")
            shares: list[dict[str, int]] = []

            async def done() -> bool:
                ing = await client.get(INGRESSES, "hello", "default")
                splits = ing["spec"]["rules"][0]["http"]["paths"][0]["splits"]
                seen = {s["serviceName"]: s["percent"] for s in splits}
                if not shares or shares[-1] != seen:
                    shares.append(seen)
                return seen == {"hello-00002": 100}

            await eventually(done, within=30, what="the rollout to finish")
        finally:
            stop.set()
            await gateway
    # Polling starts once hello-00002 is ready, by which time the first 1% step may be taken.
    assert shares[0] in ({"hello-00001": 100}, {"hello-00001": 99, "hello-00002": 1}), shares
    assert {"hello-00001": 99, "hello-00002": 1} in shares
    middle = [s for s in shares if len(s) == 2]
    # 1%, then steps sized from how long the first 1% took (Knative's rule), then 100%.
    assert len(middle) >= 2, shares
    assert [s["hello-00002"] for s in middle] == sorted(s["hello-00002"] for s in middle)


async def test_an_invalid_service_stored_behind_its_back_gets_a_reason(apiserver: ThreadedApiServer) -> None:
    async with running_operator(apiserver.kubeconfig, webhooks=False) as client:
        pass  # installs the CRDs; no webhooks are left behind
    async with ApiClient(load_connection(str(apiserver.kubeconfig))) as client:
        bad = {**HELLO, "spec": {"template": {"spec": {"containers": []}}}}
        await client.create(KSERVICES, bad, "default")
    async with running_operator(apiserver.kubeconfig, install=False) as client:

        async def failed() -> dict[str, Any] | None:
            svc = await _get(client, KSERVICES, "hello")
            return svc if _ready(svc) == "False" else None

        svc = await eventually(failed, what="ksvc/hello Ready=False")
        cond = get_condition(svc["status"], "ConfigurationsReady")
        assert cond is not None and cond.status == "False"
        assert "missing field(s): spec.template.spec.containers" in cond.message, cond


async def test_revisions_out_of_traffic_are_collected_per_config_gc(apiserver: ThreadedApiServer) -> None:
    async with running_operator(apiserver.kubeconfig) as client:
        await client.create(NAMESPACES, {"metadata": {"name": "kwake-system"}})
        gc = {
            "min-non-active-revisions": "0",
            "max-non-active-revisions": "0",
            "retain-since-create-time": "disabled",
            "retain-since-last-active-time": "disabled",
        }
        await client.create(CONFIGMAPS, {"metadata": {"name": "config-gc"}, "data": gc}, "kwake-system")
        await client.create(KSERVICES, HELLO, "default")
        await _play_the_other_components(client, "hello-00001", "hello")
        await client.patch(
            KSERVICES, "hello", {"spec": {"template": {"metadata": {"labels": {"v": "2"}}}}}, "default"
        )
        await _play_the_other_components(client, "hello-00002", "hello")

        async def only_the_latest() -> bool:
            names = [r["metadata"]["name"] for r in (await client.list(REVISIONS, "default"))["items"]]
            return names == ["hello-00002"]

        await eventually(only_the_latest, what="hello-00001 collected once out of traffic")
        events = await client.list(EVENTS, "default")
        assert any(e["reason"] == "Deleted" and "hello-00001" in e["message"] for e in events["items"])
