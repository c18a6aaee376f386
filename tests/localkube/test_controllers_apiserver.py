"""The Deployment and Endpoints controllers against localkube's real API server.

No kubelet runs here: the test plays its part, patching pod status (podIP, Ready) as a kubelet
would, and deleting terminating pods with grace 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import functools
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from localkube.client import (
    DEPLOYMENTS,
    ENDPOINT_SLICES,
    ENDPOINTS,
    EVENTS,
    MUTATING_WEBHOOKS,
    PODS,
    SERVICES,
    ApiClient,
    Connection,
    Informer,
    Resource,
    format_time,
    load_connection,
)
from localkube.controllers import run_controllers
from localkube.controllers.deployment_plan import POD_TEMPLATE_HASH
from localkube.server.runner import ThreadedApiServer
from tests.conftest import Kubectl

Obj = dict[str, Any]
Items = list[Obj]


@dataclass
class StepClock:
    """Real UTC time plus an offset the test can advance (for progress deadlines)."""

    offset: datetime.timedelta = datetime.timedelta()

    def __call__(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC) + self.offset


@dataclass
class View:
    """A test's own informer on one resource, to wait for a state without sleeping."""

    informer: Informer
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def of(cls, client: ApiClient, resource: Resource) -> View:
        view = cls(Informer(client, resource, namespace="default"))
        view.informer.add_handlers(on_add=view._poke, on_update=view._poke2, on_delete=view._poke)
        return view

    async def _poke(self, _: Obj) -> None:
        self.changed.set()

    async def _poke2(self, _: Obj, __: Obj) -> None:
        self.changed.set()

    async def until(self, predicate: Callable[[Items], bool]) -> Items:
        async with asyncio.timeout(10):
            while True:
                self.changed.clear()
                items = self.informer.items()
                if predicate(items):
                    return items
                await self.changed.wait()


@dataclass
class Cluster:
    client: ApiClient
    clock: StepClock
    pods: View
    deployments: View
    endpoints: View

    async def set_ready(self, pod: Obj, ready: bool = True, *, at: datetime.datetime | None = None) -> None:
        """What a kubelet reports for a running pod."""
        moment = at or datetime.datetime.now(datetime.UTC)
        condition = {
            "type": "Ready",
            "status": "True" if ready else "False",
            "lastTransitionTime": format_time(moment),
        }
        status = {"phase": "Running", "podIP": "127.0.0.1", "conditions": [condition]}
        await self.client.patch(PODS, pod["metadata"]["name"], {"status": status}, subresource="status")

    def deployment(self, name: str) -> Obj:
        found = self.deployments.informer.get(name, "default")
        assert found is not None
        return found


@pytest.fixture
async def cluster(apiserver: ThreadedApiServer) -> AsyncIterator[Cluster]:
    clock = StepClock()
    async with ApiClient(load_connection(apiserver.kubeconfig, environ={})) as client:
        stop = asyncio.Event()
        controllers = asyncio.create_task(run_controllers(client, stop, clock=clock), name="test-controllers")
        views = [View.of(client, r) for r in (PODS, DEPLOYMENTS, ENDPOINTS)]
        async with contextlib.AsyncExitStack() as stack:
            for view in views:
                await stack.enter_async_context(view.informer)
            async with asyncio.timeout(10):
                for view in views:
                    await view.informer.wait_synced()
            try:
                yield Cluster(client, clock, *views)
            finally:
                stop.set()
                async with asyncio.timeout(10):
                    await controllers


def deployment(name: str, replicas: int, *, image: str = "v1", **spec: Any) -> Obj:
    labels = {"app": name}
    container = {
        "name": "app",
        "image": image,
        "command": ["serve"],
        "ports": [{"name": "http", "containerPort": 8080}],
    }
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
            **spec,
        },
    }


def owned_by(name: str) -> Callable[[Obj], bool]:
    return lambda pod: any(ref.get("name") == name for ref in pod["metadata"].get("ownerReferences", []))


