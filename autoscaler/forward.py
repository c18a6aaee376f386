"""A standby autoscaler passes the gateways' stats and pokes on to the leader.

Gateways post to one address (a Kubernetes Service over every autoscaler replica), so a standby
receives its share. It records them too (so its windows are warm when it takes over) and
forwards the body as it came to the leader's advertised URL, marked so it is never forwarded
again (two replicas with stale views of the Lease cannot bounce a message between them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

import aiohttp

logger = logging.getLogger(__name__)

FORWARDED_HEADER: Final = "X-Kwake-Forwarded"


class LeaderForwarder:
    """POSTs a message body to the leader; failures are logged and reported, never raised."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        leader_url: Callable[[], str | None],
        *,
        timeout: float = 1.0,
    ) -> None:
        self._session = session
        self._leader_url = leader_url
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def forward(self, path: str, body: bytes) -> bool:
        url = self._leader_url()
        if not url:
            return False  # nobody leads right now; the message still counts here
        try:
            async with self._session.post(
                url.rstrip("/") + path,
                data=body,
                headers={"Content-Type": "application/json", FORWARDED_HEADER: "1"},
                timeout=self._timeout,
            ) as response:
                ok = response.status < 300
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            ok = False
            logger.warning("forwarding %s to the leader at %s failed: %s", path, url, err)
        return ok
