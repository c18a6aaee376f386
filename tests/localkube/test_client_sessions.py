"""Closing kwake's sessions survives CPython 3.11.1-3.11.3's failure to abort a closed TLS
transport (python/cpython#104474; Debian 12 ships 3.11.2), found running the image."""

from __future__ import annotations

from typing import Any

import aiohttp

from localkube.client.sessions import close_session


class Python3112Connector(aiohttp.TCPConnector):
    """A connector whose TLS abort fails as sslproto's did before CPython 3.11.4."""

    async def close(self, *, abort_ssl: bool = False) -> Any:
        if abort_ssl:
            raise AttributeError("'NoneType' object has no attribute '_abort'")
        return await super().close()


async def test_a_failing_tls_abort_still_closes_the_session() -> None:
    session = aiohttp.ClientSession(connector=Python3112Connector())
    await close_session(session)
    assert session.closed


async def test_a_plain_session_is_closed() -> None:
    session = aiohttp.ClientSession()
    await close_session(session)
    assert session.closed