def live(items: Items, name: str) -> Items:
    return [p for p in items if owned_by(name)(p) and not p["metadata"].get("deletionTimestamp")]


def conditions(dep: Obj) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in dep.get("status", {}).get("conditions", [])}


async def test_deployment_creates_named_owned_pods_and_reports_status(cluster: Cluster) -> None:
    await cluster.client.create(DEPLOYMENTS, deployment("web", 3))
    pods = await cluster.pods.until(lambda items: len(live(items, "web")) == 3)
    dep = cluster.deployment("web")
    template_hash = pods[0]["metadata"]["labels"][POD_TEMPLATE_HASH]
    for pod in pods:
        name = pod["metadata"]["name"]
        assert name.startswith(f"web-{template_hash}-") and len(name) == len(f"web-{template_hash}-") + 5
        assert pod["metadata"]["labels"]["app"] == "web"
        owner = pod["metadata"]["ownerReferences"][0]
        assert (owner["uid"], owner["controller"]) == (dep["metadata"]["uid"], True)
    for pod in pods[:2]:
        await cluster.set_ready(pod)
    dep_items = await cluster.deployments.until(lambda d: d[0].get("status", {}).get("readyReplicas") == 2)
    status = dep_items[0]["status"]
    assert (status["replicas"], status["updatedReplicas"], status["availableReplicas"]) == (3, 3, 2)
    assert status["observedGeneration"] == dep_items[0]["metadata"]["generation"]
    assert conditions(dep_items[0])["Available"] == ("False", "MinimumReplicasUnavailable")
    await cluster.set_ready(pods[2])
    done = await cluster.deployments.until(lambda d: d[0].get("status", {}).get("availableReplicas") == 3)
    assert conditions(done[0]) == {
        "Available": ("True", "MinimumReplicasAvailable"),
        "Progressing": ("True", "NewReplicaSetAvailable"),
    }
    events = await cluster.client.list(EVENTS, "default", field_selector="involvedObject.name=web")
    assert any(e["reason"] == "ScalingReplicaSet" for e in events["items"])


async def test_scale_subresource_down_removes_not_ready_then_youngest(cluster: Cluster) -> None:
    await cluster.client.create(DEPLOYMENTS, deployment("web", 3))
    pods = await cluster.pods.until(lambda items: len(live(items, "web")) == 3)
    now = datetime.datetime.now(datetime.UTC)
    old, young, _starting = pods
    await cluster.set_ready(old, at=now - datetime.timedelta(minutes=5))
    await cluster.set_ready(young, at=now)
    await cluster.deployments.until(lambda d: d[0].get("status", {}).get("readyReplicas") == 2)
    await cluster.client.patch(DEPLOYMENTS, "web", {"spec": {"replicas": 2}}, subresource="scale")
    left = await cluster.pods.until(lambda items: len(live(items, "web")) == 2)
    assert {p["metadata"]["name"] for p in left} == {old["metadata"]["name"], young["metadata"]["name"]}
    await cluster.client.patch(DEPLOYMENTS, "web", {"spec": {"replicas": 1}}, subresource="scale")
    left = await cluster.pods.until(lambda items: len(live(items, "web")) == 1)
    assert [p["metadata"]["name"] for p in left] == [old["metadata"]["name"]]
    await cluster.client.patch(DEPLOYMENTS, "web", {"spec": {"replicas": 0}}, subresource="scale")
    await cluster.pods.until(lambda items: not live(items, "web"))
    dep = await cluster.deployments.until(lambda d: "replicas" not in d[0].get("status", {}))
    assert conditions(dep[0])["Available"] == ("True", "MinimumReplicasAvailable")


def count_is(split: Callable[[Items], tuple[Items, Items]], which: int, expected: int, items: Items) -> bool:
    return len(split(items)[which]) == expected


