"""A loopback HTTP proxy in front of an API server that records every request it passes on.

Each component under test gets its own proxy (plain http on 127.0.0.1, no credentials); the
proxy adds the real server's credentials and streams responses through, watches included.
What it records is exactly what the component asked of the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from localkube.client import Connection

_FORWARDED_HEADERS = ("Accept", "Content-Type", "User-Agent")


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, str]
    status: int


@dataclass
class RecordingProxy:
    upstream: Connection
    calls: list[Call] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None

    async def start(self) -> str:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k in _FORWARDED_HEADERS}
        headers.update(self.upstream.headers)
        if self.upstream.token_path is not None:
            headers["Authorization"] = f"Bearer {self.upstream.token_path.read_text().strip()}"
        body = await request.read()
        async with self._session.request(
            request.method,
            self.upstream.server + request.raw_path,
            headers=headers,
            data=body or None,
            ssl=self.upstream.ssl if self.upstream.ssl is not None else False,
        ) as upstream:
            self.calls.append(Call(request.method, request.path, dict(request.query), upstream.status))
            response = web.StreamResponse(status=upstream.status)
            if "Content-Type" in upstream.headers:
                response.content_type = upstream.headers["Content-Type"].split(";")[0]
            try:
                await response.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
            except ConnectionResetError:
                pass  # the component hung up (a watch it stopped, or its exit): nothing to pass on
            return response
