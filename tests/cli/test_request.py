"""`kwake request`: through the real gateway (in process, routes given), revision from its access log."""

from __future__ import annotations

import asyncio
from pathlib import Path

from serving.cli.kn.request import find_in_access_log
from serving.cli.kn.session import SERVICES
from tests.activator import objects as o
from tests.activator.conftest import StartBackend, StartGateway, hello_app
from tests.cli.conftest import Cluster, Kwake
from tests.cli.test_service import ready_status

HOST = "hello.default.localhost"


class FileLines:
    """An access-log sink writing each line to a file at once."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, line: str) -> None:
        with self.path.open("a") as stream:
            stream.write(line + "\n")


async def test_request_reports_status_time_and_the_revision_that_served(
    cluster: Cluster, kwake: Kwake, start_backend: StartBackend, start_gateway: StartGateway, tmp_path: Path
) -> None:
    pod = await start_backend(hello_app())
    log = tmp_path / "access.log"
    gateway = await start_gateway(
        o.ingress("hello", [HOST], [o.path([o.split("hello-00001", 100)])]),
        o.endpoints("hello-00001", [pod.port]),
        access_log=FileLines(log),
    )
    await asyncio.to_thread(kwake, "service", "create", "hello", "--cmd", "app", "--no-wait")
    await asyncio.to_thread(cluster.set_status, SERVICES, "hello", ready_status())

    result = await asyncio.to_thread(
        kwake, "request", "hello", "/x?y=1", "--gateway", gateway.url, "--access-log", str(log)
    )
    assert result.code == 0, result.err
    first, second, body = result.out.splitlines()[:3]
    assert first.startswith("200 OK in ") and f"(Host: {HOST}, GET /x?y=1)" in first
    assert (
        second.startswith("revision: hello-00001, pod at 127.0.0.1:")
        and "(from the gateway's access log)" in second
    )
    assert body == "hello"

    # No access log: a Service whose traffic all goes to one revision still names it.
    fallback = await asyncio.to_thread(
        kwake, "request", "hello", "-q", "--gateway", gateway.url, "--access-log", str(tmp_path / "none")
    )
    assert "revision: hello-00001 (from all traffic goes to it)" in fallback.out
    assert len(fallback.out.splitlines()) == 2  # -q: no body

    # A split with no access log: the gateway's response names no revision; say so.
    split = ready_status()
    split["traffic"] = [
        {"revisionName": "hello-00001", "percent": 50},
        {"revisionName": "hello-00002", "percent": 50},
    ]
    await asyncio.to_thread(cluster.set_status, SERVICES, "hello", split)
    unknown = await asyncio.to_thread(
        kwake, "request", "hello", "--gateway", gateway.url, "--access-log", str(tmp_path / "none")
    )
    assert "revision: unknown (the gateway's response names none" in unknown.out


async def test_an_unreachable_gateway_is_named(cluster: Cluster, kwake: Kwake) -> None:
    await asyncio.to_thread(kwake, "service", "create", "hello", "--cmd", "app", "--no-wait")
    await asyncio.to_thread(cluster.set_status, SERVICES, "hello", ready_status())
    result = await asyncio.to_thread(kwake, "request", "hello", "--gateway", "http://127.0.0.1:9")
    assert result.code == 1
    assert "cannot reach the gateway at http://127.0.0.1:9" in result.err and "--gateway" in result.err


def test_the_access_log_line_is_found_by_request_id() -> None:
    lines = [
        "not json kwake-1",
        '{"request_id":"kwake-2","revision":"r2","pod":"default/p"}',
        '{"request_id":"kwake-1","revision":"r1","pod":null}',
    ]
    found = find_in_access_log(lines, "kwake-1")
    assert found is not None and (found.revision, found.pod) == ("r1", None)
    assert find_in_access_log(lines, "kwake-3") is None
