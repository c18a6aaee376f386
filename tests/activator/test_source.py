"""Routing sources: parsing object files and reloading them; the static source's live replace."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import yaml

from activator.source import ClusterSnapshot, FileRoutingSource, StaticRoutingSource, parse_objects
from tests.activator import objects as o
from tests.activator.polling import eventually

OBJECTS = [
    o.ingress("svc", ["h"], [o.path([o.split("svc-1", 100)])]),
    o.endpoints("svc-1", [8080]),
    o.revision("svc-1", container_concurrency=3),
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ignored"}},
]


def test_parse_multi_document_yaml_json_lists_and_kind_list() -> None:
    as_yaml = yaml.safe_dump_all(OBJECTS)
    as_json_list = json.dumps(OBJECTS)
    as_kind_list = json.dumps({"apiVersion": "v1", "kind": "List", "items": OBJECTS})
    for text in (as_yaml, as_json_list, as_kind_list):
        assert parse_objects(text) == OBJECTS
    snapshot = ClusterSnapshot.from_objects(parse_objects(as_yaml))
    assert (len(snapshot.ingresses), len(snapshot.endpoints), len(snapshot.revisions)) == (1, 1, 1)


async def test_file_source_applies_at_start_and_again_when_the_file_changes(tmp_path: Path) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(yaml.safe_dump_all(OBJECTS[:1]))
    seen: list[ClusterSnapshot] = []
    source = FileRoutingSource(routes, poll_s=0.01)
    task = asyncio.create_task(source.run(seen.append))
    try:
        await eventually(lambda: len(seen) == 1)
        assert seen[0].endpoints == ()
        routes.write_text(yaml.safe_dump_all(OBJECTS))
        await eventually(lambda: len(seen) == 2)
        assert len(seen[1].endpoints) == 1
        routes.write_text("{not json")  # a broken edit keeps the last good routes
        await asyncio.sleep(0.05)
        assert len(seen) == 2
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_static_source_replace_applies_synchronously_while_running() -> None:
    seen: list[ClusterSnapshot] = []
    source = StaticRoutingSource()
    task = asyncio.create_task(source.run(seen.append))
    await eventually(lambda: len(seen) == 1)
    source.replace(ClusterSnapshot.from_objects(OBJECTS))
    assert len(seen) == 2 and len(seen[1].ingresses) == 1
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
