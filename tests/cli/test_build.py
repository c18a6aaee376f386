"""The Service built from flags and the traffic kn's flags compute: pure tables, no server."""

from __future__ import annotations

from typing import Any

import pytest

from serving.cli.kn.build import service_from_flags, update_service
from serving.cli.kn.flags import FlagError, ServiceFlags
from serving.cli.kn.traffic import compute_traffic

MIN = "autoscaling.knative.dev/min-scale"
MAX = "autoscaling.knative.dev/max-scale"


def _template(body: dict[str, Any]) -> dict[str, Any]:
    template: dict[str, Any] = body["spec"]["template"]
    return template


def _container(body: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = _template(body)["spec"]["containers"][0]
    return container


def test_the_smallest_service_is_a_command_and_nothing_else() -> None:
    body = service_from_flags("hello", "default", ServiceFlags(command=("python3",), args=("-m", "app")))
    assert body == {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "hello", "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [{"command": ["python3"], "args": ["-m", "app"]}]}}},
    }


@pytest.mark.parametrize(
    ("flags", "where", "expected"),
    [
        (ServiceFlags(image="ghcr.io/x/y:1"), ("container", "image"), "ghcr.io/x/y:1"),
        (
            ServiceFlags(image="i", env=("A=1", "B=x=y", "A=2")),
            ("container", "env"),
            [{"name": "A", "value": "2"}, {"name": "B", "value": "x=y"}],
        ),
        (ServiceFlags(image="i", env=("A=",)), ("container", "env"), [{"name": "A", "value": ""}]),
        (ServiceFlags(image="i", port="8081"), ("container", "ports"), [{"containerPort": 8081}]),
        (
            ServiceFlags(image="i", port="h2c:9000"),
            ("container", "ports"),
            [{"containerPort": 9000, "name": "h2c"}],
        ),
        (ServiceFlags(image="i", concurrency_limit="10"), ("spec", "containerConcurrency"), 10),
        (ServiceFlags(image="i", scale_min="1"), ("annotations", MIN), "1"),
        (ServiceFlags(image="i", scale_max="5"), ("annotations", MAX), "5"),
        (ServiceFlags(image="i", scale_min="2", scale_max="0"), ("annotations", MAX), "0"),
        (
            ServiceFlags(image="i", scale_target="10"),
            ("annotations", "autoscaling.knative.dev/target"),
            "10",
        ),
        (
            ServiceFlags(image="i", scale_window="10s"),
            ("annotations", "autoscaling.knative.dev/window"),
            "10s",
        ),
        (
            ServiceFlags(image="i", scale_init="0"),
            ("annotations", "autoscaling.knative.dev/initial-scale"),
            "0",
        ),
        (ServiceFlags(image="i", annotations=("team/owner=me",)), ("annotations", "team/owner"), "me"),
        (ServiceFlags(image="i", revision_name="v1"), ("revision", "name"), "hello-v1"),
        (ServiceFlags(image="i", revision_name="hello-v2"), ("revision", "name"), "hello-v2"),
    ],
)
def test_each_flag_lands_where_knative_reads_it(
    flags: ServiceFlags, where: tuple[str, str], expected: object
) -> None:
    body = service_from_flags("hello", "ns", flags)
    place, key = where
    template = _template(body)
    found = {
        "container": lambda: _container(body)[key],
        "spec": lambda: template["spec"][key],
        "annotations": lambda: template["metadata"]["annotations"][key],
        "revision": lambda: template["metadata"][key],
    }[place]()
    assert found == expected


def test_autoscaling_annotations_stay_on_the_template_others_go_on_both() -> None:
    body = service_from_flags(
        "hello", "ns", ServiceFlags(image="i", annotations=(f"{MIN}=1", "team/owner=me"))
    )
    assert body["metadata"]["annotations"] == {"team/owner": "me"}
    assert _template(body)["metadata"]["annotations"] == {MIN: "1", "team/owner": "me"}


def test_tagging_latest_on_create_gives_it_a_named_url() -> None:
    body = service_from_flags("hello", "ns", ServiceFlags(image="i", tags=("@latest=current",)))
    assert body["spec"]["traffic"] == [{"latestRevision": True, "percent": 100, "tag": "current"}]


@pytest.mark.parametrize(
    ("name", "flags", "message"),
    [
        ("hello", ServiceFlags(), "--image IMAGE, or --cmd"),
        ("Hello_World", ServiceFlags(image="i"), "service name 'Hello_World' is not valid"),
        ("hello", ServiceFlags(image="i", env=("NOEQUALS",)), "--env 'NOEQUALS': expected NAME=VALUE"),
        ("hello", ServiceFlags(image="i", env=("=x",)), "--env '=x'"),
        ("hello", ServiceFlags(image="i", env=("1A=x",)), "'1A' is not a valid name"),
        ("hello", ServiceFlags(image="i", scale_min="-1"), "--scale-min '-1': must be at least 0"),
        ("hello", ServiceFlags(image="i", scale_min="one"), "--scale-min 'one': expected a whole number"),
        ("hello", ServiceFlags(image="i", scale_max="1.5"), "--scale-max '1.5'"),
        (
            "hello",
            ServiceFlags(image="i", scale_min="3", scale_max="2"),
            "--scale-min 3 is above --scale-max 2",
        ),
        ("hello", ServiceFlags(image="i", scale_target="0"), "--scale-target '0': must be at least 1"),
        ("hello", ServiceFlags(image="i", scale_window="1s"), "must be within 6s and 1h"),
        ("hello", ServiceFlags(image="i", scale_window="soon"), "expected a duration"),
        ("hello", ServiceFlags(image="i", concurrency_limit="-2"), "--concurrency-limit '-2'"),
        ("hello", ServiceFlags(image="i", port="70000"), "at most 65535"),
        ("hello", ServiceFlags(image="i", port="grpc:80"), "one of http1, h2c"),
        ("hello", ServiceFlags(image="i", annotations=("Bad Key=1",)), "'Bad Key' is not a valid name"),
        ("hello", ServiceFlags(image="i", tags=("hello-00001=old",)), "only @latest to tag"),
        ("hello", ServiceFlags(image="i", traffic=("@latest=100",)), "use kwake service update"),
        ("hello", ServiceFlags(image="i", revision_name="V_1"), "--revision-name 'V_1'"),
    ],
)
def test_bad_flags_are_refused_with_the_flag_named(name: str, flags: ServiceFlags, message: str) -> None:
    with pytest.raises(FlagError) as caught:
        service_from_flags(name, "ns", flags)
    assert message in str(caught.value)


def _existing() -> dict[str, Any]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {
            "name": "hello",
            "namespace": "ns",
            "resourceVersion": "7",
            "generation": 1,
            "uid": "u",
            "managedFields": [{}],
        },
        "spec": {
            "template": {
                "metadata": {"name": "hello-v1", "annotations": {MIN: "1"}},
                "spec": {
                    "containers": [
                        {"image": "i:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}
                    ]
                },
            },
            "traffic": [{"latestRevision": True, "percent": 100}],
        },
        "status": {"observedGeneration": 1},
    }


def test_update_changes_the_template_and_keeps_the_rest() -> None:
    body = update_service(_existing(), ServiceFlags(image="i:2", env=("A-", "C=3"), scale_min="0"))
    container = _container(body)
    assert container["image"] == "i:2"
    assert container["env"] == [{"name": "B", "value": "2"}, {"name": "C", "value": "3"}]
    assert _template(body)["metadata"] == {"annotations": {MIN: "0"}}  # the used revision name is dropped
    assert body["metadata"]["resourceVersion"] == "7"  # a conditional update
    assert "status" not in body and "managedFields" not in body["metadata"]
    assert body["spec"]["traffic"] == [{"latestRevision": True, "percent": 100}]


def test_update_of_traffic_alone_keeps_the_template() -> None:
    existing = _existing()
    body = update_service(existing, ServiceFlags(traffic=("hello-v1=100",)))
    assert body["spec"]["template"] == existing["spec"]["template"]
    assert body["spec"]["traffic"] == [{"revisionName": "hello-v1", "latestRevision": False, "percent": 100}]


LATEST: dict[str, Any] = {"latestRevision": True, "percent": 100}


@pytest.mark.parametrize(
    ("current", "tags", "untags", "traffic", "expected"),
    [
        # Blue/green: pin the old revision under a tag, send half to the new one.
        (
            [LATEST],
            ["r1=blue"],
            [],
            ["blue=50", "@latest=50"],
            [
                {"latestRevision": True, "percent": 50},
                {"tag": "blue", "percent": 50, "revisionName": "r1", "latestRevision": False},
            ],
        ),
        # Tagging latest names the existing target.
        ([LATEST], ["@latest=current"], [], [], [{"latestRevision": True, "percent": 100, "tag": "current"}]),
        # An empty block means Knative's default: all to @latest.
        ([], [], [], ["@latest=100"], [{"latestRevision": True, "percent": 100}]),
        # Targets left untagged at 0% are dropped; tagged ones stay at 0%.
        (
            [
                {"revisionName": "r1", "percent": 60},
                {"revisionName": "r2", "percent": 40, "tag": "canary"},
            ],
            [],
            [],
            ["@latest=100"],
            [
                {"revisionName": "r2", "percent": 0, "tag": "canary"},
                {"latestRevision": True, "percent": 100},
            ],
        ),
        # Untag, and the revision's share stays.
        (
            [{"revisionName": "r1", "percent": 100, "tag": "old"}],
            [],
            ["old"],
            [],
            [{"revisionName": "r1", "percent": 100}],
        ),
        # A revision named directly.
        (
            [LATEST],
            [],
            [],
            ["r1=10", "@latest=90"],
            [
                {"latestRevision": True, "percent": 90},
                {"revisionName": "r1", "latestRevision": False, "percent": 10},
            ],
        ),
    ],
)
def test_traffic_flags_compute_like_kn(
    current: list[dict[str, Any]],
    tags: list[str],
    untags: list[str],
    traffic: list[str],
    expected: list[dict[str, Any]],
) -> None:
    assert compute_traffic(current, tags=tags, untags=untags, traffic=traffic) == expected


@pytest.mark.parametrize(
    ("tags", "untags", "traffic", "message"),
    [
        ([], [], ["@latest=60", "r1=30"], "sum to 90"),
        ([], [], ["@latest=abc"], "not a whole number percent"),
        ([], [], ["@latest=150"], "within 0 and 100"),
        ([], [], ["r1=50", "r1=50"], "more than once"),
        ([], [], ["r1"], "expected REVISION=PERCENT"),
        (["r1=a", "r2=a"], [], [], "tag 'a' is given more than once"),
        (["r1=x"], [], [], "tag 'x' is already in use"),
        ([], ["nope"], [], "no traffic target has that tag"),
    ],
)
def test_bad_traffic_flags_are_refused(
    tags: list[str], untags: list[str], traffic: list[str], message: str
) -> None:
    current = [{"latestRevision": True, "percent": 100, "tag": "x"}]
    with pytest.raises(FlagError) as caught:
        compute_traffic(current, tags=tags, untags=untags, traffic=traffic)
    assert message in str(caught.value)
