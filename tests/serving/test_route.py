"""Traffic resolution, host names, and the KIngress builder, against golden objects."""

from __future__ import annotations

from typing import Any

import pytest

from serving.api.config import Config
from serving.api.types import Configuration, Revision, Route, traffic_of
from serving.reconciler.route import domains
from serving.reconciler.route.resources.ingress import make_ingress, route_status_fields
from serving.reconciler.route.traffic import ResolvedTraffic, RevisionTarget, TrafficError, resolve_traffic

from .fixtures import revision_body

LOCAL = Config.from_configmaps({"config-domain": {"localhost": ""}})


def _route(traffic: list[dict[str, Any]], labels: dict[str, str] | None = None) -> Route:
    return Route.from_body(
        {
            "metadata": {"name": "hello", "namespace": "default", "uid": "rt-uid", "labels": labels or {}},
            "spec": {"traffic": traffic},
        }
    )


def _config(name: str, latest_ready: str = "", ready: str = "Unknown") -> Configuration:
    return Configuration.from_body(
        {
            "metadata": {"name": name, "namespace": "default"},
            "status": {
                "latestReadyRevisionName": latest_ready,
                "conditions": [{"type": "Ready", "status": ready}],
            },
        }
    )


def _rev(name: str, ready: str = "True", config: str = "hello") -> Revision:
    body = revision_body(name, ready=ready)
    body["metadata"]["labels"]["serving.knative.dev/configuration"] = config
    return Revision.from_body(body)


CONFIGS = {"hello": _config("hello", "hello-00002", "True")}
REVS = {"hello-00001": _rev("hello-00001"), "hello-00002": _rev("hello-00002")}
SPLIT = [
    {"tag": "current", "revisionName": "hello-00001", "latestRevision": False, "percent": 80},
    {"tag": "candidate", "configurationName": "hello", "latestRevision": True, "percent": 20},
    {"tag": "latest", "configurationName": "hello", "latestRevision": True, "percent": 0},
]


def test_resolve_split_with_tags() -> None:
    got = resolve_traffic(traffic_of(SPLIT), CONFIGS, REVS)
    assert isinstance(got, ResolvedTraffic)
    assert got.targets == {
        "": (
            RevisionTarget("hello-00001", 80, "current", "hello", False),
            RevisionTarget("hello-00002", 20, "candidate", "hello", True),
        ),
        "current": (RevisionTarget("hello-00001", 100, "current", "hello", False),),
        "candidate": (RevisionTarget("hello-00002", 100, "candidate", "hello", True),),
        "latest": (RevisionTarget("hello-00002", 100, "latest", "hello", True),),
    }
    assert got.configurations == ("hello",)
    assert got.revisions == ("hello-00001", "hello-00002")


@pytest.mark.parametrize(
    ("traffic", "configs", "revs", "want"),
    [
        (
            [{"configurationName": "nope", "percent": 100}],
            CONFIGS,
            REVS,
            TrafficError("missing", "Configuration", "nope"),
        ),
        (
            [{"revisionName": "nope", "percent": 100}],
            CONFIGS,
            REVS,
            TrafficError("missing", "Revision", "nope"),
        ),
        (
            [{"configurationName": "c", "percent": 100}],
            {"c": _config("c")},
            REVS,
            TrafficError("config_not_ready", "Configuration", "c"),
        ),
        (
            [{"configurationName": "c", "percent": 100}],
            {"c": _config("c", ready="False")},
            REVS,
            TrafficError("config_failed", "Configuration", "c"),
        ),
        (
            [{"revisionName": "r", "percent": 100}],
            CONFIGS,
            {"r": _rev("r", ready="Unknown")},
            TrafficError("revision_not_ready", "Revision", "r"),
        ),
        (
            [{"revisionName": "r", "percent": 100}],
            CONFIGS,
            {"r": _rev("r", ready="False")},
            TrafficError("revision_failed", "Revision", "r"),
        ),
        (
            # A missing target is reported before an unready one.
            [{"revisionName": "r", "percent": 50}, {"revisionName": "gone", "percent": 50}],
            CONFIGS,
            {"r": _rev("r", ready="Unknown")},
            TrafficError("missing", "Revision", "gone"),
        ),
    ],
)
def test_resolve_errors(
    traffic: list[dict[str, Any]],
    configs: dict[str, Configuration],
    revs: dict[str, Revision],
    want: TrafficError,
) -> None:
    assert resolve_traffic(traffic_of(traffic), configs, revs) == want


