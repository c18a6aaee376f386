"""The routing table built from KIngress objects: hosts, header matches, splits."""

from __future__ import annotations

from activator.routing import Path, RevisionKey, RoutingTable, normalize_host
from tests.activator import objects as o


def test_host_normalisation() -> None:
    assert normalize_host("Hello.Example.COM:8080") == "hello.example.com"
    assert normalize_host("hello.example.com.") == "hello.example.com"
    assert normalize_host("hello.example.com.:80") == "hello.example.com"
    assert normalize_host("[::1]:8080") == "[::1]"
    assert normalize_host("") == ""


def test_every_host_of_every_rule_routes_to_its_paths() -> None:
    ingress = o.ingress(
        "svc", ["svc.ns.example.com", "svc.ns.svc.cluster.local"], [o.path([o.split("svc-1", 100)])]
    )
    table = RoutingTable.from_ingresses([ingress])
    for host in ("svc.ns.example.com", "SVC.ns.svc.cluster.local:80"):
        found = table.lookup(host, "/", {})
        assert found is not None and found.splits[0].revision == RevisionKey("default", "svc-1")
    assert table.lookup("other.example.com", "/", {}) is None
    assert table.generations == {("default", "svc"): 1}


def test_header_match_decides_the_path_and_first_match_wins() -> None:
    ingress = o.ingress(
        "svc",
        ["h"],
        [
            o.path([o.split("tagged", 100)], headers={"Knative-Serving-Tag": "canary"}),
            o.path([o.split("default", 100)]),
        ],
    )
    table = RoutingTable.from_ingresses([ingress])
    tagged = table.lookup("h", "/", {"Knative-Serving-Tag": "canary"})
    assert tagged is not None and tagged.splits[0].revision.name == "tagged"
    other = table.lookup("h", "/", {"Knative-Serving-Tag": "nope"})
    assert other is not None and other.splits[0].revision.name == "default"


def test_only_header_paths_and_no_match_is_no_route() -> None:
    ingress = o.ingress("svc", ["h"], [o.path([o.split("t", 100)], headers={"Knative-Serving-Tag": "x"})])
    assert RoutingTable.from_ingresses([ingress]).lookup("h", "/", {}) is None


def test_split_pick_is_weighted_by_percent() -> None:
    path = Path.from_body(o.path([o.split("a", 70), o.split("b", 0), o.split("c", 30)]), "svc")
    assert [s.revision.name for s in path.splits] == ["a", "c"]
    first = path.pick(0.0)
    assert first is not None and first.revision.name == "a"
    picks = [path.pick(i / 100) for i in range(100)]
    names = [p.revision.name for p in picks if p is not None]
    assert names.count("a") == 70 and names.count("c") == 30


def test_a_lone_split_without_percent_takes_everything() -> None:
    body = o.path([o.split("a", 0)])
    path = Path.from_body(body, "svc")
    picked = path.pick(0.99)
    assert picked is not None and picked.percent == 100


def test_routing_headers_name_the_revision_and_are_not_forwarded() -> None:
    split = o.split("svc-1", 100, namespace="ns")
    split["appendHeaders"]["X-Extra"] = "1"
    path = Path.from_body(o.path([split], append={"Knative-Serving-Default-Route": "true"}), "svc")
    (only,) = path.splits
    assert only.revision == RevisionKey("ns", "svc-1")
    assert only.append_headers == (("X-Extra", "1"),)
    assert path.append_headers == (("Knative-Serving-Default-Route", "true"),)


def test_other_ingress_classes_and_deleted_ingresses_are_ignored() -> None:
    foreign = o.ingress(
        "a",
        ["a"],
        [o.path([o.split("a", 100)])],
        annotations={"networking.knative.dev/ingress.class": "istio"},
    )
    deleted = o.ingress("b", ["b"], [o.path([o.split("b", 100)])])
    deleted["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    mine = o.ingress(
        "c",
        ["c"],
        [o.path([o.split("c", 100)])],
        annotations={"networking.knative.dev/ingress.class": "kwake.ingress.networking.knative.dev"},
    )
    table = RoutingTable.from_ingresses([foreign, deleted, mine])
    assert set(table.hosts) == {"c"}


def test_the_older_ingress_keeps_a_contested_host() -> None:
    old = o.ingress("old", ["h"], [o.path([o.split("old-1", 100)])])
    old["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    new = o.ingress("new", ["h"], [o.path([o.split("new-1", 100)])])
    new["metadata"]["creationTimestamp"] = "2026-02-01T00:00:00Z"
    found = RoutingTable.from_ingresses([new, old]).lookup("h", "/", {})
    assert found is not None and found.splits[0].revision.name == "old-1"


def test_path_regex_restricts_the_path() -> None:
    body = o.path([o.split("acme", 100)])
    body["path"] = "/.well-known/acme-challenge/"
    ingress = o.ingress("svc", ["h"], [body, o.path([o.split("app", 100)])])
    table = RoutingTable.from_ingresses([ingress])
    acme = table.lookup("h", "/.well-known/acme-challenge/x", {})
    app = table.lookup("h", "/index.html", {})
    assert acme is not None and acme.splits[0].revision.name == "acme"
    assert app is not None and app.splits[0].revision.name == "app"


def test_revisions_lists_every_routed_revision_with_its_service() -> None:
    ingress = o.ingress("svc", ["h"], [o.path([o.split("a", 50), o.split("b", 50)])])
    assert RoutingTable.from_ingresses([ingress]).revisions() == {
        RevisionKey("default", "a"): "a",
        RevisionKey("default", "b"): "b",
    }