async def test_template_change_rolls_over_with_max_unavailable_zero(cluster: Cluster) -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    await cluster.client.create(DEPLOYMENTS, deployment("web", 2, strategy=strategy))
    first = await cluster.pods.until(lambda items: len(live(items, "web")) == 2)
    for pod in first:
        await cluster.set_ready(pod)
    await cluster.deployments.until(lambda d: d[0].get("status", {}).get("availableReplicas") == 2)
    old_hash = first[0]["metadata"]["labels"][POD_TEMPLATE_HASH]
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "v2"}]}}}}
    await cluster.client.patch(DEPLOYMENTS, "web", patch, patch_type="strategic")

    def split(items: Items) -> tuple[Items, Items]:
        pods = live(items, "web")
        return (
            [p for p in pods if p["metadata"]["labels"][POD_TEMPLATE_HASH] == old_hash],
            [p for p in pods if p["metadata"]["labels"][POD_TEMPLATE_HASH] != old_hash],
        )

    for step in range(2):
        items = await cluster.pods.until(functools.partial(count_is, split, 1, step + 1))
        old, new = split(items)
        assert len(old) == 2 - step, "no old pod may go before its replacement is ready"
        fresh = [p for p in new if not p.get("status", {}).get("conditions")]
        assert len(fresh) == 1
        await cluster.set_ready(fresh[0])
        await cluster.pods.until(functools.partial(count_is, split, 0, 1 - step))
    done = await cluster.deployments.until(
        lambda d: d[0].get("status", {}).get("updatedReplicas") == 2 and d[0]["status"].get("replicas") == 2
    )
    assert conditions(done[0])["Progressing"][1] in ("ReplicaSetUpdated", "NewReplicaSetAvailable")


async def test_progress_deadline_exceeded_when_pods_never_get_ready(cluster: Cluster) -> None:
    await cluster.client.create(DEPLOYMENTS, deployment("slow", 1, progressDeadlineSeconds=60))
    await cluster.pods.until(lambda items: len(live(items, "slow")) == 1)
    await cluster.deployments.until(lambda d: conditions(d[0]).get("Progressing", ("", ""))[0] == "True")
    cluster.clock.offset = datetime.timedelta(seconds=120)
    # Any change makes the controller look again; it then sees the deadline has passed.
    await cluster.client.patch(DEPLOYMENTS, "slow", {"metadata": {"annotations": {"poke": "1"}}})
    dep = await cluster.deployments.until(lambda d: conditions(d[0])["Progressing"][0] == "False")
    assert conditions(dep[0])["Progressing"] == ("False", "ProgressDeadlineExceeded")


async def test_deleting_a_deployment_deletes_its_pods(cluster: Cluster) -> None:
    await cluster.client.create(DEPLOYMENTS, deployment("web", 2))
    await cluster.pods.until(lambda items: len(live(items, "web")) == 2)
    await cluster.client.delete(DEPLOYMENTS, "web", propagation_policy="Background")
    await cluster.pods.until(lambda items: not [p for p in items if owned_by("web")(p)])


# --- endpoints -------------------------------------------------------------------------------


def service(name: str = "web", selector: dict[str, str] | None = None) -> Obj:
    spec: Obj = {"ports": [{"name": "http", "port": 80, "targetPort": "http"}]}
    if selector is not None:
        spec["selector"] = selector
    return {"metadata": {"name": name}, "spec": spec}


def bare_pod(name: str, port: int) -> Obj:
    container = {"name": "c", "image": "x", "ports": [{"name": "http", "containerPort": port}]}
    # Bound to a node, so deleting it is graceful (a kubelet would confirm) and observable.
    return {
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"nodeName": "local", "containers": [container]},
    }


def addresses(endpoints: Items, field_name: str = "addresses") -> set[tuple[str, int]]:
    found = set()
    for ep in endpoints:
        for subset in ep.get("subsets") or []:
            for address in subset.get(field_name) or []:
                for port in subset["ports"]:
                    found.add((address["targetRef"]["name"], port["port"]))
    return found


