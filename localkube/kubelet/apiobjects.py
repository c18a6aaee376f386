"""ConfigMaps and Secrets read from the API, for env references (the runtime's ObjectSource)."""

from __future__ import annotations

from localkube.client import CONFIGMAPS, SECRETS, ApiClient


class ApiObjects:
    def __init__(self, client: ApiClient) -> None:
        self._client = client

    async def config_map_data(self, namespace: str, name: str) -> dict[str, str] | None:
        body = await self._client.get_or_none(CONFIGMAPS, name, namespace)
        return None if body is None else {str(k): str(v) for k, v in (body.get("data") or {}).items()}

    async def secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        body = await self._client.get_or_none(SECRETS, name, namespace)
        return None if body is None else {str(k): str(v) for k, v in (body.get("data") or {}).items()}
