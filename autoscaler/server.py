"""The autoscaler's HTTP endpoint (aiohttp): gateway stats and pokes in, metrics out.

* `POST /stats` -> 204; 400 for a malformed message or negative/NaN values (counted);
* `POST /poke` -> 202;
* `GET /metrics` -> Prometheus text from the service's own registry;
* `GET /healthz` -> 200.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from autoscaler.service import AutoscalerService
from autoscaler.stats import InvalidMessage, parse_poke, parse_stats

SERVICE_KEY = web.AppKey("autoscaler_service", AutoscalerService)
REGISTRY_KEY = web.AppKey("autoscaler_registry", CollectorRegistry)
MAX_BODY_BYTES = 4 * 1024 * 1024


async def _json_body(request: web.Request) -> Any:
    try:
        return json.loads(await request.read())
    except (ValueError, UnicodeDecodeError) as err:
        raise InvalidMessage([f"the body is not JSON: {err}"]) from err


def _bad_request(err: InvalidMessage) -> web.Response:
    return web.json_response({"error": "invalid message", "problems": err.problems}, status=400)


async def handle_stats(request: web.Request) -> web.Response:
    service = request.app[SERVICE_KEY]
    try:
        message = parse_stats(await _json_body(request))
    except InvalidMessage as err:
        service.metrics.messages_rejected.inc()
        service.metrics.stats_rejected.inc(err.bad_stats)
        return _bad_request(err)
    await service.handle_stats(message)
    return web.Response(status=204)


async def handle_poke(request: web.Request) -> web.Response:
    service = request.app[SERVICE_KEY]
    try:
        poke = parse_poke(await _json_body(request))
    except InvalidMessage as err:
        service.metrics.messages_rejected.inc()
        return _bad_request(err)
    await service.poke(poke.namespace, poke.revision)
    return web.Response(status=202)


async def handle_metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[REGISTRY_KEY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def handle_healthz(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


def build_app(service: AutoscalerService, registry: CollectorRegistry) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[SERVICE_KEY] = service
    app[REGISTRY_KEY] = registry
    app.router.add_post("/stats", handle_stats)
    app.router.add_post("/poke", handle_poke)
    app.router.add_get("/metrics", handle_metrics)
    app.router.add_get("/healthz", handle_healthz)
    return app
