"""Closing an aiohttp session at once, TLS included.

A graceful TLS close waits for the peer's close_notify; a peer that has gone (a stopped webhook,
a loop that ends right after) never sends it, and the sockets are left to the garbage
collector. So kwake's sessions abort their TLS connections when they close.
"""

from __future__ import annotations

import logging

import aiohttp

log = logging.getLogger("localkube.client")


async def close_session(session: aiohttp.ClientSession) -> None:
    """Abort the session's connections, then close it."""
    if session.connector is not None:
        try:
            await session.connector.close(abort_ssl=True)
        except AttributeError as err:
            # CPython 3.11.1-3.11.3 (Debian 12 ships 3.11.2) raise when aborting a TLS transport
            # that is already closed (python/cpython#104474, fixed in 3.11.4): it is closed, which
            # is what was wanted; the session's own close below releases the rest.
            log.debug("aborting TLS connections: %s (a CPython 3.11.1-3.11.3 bug)", err)
    await session.close()
