"""What the harness reads from kwake's gateway: its queue depth, from the real metrics text."""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest

from activator.metrics import GatewayMetrics
from loadtests.kwake import parse_queue_depth, read_access_log


def test_queue_depth_is_read_per_revision_from_the_gateways_metrics() -> None:
    metrics = GatewayMetrics(CollectorRegistry())
    metrics.queue_depth.labels("default", "hello-00001").set(7)
    metrics.queue_depth.labels("default", "hello-00002").set(2)
    metrics.observe_request("default", "hello", "hello-00001", 200, 0.01)
    text = generate_latest(metrics.registry).decode()
    assert parse_queue_depth(text) == {"hello-00001": 7.0, "hello-00002": 2.0}


def test_access_log_counts_revisions_of_one_host_after_an_offset_and_a_time(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    lines = [
        {"time": 10.0, "host": "hello.default.localhost:8080", "revision": "hello-00001"},  # before `since`
        {"time": 20.0, "host": "hello.default.localhost:8080", "revision": "hello-00001"},
        {"time": 21.0, "host": "hello.default.localhost", "revision": "hello-00002"},
        {"time": 22.0, "host": "other.default.localhost", "revision": "other-00001"},
        {"time": 23.0, "host": "hello.default.localhost", "revision": None},  # no route: not counted
    ]
    head = json.dumps({"time": 1.0, "host": "hello.default.localhost", "revision": "old"}) + "\n"
    log.write_text(head + "".join(json.dumps(line) + "\n" for line in lines) + "not json\n")
    counts = read_access_log(log, len(head), "hello.default.localhost", since=15.0)
    assert counts == {"hello-00001": 1, "hello-00002": 1}
