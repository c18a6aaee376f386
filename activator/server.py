"""Runs a gateway on its ports and drains it.

Drain order on SIGTERM: report not ready (admin `/ready` and probes answer 503), wait the quiet
period so load balancers notice, stop accepting and close idle keep-alive connections, then let
in-flight requests (queued ones included) finish, up to the drain bound; requests still queued
near the bound are answered 503 rather than cut.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from activator import admission
from activator.aiohttp_edge import aiohttp_handler
from activator.app import GatewayApp, build_admin_app
from activator.fastlane import FastLane
from activator.request_target import request_factory

log = logging.getLogger("kwake.gateway")


class GatewayServer:
    def __init__(
        self,
        gateway: GatewayApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        admin_port: int | None = None,
        reuse_port: bool = False,
    ) -> None:
        self.gateway = gateway
        config = gateway.config
        self._host, self._port, self._admin_port = host, port, admin_port
        self._reuse_port = reuse_port
        # The data port's own HTTP/1.1 server serves plain requests; it hands other connections
        # to aiohttp's (see fastlane and aiohttp_edge).
        self._aiohttp = web.Server(
            aiohttp_handler(gateway.handler),
            # Absolute-form targets are routed by their own authority, as RFC 9112 and Envoy do;
            # CONNECT and HTTP versions other than 1.x are refused (see request_target).
            request_factory=request_factory(asyncio.get_running_loop()),
            # The gateway writes its own access log (JSON, off the loop); aiohttp's would double it.
            access_log=None,
            # A client that goes away cancels its handler, which cancels the upstream request.
            handler_cancellation=True,
            # aiohttp closes a connection that has not sent a whole request in this time,
            # which also bounds slow-loris clients that trickle their headers.
            keepalive_timeout=config.header_timeout_s,
            # The parser's hard limits sit above the gateway's own 431 limit so that
            # oversized headers get a 431 rather than the parser's 400 where possible.
            max_line_size=max(8190, config.max_header_bytes),
            max_field_size=max(8190, config.max_header_bytes),
        )
        self._lane = FastLane(gateway.handler, self._aiohttp, config)
        self._admin_runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self._bound_port: int | None = None
        self._admin_site: web.TCPSite | None = None
        self._drained = False

    @property
    def port(self) -> int:
        assert self._bound_port is not None, "started"
        return self._bound_port

    @property
    def admin_port(self) -> int | None:
        return self._admin_site.port if self._admin_site is not None else None

    async def start(self) -> None:
        """The admin port at once (probes, /metrics); the data port once the first routes are
        applied, so a restarted gateway never answers a known host 404 while it loads them
        (connections wait in the other replicas or get refused, and a client retries those)."""
        await self.gateway.start()
        if self._admin_port is not None:
            self._admin_runner = web.AppRunner(build_admin_app(self.gateway), access_log=None)
            await self._admin_runner.setup()
            self._admin_site = web.TCPSite(
                self._admin_runner, self._host, self._admin_port, reuse_port=self._reuse_port
            )
            await self._admin_site.start()
        state, timeout = self.gateway.state, self.gateway.config.sync_timeout_s
        try:
            await asyncio.wait_for(state.first_sync.wait(), timeout)
        except TimeoutError:
            log.warning("no routes after %.0f s; serving anyway (503 until they arrive)", timeout)
        self._lane.start()
        # A burst of new connections (200 clients at once) must not overflow the accept queue:
        # a dropped SYN costs the client a one-second retransmit.
        self._listener = await asyncio.get_running_loop().create_server(
            self._lane, self._host, self._port, reuse_port=self._reuse_port, backlog=4096
        )
        self._bound_port = int(self._listener.sockets[0].getsockname()[1])

    def _shed_queued(self) -> None:
        for revision in self.gateway.state.revisions.values():
            admission.shed(revision.throttler)

    async def drain(self) -> None:
        """Not ready first, then stop accepting, then finish in-flight requests (bounded)."""
        if self._drained:
            return
        self._drained = True
        self.gateway.state.draining = True
        config = self.gateway.config
        if config.drain_quiet_s > 0:
            await asyncio.sleep(config.drain_quiet_s)
        shed_at = max(0.0, config.drain_timeout_s - min(1.0, config.drain_timeout_s / 4))
        shedder = asyncio.get_running_loop().call_later(shed_at, self._shed_queued)
        try:
            if self._listener is not None:
                self._listener.close()
            timeout = config.drain_timeout_s
            await asyncio.gather(self._lane.shutdown(timeout), self._aiohttp.shutdown(timeout))
        finally:
            shedder.cancel()
            await self.gateway.close()
            if self._admin_runner is not None:
                await self._admin_runner.cleanup()
