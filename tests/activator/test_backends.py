"""Ready pods from Endpoints, revision settings from Revisions, and replica subsetting."""

from __future__ import annotations

from activator.backends import PodAddress, RevisionSettings, ready_addresses
from activator.subsetting import ReplicaSlot, assign_pods
from tests.activator import objects as o


def test_only_ready_addresses_count_and_they_sort_by_ip_numerically() -> None:
    body = {
        "subsets": [
            {
                "addresses": [{"ip": "10.0.0.10"}, {"ip": "10.0.0.9"}],
                "notReadyAddresses": [{"ip": "10.0.0.1"}],
                "ports": [{"name": "metrics", "port": 9090}, {"name": "http", "port": 8080}],
            }
        ]
    }
    assert ready_addresses(body) == (PodAddress("10.0.0.9", 8080), PodAddress("10.0.0.10", 8080))


def test_localkube_style_endpoints_one_port_per_pod() -> None:
    body = o.endpoints("r", [40001, 40002], not_ready=[40003])
    assert ready_addresses(body) == (PodAddress("127.0.0.1", 40001), PodAddress("127.0.0.1", 40002))


def test_empty_endpoints_have_no_pods() -> None:
    assert ready_addresses({"subsets": None}) == ()
    assert ready_addresses({}) == ()


def test_ipv6_authority_is_bracketed() -> None:
    assert PodAddress("::1", 80).authority == "[::1]:80"


def test_revision_settings_defaults_and_values() -> None:
    assert RevisionSettings.from_revision({"spec": {}}) == RevisionSettings(0, 300.0, 300.0)
    settings = RevisionSettings.from_revision(
        o.revision("r", container_concurrency=4, timeout_s=60, response_start_s=10)
    )
    assert settings == RevisionSettings(4, 60.0, 10.0)
    # A response-start timeout above the request timeout is capped by it.
    capped = RevisionSettings.from_revision(o.revision("r", timeout_s=5, response_start_s=10))
    assert capped.response_start_timeout_s == 5.0


PODS = [PodAddress(f"10.0.0.{i}", 80) for i in range(1, 6)]


def test_cc_zero_and_a_single_replica_use_every_pod() -> None:
    assert [p for p, _ in assign_pods(PODS, ReplicaSlot(1, 3), 0)] == PODS
    assert assign_pods(PODS, ReplicaSlot(0, 1), 5) == [(p, 5) for p in PODS]


def test_pods_are_sliced_between_replicas_with_the_remainder_handed_out() -> None:
    slices = [[p for p, _ in assign_pods(PODS, ReplicaSlot(i, 2), 2)] for i in range(2)]
    assert slices == [[PODS[0], PODS[1], PODS[4]], [PODS[2], PODS[3]]]
    assert sorted(p for s in slices for p in s) == sorted(PODS)


def test_more_replicas_than_pods_share_each_pods_capacity() -> None:
    pods = PODS[:2]
    assigned = [assign_pods(pods, ReplicaSlot(i, 5), 10) for i in range(5)]
    # Replicas 0, 2, 4 share pod 0 (10 // 3 each); 1 and 3 share pod 1 (10 // 2 each).
    assert assigned == [[(pods[0], 3)], [(pods[1], 5)], [(pods[0], 3)], [(pods[1], 5)], [(pods[0], 3)]]
    per_pod: dict[PodAddress, int] = {}
    for share in assigned:
        for pod, capacity in share:
            per_pod[pod] = per_pod.get(pod, 0) + capacity
    assert all(total <= 10 for total in per_pod.values())


def test_a_replica_with_unknown_index_uses_every_pod() -> None:
    assert [p for p, _ in assign_pods(PODS, ReplicaSlot(-1, 3), 2)] == PODS
