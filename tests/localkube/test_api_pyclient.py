# mypy: disable-error-code="union-attr,index,arg-type"
# (the client models make every field Optional and type custom objects as `object`; the asserts check them)
"""The official kubernetes Python client against localkube: typed, custom objects, watch, 410."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from localkube.server.runner import ThreadedApiServer
from tests.localkube.apihttp import WIDGET_CRD


@contextlib.contextmanager
def api_client(server: ThreadedApiServer) -> Iterator[client.ApiClient]:
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(server.kubeconfig), client_configuration=configuration)
    api = client.ApiClient(configuration)
    try:
        yield api
    finally:
        # ApiClient.close() leaves urllib3's keep-alive connections open; close them before the server goes.
        api.rest_client.pool_manager.clear()
        api.close()


@pytest.fixture
def k8s(apiserver: ThreadedApiServer) -> Iterator[client.ApiClient]:
    with api_client(apiserver) as api:
        yield api


def test_typed_crud(k8s: client.ApiClient) -> None:
    core = client.CoreV1Api(k8s)
    apps = client.AppsV1Api(k8s)
    made = core.create_namespaced_config_map(
        "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c1"), data={"a": "1"})
    )
    assert made.metadata.uid and made.data == {"a": "1"}
    core.patch_namespaced_config_map("c1", "default", {"data": {"b": "2"}})
    assert core.read_namespaced_config_map("c1", "default").data == {"a": "1", "b": "2"}
    names = [cm.metadata.name for cm in core.list_namespaced_config_map("default").items]
    assert names == ["c1"]
    deployment = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels={"app": "web"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "web"}),
                spec=client.V1PodSpec(
                    containers=[client.V1Container(name="app", image="x", command=["true"])]
                ),
            ),
        ),
    )
    apps.create_namespaced_deployment("default", deployment)
    scale = apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 3}})
    assert scale.spec.replicas == 3
    assert apps.read_namespaced_deployment("web", "default").spec.replicas == 3
    core.delete_namespaced_config_map("c1", "default", propagation_policy="Background")
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("c1", "default")
    assert missing.value.status == 404


def test_custom_objects_crud(k8s: client.ApiClient) -> None:
    client.ApiextensionsV1Api(k8s).create_custom_resource_definition(WIDGET_CRD)
    custom = client.CustomObjectsApi(k8s)
    body = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 2}}
    custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", body)
    custom.patch_namespaced_custom_object_status(
        "example.com", "v1", "default", "widgets", "w1", {"status": {"phase": "Ready"}}
    )
    got = custom.get_namespaced_custom_object("example.com", "v1", "default", "widgets", "w1")
    assert got["status"] == {"phase": "Ready"} and got["spec"]["size"] == 2
    listed = custom.list_cluster_custom_object("example.com", "v1", "widgets")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["w1"]
    with pytest.raises(ApiException) as as_list:  # the client sends a list body as merge-patch
        custom.patch_namespaced_custom_object(
            "example.com",
            "v1",
            "default",
            "widgets",
            "w1",
            [{"op": "replace", "path": "/spec/size", "value": 3}],
        )
    assert as_list.value.status == 400
    custom.delete_namespaced_custom_object("example.com", "v1", "default", "widgets", "w1")
    assert custom.list_namespaced_custom_object("example.com", "v1", "default", "widgets")["items"] == []


def test_watch_resumes_from_a_resource_version_across_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = ThreadedApiServer(state).start()
    try:
        with api_client(first) as api:
            core = client.CoreV1Api(api)
            made = core.create_namespaced_config_map(
                "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="a"))
            )
            start_rv = made.metadata.resource_version
            core.create_namespaced_config_map(
                "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="b"))
            )
    finally:
        first.stop()
    second = ThreadedApiServer(state).start()  # a new port: the kubeconfig is rewritten
    try:
        with api_client(second) as api:
            core = client.CoreV1Api(api)
            core.create_namespaced_config_map(
                "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c"))
            )
            stream = watch.Watch().stream(
                core.list_namespaced_config_map, "default", resource_version=start_rv, timeout_seconds=5
            )
            seen = []
            for event in stream:
                seen.append((event["type"], event["object"].metadata.name))
                if len(seen) == 2:
                    break
            assert seen == [("ADDED", "b"), ("ADDED", "c")]
    finally:
        second.stop()


def test_an_expired_resource_version_raises_410(apiserver: ThreadedApiServer, k8s: client.ApiClient) -> None:
    core = client.CoreV1Api(k8s)
    core.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="a")))
    api = apiserver.server.api
    assert api is not None
    api.store._log_retention = 0
    apiserver.loop.call_soon_threadsafe(api.store.compact)
    with pytest.raises(ApiException) as gone:
        for _ in watch.Watch().stream(
            core.list_namespaced_config_map, "default", resource_version="1", timeout_seconds=5
        ):
            pass
    assert gone.value.status == 410
