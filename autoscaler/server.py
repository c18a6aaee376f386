"""The autoscaler's HTTP endpoint (aiohttp): gateway stats and pokes in, metrics out.

* `POST /stats` -> 204; 400 for a malformed message or negative/NaN values (counted);
* `POST /poke` -> 202;
  on a standby replica both are also forwarded to the leader (see `autoscaler.forward`);
* `GET /metrics` -> Prometheus text from the service's own registry;
* `GET /healthz` -> 200.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from autoscaler.forward import FORWARDED_HEADER, LeaderForwarder
from autoscaler.service import AutoscalerService
from autoscaler.stats import InvalidMessage, parse_poke, parse_stats

SERVICE_KEY = web.AppKey("autoscaler_service", AutoscalerService)
REGISTRY_KEY = web.AppKey("autoscaler_registry", CollectorRegistry)
FORWARDER_KEY = web.AppKey("autoscaler_forwarder", LeaderForwarder)
MAX_BODY_BYTES = 4 * 1024 * 1024


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise InvalidMessage([f"the body is not JSON: {err}"]) from err


async def _pass_on(request: web.Request, raw: bytes) -> None:
    """A standby forwards what a gateway sent it (never what another replica forwarded)."""
    service = request.app[SERVICE_KEY]
    forwarder = request.app.get(FORWARDER_KEY)
    if forwarder is None or service.leading or FORWARDED_HEADER in request.headers:
        return
    if await forwarder.forward(request.path, raw):
        service.metrics.forwarded.inc()
    else:
        service.metrics.forward_errors.inc()


def _bad_request(err: InvalidMessage) -> web.Response:
    return web.json_response({"error": "invalid message", "problems": err.problems}, status=400)


async def handle_stats(request: web.Request) -> web.Response:
    service = request.app[SERVICE_KEY]
    raw = await request.read()
    try:
        message = parse_stats(_json(raw))
    except InvalidMessage as err:
        service.metrics.messages_rejected.inc()
        service.metrics.stats_rejected.inc(err.bad_stats)
        return _bad_request(err)
    await _pass_on(request, raw)
    await service.handle_stats(message)
    return web.Response(status=204)


async def handle_poke(request: web.Request) -> web.Response:
    service = request.app[SERVICE_KEY]
    raw = await request.read()
    try:
        poke = parse_poke(_json(raw))
    except InvalidMessage as err:
        service.metrics.messages_rejected.inc()
        return _bad_request(err)
    await _pass_on(request, raw)
    await service.poke(poke.namespace, poke.revision)
    return web.Response(status=202)


async def handle_metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[REGISTRY_KEY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def handle_healthz(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


def build_app(
    service: AutoscalerService, registry: CollectorRegistry, forwarder: LeaderForwarder | None = None
) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[SERVICE_KEY] = service
    app[REGISTRY_KEY] = registry
    if forwarder is not None:
        app[FORWARDER_KEY] = forwarder
    app.router.add_post("/stats", handle_stats)
    app.router.add_post("/poke", handle_poke)
    app.router.add_get("/metrics", handle_metrics)
    app.router.add_get("/healthz", handle_healthz)
    return app
