"""localkube's kubelet: runs the pods bound to its Node as local processes.

    from localkube.kubelet import run_kubelet
    await run_kubelet(client, state_dir, stop)   # until `stop` is set; every process is stopped

It registers a Node (`localkube`, a Lease in kube-node-lease, its HTTPS port in
`status.daemonEndpoints.kubeletEndpoint.Port`), binds unscheduled pods to itself, runs each
container's `command` + `args` as its own process group, probes it, restarts it with
Kubernetes' back-off, posts Events, writes pod status the moment it changes, and serves
`/containerLogs/{namespace}/{pod}/{container}` (follow, tailLines, previous, limitBytes) for
the API server's `pods/log`.

Where it differs from a kubelet with a container runtime, on purpose:

- `image` cannot run: a container without `command` waits with reason CreateContainerError.
- Pods share the host's loopback: a mutating admission webhook (HTTPS, its own CA, registered as
  MutatingWebhookConfiguration `localkube-kubelet`) gives every declared containerPort of a new
  pod a free port on 127.0.0.1 and sets the serving container's PORT to it; probes and hooks
  naming the old number follow. The annotation `kubelet.localkube.io/ports` records
  `{"<declared port>": <assigned port>, "PORT": <serving port>}` (for numeric targetPorts).
- `status.podIP` and `hostIP` are 127.0.0.1; `containerID` is `process://<pid>`.
- A readiness probe with periodSeconds 0, unset or 1 is polled every 20 ms until it succeeds
  (as Knative's queue-proxy does), then at its period: Ready follows the port within tens of ms.
- A container's environment is the kubelet's own environment overlaid with the pod's `env`.
- An unscheduled pod is started while its binding is posted; its status is written only once the
  binding holds (and the process is stopped if another node wins the pod).
- When the kubelet stops, every pod process is stopped; when it starts, it kills what a previous
  run left behind (pids are recorded in the state dir) and starts the pods the API assigns to it
  afresh, each container's restartCount one higher.
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
