"""kube-apiserver's object rules, checked on the wire against a real localkube server."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path

from localkube.server.runner import StateDirBusy, ThreadedApiServer
from tests.localkube.apihttp import WIDGET_CRD, RawApi, cm

CMS = "/api/v1/namespaces/default/configmaps"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"
WIDGETS = "/apis/example.com/v1/namespaces/default/widgets"


def deployment(name: str, replicas: int = 1) -> dict[str, object]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "x", "command": ["true"]}]},
            },
        },
    }


async def test_create_fills_server_fields_and_generate_name(apiserver: ThreadedApiServer) -> None:
    async with RawApi(apiserver) as api:
        made = await api.call("POST", CMS, {"metadata": {"generateName": "cfg-"}, "data": {"a": "1"}})
        assert made.status == 201
        md = made.body["metadata"]
        assert md["name"].startswith("cfg-") and len(md["name"]) > 4
        assert md["uid"] and md["creationTimestamp"].endswith("Z") and int(md["resourceVersion"]) > 0
        assert made.body["kind"] == "ConfigMap" and made.body["apiVersion"] == "v1"
        again = await api.call("POST", CMS, cm(md["name"]))
        assert again.status == 409 and again.body["reason"] == "AlreadyExists"
        assert again.body["message"] == f'configmaps "{md["name"]}" already exists'
        missing = await api.call("GET", CMS + "/nope")
        assert missing.status == 404 and missing.body["message"] == 'configmaps "nope" not found'


async def test_generation_moves_with_spec_only_and_conflicts_on_stale_rv(
    apiserver: ThreadedApiServer,
) -> None:
    async with RawApi(apiserver) as api:
        made = (await api.call("POST", DEPLOYS, deployment("web"))).body
        assert made["metadata"]["generation"] == 1
        labeled = await api.call(
            "PATCH",
            DEPLOYS + "/web",
            {"metadata": {"labels": {"x": "y"}}},
            content_type="application/merge-patch+json",
        )
        assert labeled.body["metadata"]["generation"] == 1
        scaled = await api.call(
            "PATCH", DEPLOYS + "/web", {"spec": {"replicas": 3}}, content_type="application/merge-patch+json"
        )
        assert scaled.body["metadata"]["generation"] == 2
        status = await api.call(
            "PATCH",
            DEPLOYS + "/web/status",
            {"status": {"replicas": 3}},
            content_type="application/merge-patch+json",
        )
        assert status.status == 200 and status.body["metadata"]["generation"] == 2
        assert status.body["status"]["replicas"] == 3
        # The main resource ignores status; the status subresource ignores spec.
        stale = copy.deepcopy(made)
        stale["spec"]["replicas"] = 5
        conflict = await api.call("PUT", DEPLOYS + "/web", stale)
        assert conflict.status == 409 and conflict.body["reason"] == "Conflict"
        assert "the object has been modified" in conflict.body["message"]
        current = (await api.call("GET", DEPLOYS + "/web")).body
        current["spec"]["replicas"] = 5
        current["status"] = {"replicas": 99}
        put = await api.call("PUT", DEPLOYS + "/web", current)
        assert put.status == 200 and put.body["spec"]["replicas"] == 5 and put.body["status"]["replicas"] == 3


async def test_noop_patch_keeps_resource_version(apiserver: ThreadedApiServer) -> None:
    async with RawApi(apiserver) as api:
        made = (await api.call("POST", CMS, cm("same"))).body
        again = await api.call(
            "PATCH", CMS + "/same", {"data": {"k": "v"}}, content_type="application/merge-patch+json"
        )
        assert again.body["metadata"]["resourceVersion"] == made["metadata"]["resourceVersion"]


async def test_patch_types_and_their_errors(apiserver: ThreadedApiServer) -> None:
    async with RawApi(apiserver) as api:
        rv = (await api.call("POST", CMS, cm("p"))).body["metadata"]["resourceVersion"]
        ops = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
            {"op": "add", "path": "/metadata/finalizers", "value": ["example.com/x"]},
        ]
        ok = await api.call("PATCH", CMS + "/p", ops, content_type="application/json-patch+json")
        assert ok.status == 200 and ok.body["metadata"]["finalizers"] == ["example.com/x"]
        failed = await api.call("PATCH", CMS + "/p", ops, content_type="application/json-patch+json")
        assert failed.status == 422
        wrong = await api.call("PATCH", CMS + "/p", ops, content_type="application/merge-patch+json")
        assert wrong.status == 400 and "json-patch" in wrong.body["message"]
        bogus = await api.call("PATCH", CMS + "/p", {"data": {}}, content_type="text/plain")
        assert bogus.status == 415
        rv_guard = await api.call(
            "PATCH",
            CMS + "/p",
            {"metadata": {"resourceVersion": "1"}, "data": {"a": "b"}},
            content_type="application/merge-patch+json",
        )
        assert rv_guard.status == 409
        smp = await api.call(
            "PATCH",
            CMS + "/p",
            {"data": {"n": "1", "k": None}},
            content_type="application/strategic-merge-patch+json",
        )
        assert smp.body["data"] == {"n": "1"}
        applied = await api.call(
            "PATCH",
            CMS + "/fresh?fieldManager=t",
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fresh"}, "data": {"z": "1"}},
            content_type="application/apply-patch+yaml",
        )
        assert applied.status == 201 and applied.body["data"] == {"z": "1"}


async def test_dry_run_writes_nothing(apiserver: ThreadedApiServer) -> None:
    async with RawApi(apiserver) as api:
        before = (await api.call("GET", CMS)).body["metadata"]["resourceVersion"]
        dry = await api.call("POST", CMS + "?dryRun=All", cm("ghost"))
        assert dry.status == 201 and dry.body["metadata"]["name"] == "ghost"
        assert (await api.call("GET", CMS + "/ghost")).status == 404
        assert (await api.call("GET", CMS)).body["metadata"]["resourceVersion"] == before


async def test_bad_input_gets_a_4xx_status_and_writes_nothing(apiserver: ThreadedApiServer) -> None:
    async with RawApi(apiserver) as api:
        before = (await api.call("GET", CMS)).body["metadata"]["resourceVersion"]
        cases = [
            await api.call("POST", CMS, raw=b"{not json"),
            await api.call("POST", CMS, raw=b"[1, 2]"),
            await api.call("POST", CMS, {"kind": "Secret", "metadata": {"name": "x"}}),
            await api.call("POST", CMS, {"apiVersion": "apps/v1", "metadata": {"name": "x"}}),
            await api.call("POST", CMS, cm("x", namespace="other")),
            await api.call("POST", CMS, cm("Not_A_Name")),
            await api.call("POST", CMS, {"metadata": {}}),
            await api.call("POST", CMS, {"metadata": {"name": "ok", "labels": {"bad key!": "v"}}}),
            await api.call("GET", CMS + "?labelSelector=a%20in%20(b"),
            await api.call("GET", "/api/v1/nosuchkind"),
            await api.call("GET", "/apis/nosuch.group/v1/things"),
            await api.call("POST", "/api/v1/namespaces/missing/configmaps", cm("x", namespace="missing")),
            await api.call("POST", CMS, raw=b"{" + b'"a":"' + b"x" * (4 * 1024 * 1024) + b'"}'),
        ]
        for reply in cases:
            assert 400 <= reply.status < 500, reply
            assert isinstance(reply.body, dict) and reply.body["kind"] == "Status" and reply.body["message"]
        invalid = cases[5].body
        assert invalid["reason"] == "Invalid" and invalid["details"]["causes"][0]["field"] == "metadata.name"
        assert cases[11].status == 404 and cases[11].body["message"] == 'namespaces "missing" not found'
        assert cases[12].status == 413
        assert (await api.call("GET", CMS)).body["metadata"]["resourceVersion"] == before


async def test_selectors_filter_lists(apiserver: ThreadedApiServer) -> None:
    async with RawApi(apiserver) as api:
        for name, tier in (("a", "web"), ("b", "db"), ("c", "web")):
            await api.call("POST", CMS, cm(name, metadata={"name": name, "labels": {"tier": tier}}))
        web = await api.call("GET", CMS + "?labelSelector=tier%3Dweb")
        assert [o["metadata"]["name"] for o in web.body["items"]] == ["a", "c"]
        not_web = await api.call("GET", CMS + "?labelSelector=tier!%3Dweb")
        assert [o["metadata"]["name"] for o in not_web.body["items"]] == ["b"]
        by_name = await api.call("GET", "/api/v1/configmaps?fieldSelector=metadata.name%3Db")
        assert [o["metadata"]["name"] for o in by_name.body["items"]] == ["b"]
        assert by_name.body["kind"] == "ConfigMapList"


async def test_finalizers_hold_deletion_until_removed(apiserver: ThreadedApiServer) -> None:
    async with RawApi(apiserver) as api:
        await api.call("POST", CMS, cm("held", metadata={"name": "held", "finalizers": ["example.com/keep"]}))
        deleting = await api.call("DELETE", CMS + "/held")
        assert deleting.status == 200 and deleting.body["metadata"]["deletionTimestamp"]
        assert (await api.call("GET", CMS + "/held")).status == 200
        added = await api.call(
            "PATCH",
            CMS + "/held",
            {"metadata": {"finalizers": ["example.com/keep", "new"]}},
            content_type="application/merge-patch+json",
        )
        assert added.status == 422
        released = await api.call(
            "PATCH",
            CMS + "/held",
            {"metadata": {"finalizers": None}},
            content_type="application/merge-patch+json",
        )
        assert released.status == 200
        assert (await api.call("GET", CMS + "/held")).status == 404


async def _wait_gone(api: RawApi, path: str) -> None:
    """Wait for the object at path to be removed, by watching it as kubectl wait --for=delete does."""
    collection, _, name = path.rpartition("/")
    current = await api.call("GET", path)
    if current.status == 404:
        return
    rv = current.body["metadata"]["resourceVersion"]
    events = await api.watch(
        f"{collection}?watch=true&resourceVersion={rv}&fieldSelector=metadata.name%3D{name}",
        until=1,
        stop=lambda e: e["type"] == "DELETED",
    )
    assert events and events[-1]["type"] == "DELETED"


async def test_owner_reference_garbage_collection(apiserver: ThreadedApiServer) -> None:
    async with RawApi(apiserver) as api:

        async def owned(owner_name: str, child: str) -> None:
            owner = (await api.call("POST", CMS, cm(owner_name))).body
            ref = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "name": owner_name,
                "uid": owner["metadata"]["uid"],
            }
            await api.call("POST", CMS, cm(child, metadata={"name": child, "ownerReferences": [ref]}))

        await owned("bg", "bg-child")
        await api.call("DELETE", CMS + "/bg", {"propagationPolicy": "Background"})
        await _wait_gone(api, CMS + "/bg-child")

        await owned("orphaner", "orphan")
        await api.call("DELETE", CMS + "/orphaner", {"propagationPolicy": "Orphan"})
        orphan = (await api.call("GET", CMS + "/orphan")).body
        assert "ownerReferences" not in orphan["metadata"]

        await owned("fg", "fg-child")
        await api.call(
            "PATCH",
            CMS + "/fg-child",
            {"metadata": {"finalizers": ["hold"]}},
            content_type="application/merge-patch+json",
        )
        fg = await api.call("DELETE", CMS + "/fg?propagationPolicy=Foreground")
        assert "foregroundDeletion" in fg.body["metadata"]["finalizers"]
        await asyncio.sleep(0.1)
        assert (await api.call("GET", CMS + "/fg")).status == 200  # waits for its child
        await api.call(
            "PATCH",
            CMS + "/fg-child",
            {"metadata": {"finalizers": None}},
            content_type="application/merge-patch+json",
        )
        await _wait_gone(api, CMS + "/fg")


async def test_deleting_a_namespace_deletes_its_content(apiserver: ThreadedApiServer) -> None:
    async with RawApi(apiserver) as api:
        await api.call("POST", "/api/v1/namespaces", {"metadata": {"name": "team"}})
        base = "/api/v1/namespaces/team/configmaps"
        await api.call("POST", base, cm("one", namespace="team"))
        gone = await api.call("DELETE", "/api/v1/namespaces/team")
        assert gone.body["status"]["phase"] == "Terminating"
        refused = await api.call("POST", base, cm("two", namespace="team"))
        assert refused.status in (403, 404)
        await _wait_gone(api, "/api/v1/namespaces/team")
        assert (await api.call("GET", base + "/one")).status == 404


async def test_custom_resources_validate_default_and_scale(apiserver: ThreadedApiServer) -> None:
    async with RawApi(apiserver) as api:
        assert (
            await api.call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", WIDGET_CRD)
        ).status == 201
        discovery = (await api.call("GET", "/apis/example.com/v1")).body
        names = {r["name"] for r in discovery["resources"]}
        assert {"widgets", "widgets/status", "widgets/scale"} <= names
        made = await api.call(
            "POST",
            WIDGETS,
            {
                "apiVersion": "example.com/v1",
                "kind": "Widget",
                "metadata": {"name": "w1"},
                "spec": {"replicas": 2},
            },
        )
        assert made.status == 201 and made.body["spec"]["size"] == 1  # schema default
        bad = await api.call(
            "POST",
            WIDGETS,
            {
                "apiVersion": "example.com/v1",
                "kind": "Widget",
                "metadata": {"name": "w2"},
                "spec": {"size": "big", "color": "green"},
            },
        )
        assert bad.status == 422
        fields = {c["field"] for c in bad.body["details"]["causes"]}
        assert {"spec.size", "spec.color"} <= fields
        unknown = await api.call(
            "POST",
            WIDGETS + "?fieldValidation=Strict",
            {
                "apiVersion": "example.com/v1",
                "kind": "Widget",
                "metadata": {"name": "w3"},
                "spec": {"shape": "x"},
            },
        )
        assert unknown.status == 400 and 'unknown field "spec.shape"' in unknown.body["message"]
        scale = await api.call("GET", WIDGETS + "/w1/scale")
        assert scale.body["kind"] == "Scale" and scale.body["spec"]["replicas"] == 2
        scaled = await api.call(
            "PATCH",
            WIDGETS + "/w1/scale",
            {"spec": {"replicas": 4}},
            content_type="application/merge-patch+json",
        )
        assert scaled.body["spec"]["replicas"] == 4
        assert (await api.call("GET", WIDGETS + "/w1")).body["spec"]["replicas"] == 4
        table = await api.call(
            "GET", WIDGETS, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
        )
        assert [c["name"] for c in table.body["columnDefinitions"]] == ["Name", "Size", "Ready", "Age"]
        assert table.body["rows"][0]["cells"][:2] == ["w1", 1]
        await api.call(
            "DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com"
        )
        assert (await api.call("GET", WIDGETS)).status == 404


async def test_watch_replays_from_a_resource_version_and_filters(apiserver: ThreadedApiServer) -> None:
    async with RawApi(apiserver) as api:
        start = (await api.call("GET", CMS)).body["metadata"]["resourceVersion"]
        await api.call("POST", CMS, cm("w1", metadata={"name": "w1", "labels": {"app": "x"}}))
        await api.call(
            "PATCH", CMS + "/w1", {"data": {"k": "2"}}, content_type="application/merge-patch+json"
        )
        await api.call(
            "PATCH",
            CMS + "/w1",
            {"metadata": {"labels": {"app": "y"}}},
            content_type="application/merge-patch+json",
        )
        await api.call("DELETE", CMS + "/w1")
        events = await api.watch(f"{CMS}?watch=true&resourceVersion={start}", until=4)
        assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "MODIFIED", "DELETED"]
        rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
        assert rvs == sorted(rvs) and rvs[0] > int(start)
        filtered = await api.watch(f"{CMS}?watch=true&resourceVersion={start}&labelSelector=app%3Dx", until=3)
        # Leaving the selector reads as DELETED, as kube-apiserver reports it.
        assert [e["type"] for e in filtered] == ["ADDED", "MODIFIED", "DELETED"]


async def test_watch_without_resource_version_starts_with_what_exists(apiserver: ThreadedApiServer) -> None:
    async with RawApi(apiserver) as api:
        await api.call("POST", CMS, cm("here"))

        async def later() -> None:
            await asyncio.sleep(0.1)
            await api.call("POST", CMS, cm("new"))

        task = asyncio.create_task(later())
        events = await api.watch(f"{CMS}?watch=true", until=2)
        await task
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
            ("ADDED", "here"),
            ("ADDED", "new"),
        ]


async def test_watch_from_a_compacted_resource_version_gets_410_in_stream(
    apiserver: ThreadedApiServer,
) -> None:
    async with RawApi(apiserver) as api:
        await api.call("POST", CMS, cm("c1"))
        store = apiserver.server.api.store if apiserver.server.api else None
        assert store is not None
        store._log_retention = 0  # compact everything: no replay is possible any more
        apiserver.loop.call_soon_threadsafe(store.compact)
        await asyncio.sleep(0.05)
        events = await api.watch(f"{CMS}?watch=true&resourceVersion=1", until=1)
        assert events[0]["type"] == "ERROR" and events[0]["object"]["code"] == 410
        assert events[0]["object"]["reason"] == "Expired"


async def test_bookmarks_and_timeout_end_the_stream(apiserver: ThreadedApiServer) -> None:
    async with RawApi(apiserver) as api:
        rv = (await api.call("GET", CMS)).body["metadata"]["resourceVersion"]
        events = await api.watch(
            f"{CMS}?watch=true&resourceVersion={rv}&timeoutSeconds=1", until=10, seconds=5
        )
        assert events == []  # ended by timeoutSeconds, cleanly


async def test_state_and_watches_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = ThreadedApiServer(state).start()
    try:
        async with RawApi(first) as api:
            rv = (await api.call("POST", CMS, cm("kept"))).body["metadata"]["resourceVersion"]
            await api.call(
                "PATCH", CMS + "/kept", {"data": {"k": "2"}}, content_type="application/merge-patch+json"
            )
    finally:
        first.stop()
    second = ThreadedApiServer(state).start()
    try:
        async with RawApi(second) as api:
            kept = (await api.call("GET", CMS + "/kept")).body
            assert kept["data"] == {"k": "2"}
            events = await api.watch(f"{CMS}?watch=true&resourceVersion={rv}", until=1)
            assert events[0]["type"] == "MODIFIED" and events[0]["object"]["data"] == {"k": "2"}
            made = (await api.call("POST", CMS, cm("after"))).body
            assert int(made["metadata"]["resourceVersion"]) > int(kept["metadata"]["resourceVersion"])
    finally:
        second.stop()


async def test_a_second_server_on_the_same_state_dir_is_refused(apiserver: ThreadedApiServer) -> None:
    other = ThreadedApiServer(apiserver.state_dir)
    try:
        other.start()
    except StateDirBusy as exc:
        assert "already running" in str(exc)
    else:
        raise AssertionError("a second server started on a busy state dir")
    finally:
        other.stop()


async def test_requests_without_the_token_are_refused(apiserver: ThreadedApiServer) -> None:
    async with RawApi(apiserver) as api:
        anonymous = await api.call("GET", CMS, headers={"Authorization": "Bearer wrong"})
        assert anonymous.status == 401 and anonymous.body["reason"] == "Unauthorized"
        basic = await api.call("GET", CMS, headers={"Authorization": f"Basic {apiserver.token()}"})
        assert basic.status == 401
        lower = await api.call("GET", CMS, headers={"Authorization": f"bearer {apiserver.token()}"})
        assert lower.status == 200  # the scheme is case-insensitive (RFC 7235), as kopf sends it


async def test_a_terminating_pod_keeps_its_status_writes_until_the_kubelet_confirms(
    apiserver: ThreadedApiServer,
) -> None:
    pods = "/api/v1/namespaces/default/pods"
    pod = {
        "metadata": {"name": "p"},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "x", "command": ["true"]}]},
    }
    async with RawApi(apiserver) as api:
        assert (await api.call("POST", pods, pod)).status == 201
        deleting = await api.call("DELETE", pods + "/p")
        assert deleting.body["metadata"]["deletionGracePeriodSeconds"] == 30
        status = await api.call(
            "PATCH",
            pods + "/p/status",
            {"status": {"phase": "Running"}},
            content_type="application/merge-patch+json",
        )
        assert status.status == 200 and status.body["status"]["phase"] == "Running"
        assert (await api.call("GET", pods + "/p")).status == 200
        confirmed = await api.call("DELETE", pods + "/p", {"gracePeriodSeconds": 0})
        assert confirmed.status == 200
        assert (await api.call("GET", pods + "/p")).status == 404


async def test_a_dependent_of_an_owner_already_gone_is_collected(apiserver: ThreadedApiServer) -> None:
    async with RawApi(apiserver) as api:
        ghost = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": "gone",
            "uid": "00000000-dead-4000-8000-000000000000",
        }
        await api.call(
            "POST", CMS, cm("late-child", metadata={"name": "late-child", "ownerReferences": [ghost]})
        )
        await _wait_gone(api, CMS + "/late-child")