async def test_endpoints_follow_readiness_with_named_target_ports(cluster: Cluster) -> None:
    await cluster.client.create(SERVICES, service(selector={"app": "web"}))
    a = await cluster.client.create(PODS, bare_pod("a", 9001))
    b = await cluster.client.create(PODS, bare_pod("b", 9002))
    await cluster.set_ready(a)
    await cluster.set_ready(b, ready=False)
    eps = await cluster.endpoints.until(lambda e: addresses(e, "notReadyAddresses") == {("b", 9002)})
    assert addresses(eps) == {("a", 9001)}
    assert eps[0]["subsets"][0]["addresses"][0]["ip"] == "127.0.0.1"
    started = time.perf_counter()
    await cluster.set_ready(b)
    eps = await cluster.endpoints.until(lambda e: addresses(e) == {("a", 9001), ("b", 9002)})
    assert time.perf_counter() - started < 2.0
    assert addresses(eps, "notReadyAddresses") == set()


async def test_a_pod_being_deleted_leaves_endpoints_at_once(cluster: Cluster) -> None:
    await cluster.client.create(SERVICES, service(selector={"app": "web"}))
    for name, port in (("a", 9001), ("b", 9002)):
        await cluster.set_ready(await cluster.client.create(PODS, bare_pod(name, port)))
    await cluster.endpoints.until(lambda e: addresses(e) == {("a", 9001), ("b", 9002)})
    await cluster.client.delete(PODS, "a")
    await cluster.endpoints.until(lambda e: addresses(e) == {("b", 9002)})
    still_there = cluster.pods.informer.get("a", "default")
    assert still_there is not None and still_there["metadata"].get("deletionTimestamp")


async def test_service_lifecycle_and_selectorless_services(cluster: Cluster) -> None:
    await cluster.client.create(SERVICES, service("manual"))
    manual = {
        "metadata": {"name": "manual"},
        "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": 1}]}],
    }
    await cluster.client.create(ENDPOINTS, manual)
    await cluster.client.create(SERVICES, service(selector={"app": "web"}))
    await cluster.endpoints.until(lambda e: {x["metadata"]["name"] for x in e} == {"manual", "web"})
    kept = cluster.endpoints.informer.get("manual", "default")
    assert kept is not None
    assert kept["subsets"][0]["addresses"] == [{"ip": "127.0.0.1"}], (
        "a selectorless Service's Endpoints are left alone"
    )
    await cluster.client.delete(SERVICES, "web")
    await cluster.endpoints.until(lambda e: {x["metadata"]["name"] for x in e} == {"manual"})
    # Endpoints with no Service at all (yet) are not the controller's to delete either.
    await cluster.client.create(ENDPOINTS, {**manual, "metadata": {"name": "early"}})
    await cluster.client.patch(ENDPOINTS, "early", {"metadata": {"labels": {"touched": "yes"}}})
    await cluster.client.create(SERVICES, service("marker", selector={"app": "none"}))
    await cluster.endpoints.until(lambda e: "marker" in {x["metadata"]["name"] for x in e})
    assert cluster.endpoints.informer.get("early", "default") is not None


async def test_scale_from_zero_reaches_endpoints(cluster: Cluster) -> None:
    svc = service(selector={"app": "web"})
    await cluster.client.create(SERVICES, svc)
    await cluster.client.create(DEPLOYMENTS, deployment("web", 0))
    await cluster.endpoints.until(bool)
    started = time.perf_counter()
    await cluster.client.patch(DEPLOYMENTS, "web", {"spec": {"replicas": 1}}, subresource="scale")
    pods = await cluster.pods.until(lambda items: len(live(items, "web")) == 1)
    created = time.perf_counter()
    await cluster.set_ready(pods[0])
    readied = time.perf_counter()
    await cluster.endpoints.until(lambda e: addresses(e) == {(pods[0]["metadata"]["name"], 8080)})
    listed = time.perf_counter()
    print(f"\nscale->pod seen {1000 * (created - started):.1f} ms;", end=" ")
    print(f"ready->endpoints {1000 * (listed - readied):.1f} ms")
    assert listed - started < 5.0


