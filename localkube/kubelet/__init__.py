"""localkube's kubelet: runs the pods bound to its Node as local processes.

    from localkube.kubelet import run_kubelet
    await run_kubelet(client, state_dir, stop)   # until `stop` is set; every process is stopped

It registers a Node (`localkube`), binds unscheduled pods to it, gives each pod its own port on
127.0.0.1 through a mutating admission webhook it serves over HTTPS, runs containers' command +
args as process groups with probes, restarts and logs, and writes pod status at once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from localkube.client import ApiClient
from localkube.kubelet.kubelet import Kubelet, KubeletConfig
from localkube.kubelet.registration import NodeTaken


async def run_kubelet(
    client: ApiClient, state_dir: Path, stop: asyncio.Event, *, node_name: str = "localkube", port: int = 0
) -> None:
    """Run the kubelet against `client`'s API server until `stop` is set.

    Made for localkube's control plane: the admission webhook stays registered when it stops, so
    pods created while it is away are refused (and retried by their controllers) rather than
    admitted without their own port.
    """
    config = KubeletConfig(state_dir=state_dir, node_name=node_name, port=port, keep_webhook=True)
    await Kubelet(client, config).run(stop)


__all__ = ["Kubelet", "KubeletConfig", "NodeTaken", "run_kubelet"]
