"""The kubelet's HTTPS server: the pod admission webhook and the containerLogs endpoint.

kube-apiserver reaches a kubelet at the node's daemonEndpoints port over HTTPS; localkube's API
server proxies `pods/log` to `/containerLogs/{namespace}/{pod}/{container}` there, and calls the
webhook at the URL the kubelet registers in its MutatingWebhookConfiguration.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from localkube.kubelet import admission, logs

log = logging.getLogger(__name__)

MUTATE_PATH = "/mutate/pods"


@dataclass(frozen=True)
class LogIndex:
    """Where a pod's logs are, and whether a log file is still being written."""

    pod_dir: Callable[[str, str], Path | None]
    is_writing: Callable[[Path], bool]


ALLOCATOR = web.AppKey("allocator", admission.PortAllocator)
LOG_INDEX = web.AppKey("log_index", LogIndex)


async def mutate_pods(request: web.Request) -> web.Response:
    review = await request.json()
    return web.json_response(admission.review_response(review, request.app[ALLOCATOR].allocate))


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("true", "1")


def _int(request: web.Request, name: str) -> int | None:
    value = request.query.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError as error:
        raise web.HTTPBadRequest(text=f"{name}: invalid value {value!r}") from error


async def container_logs(request: web.Request) -> web.StreamResponse:
    namespace = request.match_info["namespace"]
    pod = request.match_info["pod"]
    container = request.match_info.get("container", "")
    index = request.app[LOG_INDEX]
    directory = index.pod_dir(namespace, pod)
    if directory is None:
        raise web.HTTPNotFound(text=f'pod "{pod}" in namespace "{namespace}" has no logs on this node')
    if not container:
        names = sorted(path.name for path in directory.iterdir() if path.is_dir())
        if len(names) != 1:
            raise web.HTTPBadRequest(
                text=f"a container name must be specified for pod {pod}, choose one of: {names}"
            )
        container = names[0]
    files = logs.attempts(directory / container)
    previous = _flag(request, "previous")
    if previous:
        if len(files) < 2:
            raise web.HTTPBadRequest(
                text=f'previous terminated container "{container}" in pod "{pod}" not found'
            )
        path = files[-2]
    else:
        if not files:
            raise web.HTTPBadRequest(text=f'container "{container}" in pod "{pod}" is waiting to start')
        path = files[-1]
    follow = _flag(request, "follow") and not previous
    response = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
    await response.prepare(request)
    try:
        async for chunk in logs.read_log(
            path,
            tail_lines=_int(request, "tailLines"),
            limit_bytes=_int(request, "limitBytes"),
            follow=follow,
            still_writing=lambda: index.is_writing(path),
        ):
            await response.write(chunk)
        await response.write_eof()
    except ConnectionError:
        pass  # the reader went away (kubectl logs -f interrupted): nothing left to do
    return response


async def healthz(_: web.Request) -> web.Response:
    return web.Response(text="ok")


def build_app(allocator: admission.PortAllocator, log_index: LogIndex) -> web.Application:
    app = web.Application()
    app[ALLOCATOR] = allocator
    app[LOG_INDEX] = log_index
    app.router.add_post(MUTATE_PATH, mutate_pods)
    app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", container_logs)
    app.router.add_get("/containerLogs/{namespace}/{pod}", container_logs)
    app.router.add_get("/healthz", healthz)
    return app


class KubeletServer:
    """The app on 127.0.0.1 over TLS; `port` is known once started."""

    def __init__(self, app: web.Application, ssl_context: ssl.SSLContext, port: int = 0) -> None:
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        self._ssl = ssl_context
        self._requested_port = port
        self.port = 0

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._requested_port, ssl_context=self._ssl)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        # A TLS connection closed gracefully waits for the peer's close_notify; the API server's
        # keep-alive webhook connections would outlive us. Abort whatever is still open.
        server = self._runner.server
        transports = [handler.transport for handler in server.connections] if server is not None else []
        await self._runner.cleanup()
        for transport in transports:
            if transport is not None:
                transport.abort()