async def test_pods_the_api_refuses_show_as_replica_failure(cluster: Cluster) -> None:
    # A webhook that cannot be reached, with failurePolicy Fail, for pods labelled app=bad only:
    # the API server then refuses every such pod, as a cluster would.
    hook = {
        "name": "refuse.example.com",
        "clientConfig": {"url": "https://127.0.0.1:1/refuse"},
        "rules": [
            {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}
        ],
        "objectSelector": {"matchLabels": {"app": "bad"}},
        "failurePolicy": "Fail",
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "timeoutSeconds": 1,
    }
    await cluster.client.create(MUTATING_WEBHOOKS, {"metadata": {"name": "refuse"}, "webhooks": [hook]})
    await cluster.client.create(DEPLOYMENTS, deployment("bad", 1))
    dep = await cluster.deployments.until(lambda d: bool(d) and "ReplicaFailure" in conditions(d[0]))
    assert conditions(dep[0])["ReplicaFailure"] == ("True", "FailedCreate")
    await cluster.client.delete(MUTATING_WEBHOOKS, "refuse")
    await cluster.client.patch(DEPLOYMENTS, "bad", {"metadata": {"annotations": {"retry": "now"}}})
    await cluster.pods.until(lambda items: len(live(items, "bad")) == 1)
    dep = await cluster.deployments.until(lambda d: "ReplicaFailure" not in conditions(d[0]))


async def test_endpoint_slices_follow_pods_per_port(cluster: Cluster) -> None:
    await cluster.client.create(SERVICES, service(selector={"app": "web"}))
    for name, port in (("a", 9001), ("b", 9002)):
        await cluster.set_ready(await cluster.client.create(PODS, bare_pod(name, port)))
    slices = View.of(cluster.client, ENDPOINT_SLICES)
    async with slices.informer:

        def ports(items: Items) -> dict[int, list[tuple[str, bool]]]:
            return {
                s["ports"][0]["port"]: [
                    (e["targetRef"]["name"], e["conditions"]["ready"]) for e in s["endpoints"]
                ]
                for s in items
                if s.get("ports")
            }

        await slices.until(lambda items: ports(items) == {9001: [("a", True)], 9002: [("b", True)]})
        await cluster.client.delete(PODS, "a")
        await slices.until(lambda items: ports(items).get(9001) == [("a", False)])  # terminating, listed
        await cluster.client.delete(PODS, "a", grace_period_seconds=0)
        await slices.until(lambda items: 9001 not in ports(items))


async def test_controllers_stop_promptly_even_when_the_api_is_unreachable() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with ApiClient(Connection.local(f"http://127.0.0.1:{port}")) as client:
        stop = asyncio.Event()
        task = asyncio.create_task(run_controllers(client, stop), name="unreachable-controllers")
        await asyncio.sleep(0)  # let it start its informers, which now retry with backoff
        before = {t.get_name() for t in asyncio.all_tasks()}
        assert any(name.startswith("controllers:") for name in before)
        stop.set()
        async with asyncio.timeout(5):
            await task
        assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("controllers:")]


async def test_kubectl_rollout_status_get_and_scale(cluster: Cluster, kubectl: Kubectl) -> None:
    manifest = json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", **deployment("web", 2)})
    await asyncio.to_thread(kubectl.run, "apply", "-f", "-", input=manifest)
    rollout = asyncio.create_task(
        asyncio.to_thread(kubectl.run, "rollout", "status", "deployment/web", "--timeout=20s")
    )
    pods = await cluster.pods.until(lambda items: len(live(items, "web")) == 2)
    for pod in pods:
        await cluster.set_ready(pod)
    done = await rollout
    assert 'deployment "web" successfully rolled out' in done.stdout
    table = await asyncio.to_thread(kubectl.run, "get", "deployment", "web", "--no-headers")
    assert table.stdout.split()[1:4] == ["2/2", "2", "2"]
    await asyncio.to_thread(kubectl.run, "scale", "deployment/web", "--replicas=1")
    await cluster.pods.until(lambda items: len(live(items, "web")) == 1)
