"""A thin raw-HTTP view of a localkube server for tests that check the wire format itself."""

from __future__ import annotations

import asyncio
import io
import json
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from localkube.server.runner import ThreadedApiServer


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


class RawApi:
    def __init__(self, server: ThreadedApiServer) -> None:
        self.base = server.url
        ca = (server.state_dir / "pki" / "apiserver-ca.crt").read_text()
        self._ssl = ssl.create_default_context(cadata=ca)
        self._headers = {"Authorization": f"Bearer {server.token()}"}
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> RawApi:
        self._session = aiohttp.ClientSession(headers=self._headers)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._session is not None
        await self._session.close()
        # TLS transports finish closing on a later loop turn (aiohttp's documented graceful-close wait).
        await asyncio.sleep(0.05)

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        assert self._session is not None
        encoded = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        data = io.BytesIO(encoded) if encoded is not None and len(encoded) > 1024 * 1024 else encoded
        all_headers = {"Content-Type": content_type, **(headers or {})}
        async with self._session.request(
            method, self.base + path, data=data, headers=all_headers, ssl=self._ssl
        ) as resp:
            text = await resp.text()
            try:
                parsed: Any = json.loads(text) if text else None
            except ValueError:
                parsed = text
            return Reply(resp.status, parsed, dict(resp.headers))

    async def watch(
        self,
        path: str,
        *,
        until: int,
        seconds: float = 10,
        stop: Callable[[dict[str, Any]], bool] | None = None,
    ) -> list[dict[str, Any]]:
        """Read watch events until `until` arrived (or `stop` says so, or the stream ends)."""
        assert self._session is not None
        events: list[dict[str, Any]] = []
        async with self._session.get(
            self.base + path, ssl=self._ssl, timeout=aiohttp.ClientTimeout(total=seconds)
        ) as resp:
            assert resp.status == 200, await resp.text()
            async for line in resp.content:
                if line.strip():
                    events.append(json.loads(line))
                if stop is not None:
                    if events and stop(events[-1]):
                        break
                elif len(events) >= until:
                    break
        return events


def cm(name: str, namespace: str = "default", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": {"k": "v"},
    }
    body.update(extra)
    return body


WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {
            "plural": "widgets",
            "singular": "widget",
            "kind": "Widget",
            "shortNames": ["wd"],
            "categories": ["all"],
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {
                    "status": {},
                    "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"},
                },
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                    {
                        "name": "Ready",
                        "type": "string",
                        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
                    },
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "size": {"type": "integer", "minimum": 0, "default": 1},
                                    "replicas": {"type": "integer"},
                                    "color": {"type": "string", "enum": ["red", "blue"]},
                                },
                            },
                            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        },
                    }
                },
            }
        ],
    },
}