def test_errors_mark_the_route_as_knative_does() -> None:
    status = TrafficError("config_not_ready", "Configuration", "hello").mark({}, 0.0)
    (cond,) = [c for c in status["conditions"] if c["type"] == "AllTrafficAssigned"]
    assert cond["status"] == "Unknown"
    assert cond["message"] == 'Configuration "hello" is waiting for a Revision to become ready.'
    assert TrafficError("missing", "Revision", "x").is_failure
    assert not TrafficError("revision_not_ready", "Revision", "x").is_failure


def test_same_revision_twice_is_consolidated() -> None:
    got = resolve_traffic(
        traffic_of(
            [
                {"revisionName": "hello-00002", "percent": 30},
                {"configurationName": "hello", "latestRevision": True, "percent": 70},
            ]
        ),
        CONFIGS,
        REVS,
    )
    assert isinstance(got, ResolvedTraffic)
    assert [(t.revision_name, t.percent) for t in got.targets[""]] == [("hello-00002", 100)]
    assert [t.percent for t in got.revision_targets] == [30, 70]


def test_domains() -> None:
    route = _route([])
    assert domains.url(route, LOCAL) == "http://hello.default.localhost"
    assert domains.url(route, LOCAL, "canary") == "http://canary-hello.default.localhost"
    assert domains.address_url(route, LOCAL) == "http://hello.default.svc.cluster.local"
    # No config-domain entry: the default domain is cluster-local.
    assert domains.url(route, Config()) == "http://hello.default.svc.cluster.local"
    local = _route([], labels={"networking.knative.dev/visibility": "cluster-local"})
    assert domains.is_cluster_local(local, LOCAL)
    assert domains.url(local, LOCAL, "canary") == "http://canary-hello.default.svc.cluster.local"


def _split(rev: str, pct: int) -> dict[str, Any]:
    return {
        "serviceNamespace": "default",
        "serviceName": rev,
        "servicePort": 80,
        "percent": pct,
        "appendHeaders": {"Knative-Serving-Revision": rev, "Knative-Serving-Namespace": "default"},
    }


LOCAL_HOSTS = ["hello.default", "hello.default.svc", "hello.default.svc.cluster.local"]


