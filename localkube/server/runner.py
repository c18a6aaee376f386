"""Starting and stopping the API server: store, registry, HTTP site, kubeconfig, housekeeping."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import logging
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from localkube import certs
from localkube.server import http
from localkube.server.admission import WebhookAdmission
from localkube.server.api import Api
from localkube.server.resources import Registry, builtin_types
from localkube.store.sqlite import Store

log = logging.getLogger("localkube.server")

COMPACT_EVERY_SECONDS = 60.0


class StateDirBusy(RuntimeError):
    """Another localkube already serves this state dir."""


@dataclass
class ApiServer:
    state_dir: Path
    port: int = 0
    host: str = "127.0.0.1"
    secure: bool = True
    extra_namespaces: tuple[str, ...] = ()
    api: Api | None = None
    url: str = ""
    _runner: web.AppRunner | None = None
    _admission: WebhookAdmission | None = None
    _store: Store | None = None
    _lock_fd: int | None = None
    _ca_pem: bytes = b""
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    async def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._lock()
        registry = Registry()
        for rt in builtin_types():
            registry.add(rt)
        self._store = Store(self.state_dir / "localkube.db")
        self._admission = WebhookAdmission(self._store)
        self.api = Api(self._store, registry, admission=self._admission)
        await self.api.start()
        self.api.ensure_namespaces(list(self.extra_namespaces))
        token = self._token() if self.secure else ""
        app = http.build_app(self.api, token=token)
        ssl_context = None
        if self.secure:
            cert = certs.ensure_serving_cert(self.state_dir / "pki", "apiserver", ["127.0.0.1", "localhost"])
            ssl_context = cert.server_context()
            self._ca_pem = cert.ca_pem
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True, ssl_context=ssl_context)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.port
        self.url = f"{'https' if self.secure else 'http'}://{self.host}:{self.port}"
        app[http.ADDRESS_KEY][0] = f"{self.host}:{self.port}"
        self._write_kubeconfig(token)
        task = asyncio.create_task(self._housekeeping(), name="localkube-compaction")
        self._tasks.append(task)
        log.info("localkube serving on %s (state in %s)", self.url, self.state_dir)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self.api is not None:
            await self.api.stop()
        if self._runner is not None:
            web_server = self._runner.server
            handlers = list(getattr(web_server, "_connections", {}) or ())
            await self._runner.cleanup()
            # A TLS close waits for the peer's close_notify; a client that vanished never sends it.
            for handler in handlers:
                transport = getattr(handler, "transport", None)
                if transport is not None:
                    transport.abort()
            self._runner = None
        if self._admission is not None:
            await self._admission.close()
        if self._store is not None:
            self._store.close()
            self._store = None
        self._unlock()

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(COMPACT_EVERY_SECONDS)
            if self._store is not None:
                self._store.compact()

    def _token(self) -> str:
        path = self.state_dir / "token"
        if path.exists():
            return path.read_text().strip()
        token = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(token)
        return token

    def _write_kubeconfig(self, token: str) -> None:
        user: dict[str, Any] = {"token": token} if token else {}
        cluster: dict[str, Any] = {"server": self.url}
        if self._ca_pem:
            cluster["certificate-authority-data"] = base64.b64encode(self._ca_pem).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "localkube", "cluster": cluster}],
            "users": [{"name": "localkube", "user": user}],
            "contexts": [
                {
                    "name": "localkube",
                    "context": {"cluster": "localkube", "user": "localkube", "namespace": "default"},
                }
            ],
            "current-context": "localkube",
            "preferences": {},
        }
        tmp = self.kubeconfig.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            yaml.safe_dump(config, fh, sort_keys=False)
        tmp.replace(self.kubeconfig)

    def _lock(self) -> None:
        fd = os.open(self.state_dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise StateDirBusy(
                f"another localkube is already running on {self.state_dir}; stop it first or choose another "
                f"--state-dir"
            ) from exc
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None


class ThreadedApiServer:
    """An ApiServer on its own event loop in a background thread (for tests and benchmarks).

    Synchronous clients (kubectl, the kubernetes client) can then be used from the caller's thread.
    """

    def __init__(self, state_dir: Path, port: int = 0, *, secure: bool = True) -> None:
        self.server = ApiServer(state_dir=state_dir, port=port, secure=secure)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="localkube-apiserver", daemon=True
        )

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def kubeconfig(self) -> Path:
        return self.server.kubeconfig

    @property
    def state_dir(self) -> Path:
        return self.server.state_dir

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def start(self) -> ThreadedApiServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(timeout=30)
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._stop_all(), self._loop).result(timeout=30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

    async def _stop_all(self) -> None:
        await self.server.stop()
        # Let closing transports finish, then end whatever the server left behind on this loop.
        current = asyncio.current_task()
        leftovers = [t for t in asyncio.all_tasks() if t is not current]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)
        await asyncio.sleep(0.05)
        # Python 3.11's Server.close() leaves accepted connections open, among them TLS ones
        # still in their handshake that aiohttp never saw: abort what this loop still holds
        # rather than let the garbage collector find open sockets after the loop is closed.
        for transport in list(getattr(self._loop, "_transports", {}).values()):
            if transport is not None:
                transport.abort()
        await asyncio.sleep(0)
        await self._loop.shutdown_asyncgens()

    def token(self) -> str:
        path = self.server.state_dir / "token"
        return path.read_text().strip() if path.exists() else ""
