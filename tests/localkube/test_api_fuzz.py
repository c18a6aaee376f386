"""Fuzzed bodies, patches, names and selectors: localkube answers 4xx, never 500, and its store holds."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localkube.server.runner import ThreadedApiServer

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
METADATA = st.fixed_dictionaries(
    {"name": st.one_of(st.text(max_size=70), st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True))},
    optional={
        "labels": st.dictionaries(st.text(max_size=70), st.text(max_size=70), max_size=3),
        "namespace": st.sampled_from(["default", "other", "", "Bad_NS"]),
        "finalizers": st.lists(st.text(max_size=20), max_size=2),
        "resourceVersion": st.text(max_size=5),
    },
)
OBJECTS = st.one_of(
    JSON, st.fixed_dictionaries({"metadata": METADATA}, optional={"data": JSON, "spec": JSON})
)
PATCH_TYPES = st.sampled_from(
    [
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
        "application/json",
        "text/plain",
    ]
)
PATHS = st.sampled_from(
    [
        "/api/v1/namespaces/default/configmaps",
        "/apis/apps/v1/namespaces/default/deployments",
        "/api/v1/namespaces",
        "/api/v1/namespaces/default/pods",
    ]
)


class Client:
    def __init__(self, server: ThreadedApiServer) -> None:
        self.base = server.url
        self.ctx = ssl.create_default_context(
            cadata=(server.state_dir / "pki" / "apiserver-ca.crt").read_text()
        )
        self.token = server.token()

    def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> int:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": content_type, "Accept": accept}
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, context=self.ctx, timeout=10) as response:
                response.read()
                return int(response.status)
        except urllib.error.HTTPError as exc:
            payload = json.loads(exc.read() or b"{}")
            assert payload.get("kind") == "Status", payload
            return int(exc.code)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    server = ThreadedApiServer(tmp_path_factory.mktemp("fuzz") / "state").start()
    try:
        yield Client(server)
    finally:
        server.stop()


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(path=PATHS, body=OBJECTS)
def test_fuzzed_creates_never_fail_the_server(client: Client, path: str, body: Any) -> None:
    assert client.call("POST", path, json.dumps(body).encode()) < 500
    assert client.call("GET", path, accept="application/json;as=Table;v=v1;g=meta.k8s.io") == 200


@FUZZ
@given(raw=st.binary(max_size=200))
def test_garbage_bodies_are_bad_requests(client: Client, raw: bytes) -> None:
    assert client.call("POST", "/api/v1/namespaces/default/configmaps", raw) < 500


@FUZZ
@given(patch=JSON, content_type=PATCH_TYPES)
def test_fuzzed_patches_never_fail_the_server(client: Client, patch: Any, content_type: str) -> None:
    path = "/api/v1/namespaces/default/configmaps/fuzz-target"
    client.call(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        json.dumps({"metadata": {"name": "fuzz-target"}}).encode(),
    )
    assert client.call("PATCH", path, json.dumps(patch).encode(), content_type) < 500
    assert client.call("GET", path) == 200  # still there, still readable


@FUZZ
@given(labels=st.text(max_size=40), fields=st.text(max_size=40), name=st.text(max_size=40))
def test_fuzzed_selectors_and_names_never_fail_the_server(
    client: Client, labels: str, fields: str, name: str
) -> None:
    query = urllib.parse.urlencode({"labelSelector": labels, "fieldSelector": fields})
    assert client.call("GET", f"/api/v1/namespaces/default/configmaps?{query}") < 500
    quoted = urllib.parse.quote(name, safe="")
    if quoted:
        assert client.call("GET", f"/api/v1/namespaces/default/configmaps/{quoted}") in (200, 400, 404)
        assert client.call("DELETE", f"/api/v1/namespaces/default/configmaps/{quoted}") < 500
