"""KIngress status: Ready only when every gateway replica serves the generation."""

from __future__ import annotations

import aiohttp

from activator.ingress_status import ingress_status, served_by_all, served_report
from tests.activator import objects as o
from tests.activator.conftest import StartGateway


def test_served_by_all_needs_every_replica_at_or_past_the_generation() -> None:
    reports = [{"default/svc": 3}, {"default/svc": 4}]
    assert served_by_all("default", "svc", 3, reports)
    assert not served_by_all("default", "svc", 4, reports)
    assert not served_by_all("default", "other", 1, reports)
    assert not served_by_all("default", "svc", 1, [])


def test_status_body_follows_knatives_shape() -> None:
    ready = ingress_status(7, True, now_rfc3339="2026-01-01T00:00:00Z")
    assert ready["observedGeneration"] == 7
    assert {c["type"]: c["status"] for c in ready["conditions"]} == {
        "LoadBalancerReady": "True",
        "NetworkConfigured": "True",
        "Ready": "True",
    }
    domain = ready["publicLoadBalancer"]["ingress"][0]["domainInternal"]
    assert domain == "kwake-gateway.kwake-system.svc.cluster.local"
    waiting = ingress_status(7, False, now_rfc3339="2026-01-01T00:00:00Z")
    (ready_condition,) = [c for c in waiting["conditions"] if c["type"] == "Ready"]
    assert ready_condition["status"] == "Unknown" and ready_condition["reason"] == "Uninitialized"


async def test_each_replica_reports_what_it_serves(
    start_gateway: StartGateway, client: aiohttp.ClientSession
) -> None:
    gw = await start_gateway(
        o.ingress("svc", ["h"], [o.path([o.split("svc-1", 100)])], generation=3), admin=True
    )
    async with client.get(gw.admin_url + "/served") as resp:
        report = await resp.json()
    assert report == {"default/svc": 3}
    assert served_by_all("default", "svc", 3, [report])
    assert served_report({("b", "x"): 1, ("a", "y"): 2}) == {"a/y": 2, "b/x": 1}
