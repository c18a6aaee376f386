"""Runs a gateway app on its ports and drains it.

Drain order on SIGTERM: report not ready (admin `/ready` and probes answer 503), wait the quiet
period so load balancers notice, stop accepting and close idle keep-alive connections, then let
in-flight requests (queued ones included) finish, up to the drain bound.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from activator.app import GATEWAY, build_admin_app


class GatewayServer:
    def __init__(
        self,
        app: web.Application,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        admin_port: int | None = None,
        reuse_port: bool = False,
    ) -> None:
        self._gateway = app[GATEWAY]
        config = self._gateway.config
        self._host, self._port, self._admin_port = host, port, admin_port
        self._reuse_port = reuse_port
        self._runner = web.AppRunner(
            app,
            access_log=None,
            shutdown_timeout=config.drain_timeout_s,
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
        self._admin_runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._admin_site: web.TCPSite | None = None

    @property
    def port(self) -> int:
        assert self._site is not None, "started"
        return self._site.port

    @property
    def admin_port(self) -> int | None:
        return self._admin_site.port if self._admin_site is not None else None

    async def start(self) -> None:
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self._host, self._port, reuse_port=self._reuse_port)
        await self._site.start()
        if self._admin_port is not None:
            self._admin_runner = web.AppRunner(build_admin_app(self._gateway), access_log=None)
            await self._admin_runner.setup()
            self._admin_site = web.TCPSite(
                self._admin_runner, self._host, self._admin_port, reuse_port=self._reuse_port
            )
            await self._admin_site.start()

    async def drain(self) -> None:
        """Not ready first, then stop accepting, then finish in-flight requests (bounded)."""
        self._gateway.state.draining = True
        if self._gateway.config.drain_quiet_s > 0:
            await asyncio.sleep(self._gateway.config.drain_quiet_s)
        await self._runner.cleanup()
        if self._admin_runner is not None:
            await self._admin_runner.cleanup()