def test_make_ingress_golden() -> None:
    traffic = [{"configurationName": "hello", "latestRevision": True, "percent": 100}]
    resolved = resolve_traffic(traffic_of(traffic), CONFIGS, REVS)
    assert isinstance(resolved, ResolvedTraffic)
    ing = make_ingress(_route(traffic), resolved, LOCAL)
    ing["metadata"]["annotations"].pop("serving.kwake.dev/spec-hash")
    assert ing == {
        "apiVersion": "networking.internal.knative.dev/v1alpha1",
        "kind": "Ingress",
        "metadata": {
            "name": "hello",
            "namespace": "default",
            "labels": {"serving.knative.dev/route": "hello", "serving.knative.dev/routeNamespace": "default"},
            "annotations": {
                "networking.knative.dev/ingress.class": "kwake.ingress.networking.knative.dev",
                "networking.internal.knative.dev/rollout": '{"configurations": []}',
            },
            "ownerReferences": [
                {
                    "apiVersion": "serving.knative.dev/v1",
                    "kind": "Route",
                    "name": "hello",
                    "uid": "rt-uid",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "httpOption": "Enabled",
            "rules": [
                {
                    "hosts": LOCAL_HOSTS,
                    "visibility": "ClusterLocal",
                    "http": {"paths": [{"splits": [_split("hello-00002", 100)]}]},
                },
                {
                    "hosts": ["hello.default.localhost"],
                    "visibility": "ExternalIP",
                    "http": {"paths": [{"splits": [_split("hello-00002", 100)]}]},
                },
            ],
        },
    }


def test_ingress_tags_and_zero_percent() -> None:
    resolved = resolve_traffic(traffic_of(SPLIT), CONFIGS, REVS)
    assert isinstance(resolved, ResolvedTraffic)
    spec = make_ingress(_route(SPLIT), resolved, LOCAL)["spec"]
    hosts = [(r["visibility"], r["hosts"]) for r in spec["rules"]]
    assert hosts == [
        ("ClusterLocal", LOCAL_HOSTS),
        ("ExternalIP", ["hello.default.localhost"]),
        (
            "ClusterLocal",
            [
                "candidate-hello.default",
                "candidate-hello.default.svc",
                "candidate-hello.default.svc.cluster.local",
            ],
        ),
        ("ExternalIP", ["candidate-hello.default.localhost"]),
        (
            "ClusterLocal",
            ["current-hello.default", "current-hello.default.svc", "current-hello.default.svc.cluster.local"],
        ),
        ("ExternalIP", ["current-hello.default.localhost"]),
        (
            "ClusterLocal",
            ["latest-hello.default", "latest-hello.default.svc", "latest-hello.default.svc.cluster.local"],
        ),
        ("ExternalIP", ["latest-hello.default.localhost"]),
    ]
    assert spec["rules"][1]["http"]["paths"] == [
        {"splits": [_split("hello-00001", 80), _split("hello-00002", 20)]}
    ]
    assert spec["rules"][7]["http"]["paths"] == [{"splits": [_split("hello-00002", 100)]}]


def test_ingress_tag_header_routing() -> None:
    cfg = Config.from_configmaps(
        {"config-domain": {"localhost": ""}, "config-features": {"tag-header-based-routing": "Enabled"}}
    )
    resolved = resolve_traffic(traffic_of(SPLIT[:2]), CONFIGS, REVS)
    assert isinstance(resolved, ResolvedTraffic)
    spec = make_ingress(_route(SPLIT[:2]), resolved, cfg)["spec"]
    default_paths = spec["rules"][1]["http"]["paths"]
    assert default_paths == [
        {"headers": {"Knative-Serving-Tag": {"exact": "candidate"}}, "splits": [_split("hello-00002", 100)]},
        {"headers": {"Knative-Serving-Tag": {"exact": "current"}}, "splits": [_split("hello-00001", 100)]},
        {
            "splits": [_split("hello-00001", 80), _split("hello-00002", 20)],
            "appendHeaders": {"Knative-Serving-Default-Route": "true"},
        },
    ]
    tag_path = spec["rules"][3]["http"]["paths"]
    assert tag_path == [
        {"splits": [_split("hello-00002", 100)], "appendHeaders": {"Knative-Serving-Tag": "candidate"}}
    ]


def test_cluster_local_route_has_no_external_rule() -> None:
    traffic = [{"configurationName": "hello", "latestRevision": True, "percent": 100}]
    resolved = resolve_traffic(traffic_of(traffic), CONFIGS, REVS)
    assert isinstance(resolved, ResolvedTraffic)
    route = _route(traffic, labels={"networking.knative.dev/visibility": "cluster-local"})
    ing = make_ingress(route, resolved, LOCAL)
    assert [r["visibility"] for r in ing["spec"]["rules"]] == ["ClusterLocal"]
    assert ing["metadata"]["labels"]["networking.knative.dev/visibility"] == "cluster-local"


def test_route_status_fields() -> None:
    resolved = resolve_traffic(traffic_of(SPLIT), CONFIGS, REVS)
    assert isinstance(resolved, ResolvedTraffic)
    assert route_status_fields(_route(SPLIT), resolved, LOCAL) == {
        "url": "http://hello.default.localhost",
        "address": {"url": "http://hello.default.svc.cluster.local"},
        "traffic": [
            {
                "tag": "current",
                "revisionName": "hello-00001",
                "latestRevision": False,
                "percent": 80,
                "url": "http://current-hello.default.localhost",
            },
            {
                "tag": "candidate",
                "revisionName": "hello-00002",
                "latestRevision": True,
                "percent": 20,
                "url": "http://candidate-hello.default.localhost",
            },
            {
                "tag": "latest",
                "revisionName": "hello-00002",
                "latestRevision": True,
                "percent": 0,
                "url": "http://latest-hello.default.localhost",
            },
        ],
    }
