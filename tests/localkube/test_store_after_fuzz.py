"""After fuzzed writes, the store lists and reads back exactly what the API acknowledged.

`test_api_fuzz.py` checks that fuzzed creates, patches, names and selectors never get a 500.
This checks the other half of "no corrupted store": a model records every object as the API
answered it (a 201 or 200 body), forgets it on a 200 delete, and after each example the
namespace's list and a GET of each name must match the model exactly, resourceVersion
included; then the same again after localkube restarts on its state dir.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localkube.server.runner import ThreadedApiServer

NAMESPACE = "default"
BASE = f"/api/v1/namespaces/{NAMESPACE}/configmaps"

TEXT = st.text(max_size=12)
NAMES = st.one_of(
    st.sampled_from(["a", "b", "c", "d"]), st.from_regex(r"[a-z][a-z0-9.-]{0,8}", fullmatch=True), TEXT
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=8,
)
DATA = st.one_of(st.dictionaries(TEXT, TEXT, max_size=3), JSON)
LABELS = st.one_of(st.dictionaries(TEXT, TEXT, max_size=2), JSON)
CREATE = st.tuples(st.just("create"), NAMES, DATA, LABELS)
PATCH = st.tuples(
    st.just("patch"),
    NAMES,
    st.sampled_from(
        [
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
            "application/json-patch+json",
        ]
    ),
    JSON,
)
REPLACE = st.tuples(st.just("replace"), NAMES, DATA, st.sampled_from(["current", "stale", "none", "junk"]))
DELETE = st.tuples(st.just("delete"), NAMES)
OPERATIONS = st.lists(st.one_of(CREATE, PATCH, REPLACE, DELETE), min_size=1, max_size=12)


class Client:
    def __init__(self, server: ThreadedApiServer) -> None:
        self.base = server.url
        self.ctx = ssl.create_default_context(
            cadata=(server.state_dir / "pki" / "apiserver-ca.crt").read_text()
        )
        self.token = server.token()

    def call(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": content_type,
            "Accept": "application/json",
        }
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, context=self.ctx, timeout=10) as response:
                return int(response.status), json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return int(exc.code), json.loads(exc.read() or b"null")


class Model:
    """The objects the API acknowledged, by name, as it answered them."""

    def __init__(self, untouched: set[str]) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        # Objects that were there before the fuzzing (and are never named by it).
        self.untouched = untouched


def _path(name: str) -> str:
    return f"{BASE}/{urllib.parse.quote(name, safe='')}"


def _apply(client: Client, model: Model, op: tuple[Any, ...]) -> None:
    kind, name = op[0], op[1]
    if name in model.untouched or not urllib.parse.quote(name, safe=""):
        return
    if kind == "create":
        status, answer = client.call(
            "POST", BASE, {"metadata": {"name": name, "labels": op[3]}, "data": op[2]}
        )
        assert status < 500, answer
        if status == 201:
            model.objects[name] = answer
    elif kind == "patch":
        status, answer = client.call("PATCH", _path(name), op[3], op[2])
        assert status < 500, answer
        if status == 200:
            model.objects[name] = answer
    elif kind == "replace":
        current = model.objects.get(name)
        body: dict[str, Any] = {"metadata": {"name": name}, "data": op[2]}
        version = {
            "current": (current or {}).get("metadata", {}).get("resourceVersion"),
            "stale": "1",
            "junk": "x",
        }
        if op[3] in version and version[op[3]] is not None:
            body["metadata"]["resourceVersion"] = version[op[3]]
        status, answer = client.call("PUT", _path(name), body)
        assert status < 500, answer
        if status in (200, 201):
            model.objects[name] = answer
    else:
        status, answer = client.call("DELETE", _path(name))
        assert status < 500, answer
        if status == 200:
            model.objects.pop(name, None)


def _assert_store_matches(client: Client, model: Model) -> None:
    status, listing = client.call("GET", BASE)
    assert status == 200, listing
    listed = {item["metadata"]["name"]: item for item in listing["items"]}
    assert set(listed) - model.untouched == set(model.objects)
    for name, acknowledged in model.objects.items():
        status, stored = client.call("GET", _path(name))
        assert status == 200, (name, stored)
        for view in (stored, listed[name]):
            assert view["metadata"]["resourceVersion"] == acknowledged["metadata"]["resourceVersion"], name
            assert view.get("data") == acknowledged.get("data"), name
            assert view["metadata"].get("labels") == acknowledged["metadata"].get("labels"), name


class Running:
    """The module's localkube, which a test may restart on the same state dir."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.server = ThreadedApiServer(state_dir).start()
        self.client = Client(self.server)
        status, listing = self.client.call("GET", BASE)
        assert status == 200
        self.model = Model({item["metadata"]["name"] for item in listing["items"]})

    def restart(self) -> None:
        self.server.stop()
        self.server = ThreadedApiServer(self.state_dir).start()
        self.client = Client(self.server)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    holder = Running(tmp_path_factory.mktemp("store-fuzz") / "state")
    try:
        yield holder
    finally:
        holder.server.stop()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=OPERATIONS)
def test_the_store_reads_back_exactly_what_was_acknowledged(
    running: Running, operations: list[tuple[Any, ...]]
) -> None:
    for op in operations:
        _apply(running.client, running.model, op)
    _assert_store_matches(running.client, running.model)


def test_after_a_restart_the_store_still_matches(running: Running) -> None:
    for name, data in (("restart-a", {"k": "v"}), ("restart-b", {})):
        _apply(running.client, running.model, ("create", name, data, {"l": "1"}))
    assert {"restart-a", "restart-b"} <= set(running.model.objects)
    running.restart()
    _assert_store_matches(running.client, running.model)
