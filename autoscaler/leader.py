"""The autoscaler's leader election: the shared Lease elector on `kwake-autoscaler`, plus the URL
the holder advertises so standbys can forward what gateways send them.

Two autoscaler replicas never both write scales: only the holder of the Lease writes (see
`localkube.client.leader` for the timing rules, client-go's). The holder advertises where it
listens (`autoscaling.kwake.dev/leader-url` on the Lease), so a standby can forward the stats
and pokes gateways send it (Knative's autoscaler forwards stats to the bucket owner the same way).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from localkube.client import ApiClient
from localkube.client import leader as election
from localkube.client.leader import LeaseTimings, Outcome, default_identity

__all__ = ["LEASE_NAME", "URL_ANNOTATION", "LeaderElector", "LeaseTimings", "Outcome", "default_identity"]

LEASE_NAME: Final = "kwake-autoscaler"
# Where the holder receives stats, so standbys can forward what gateways send them.
URL_ANNOTATION: Final = "autoscaling.kwake.dev/leader-url"


class LeaderElector(election.LeaderElector):
    """Campaigns for `kwake-autoscaler`; `leader_url` says where the current holder listens."""

    def __init__(
        self,
        client: ApiClient,
        *,
        namespace: str,
        identity: str,
        on_change: Callable[[bool], None],
        name: str = LEASE_NAME,
        url: str | None = None,
        timings: LeaseTimings = election.DEFAULT_TIMINGS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            client,
            name=name,
            namespace=namespace,
            identity=identity,
            on_change=on_change,
            timings=timings,
            clock=clock,
        )
        self.url = url

    @property
    def url(self) -> str | None:
        """Where this replica listens; written on the Lease while it leads."""
        return self.annotations.get(URL_ANNOTATION) or None

    @url.setter
    def url(self, value: str | None) -> None:
        # An empty value removes a previous holder's URL when we take over without one.
        self.annotations = {URL_ANNOTATION: value or ""}

    @property
    def leader_url(self) -> str | None:
        """The current holder's advertised URL (ours while we lead), None when nobody holds it."""
        if self.leading:
            return self.url
        if not self.holder:
            return None
        return self.holder_annotations.get(URL_ANNOTATION) or None
