"""Where the API server is and how to authenticate: kubeconfig files and in-cluster service accounts.

`load_connection()` resolves, in order:

1. an explicit kubeconfig file (argument),
2. `$KUBECONFIG` (a `:`-separated list, merged as kubectl does: the first file to define a name wins),
3. the in-cluster service account (`/var/run/secrets/kubernetes.io/serviceaccount` plus
   `KUBERNETES_SERVICE_HOST`/`KUBERNETES_SERVICE_PORT`),
4. `~/.kube/config`.

Supported kubeconfig fields: cluster `server`, `certificate-authority(-data)`,
`insecure-skip-tls-verify`, `tls-server-name`; user `token`, `tokenFile`,
`client-certificate(-data)`, `client-key(-data)`, `username`/`password`; context `namespace`.
Exec and auth-provider plugins are not supported (a `ConfigError` says so).
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class ConfigError(Exception):
    """The kubeconfig or in-cluster configuration cannot be used."""


@dataclass(frozen=True)
class Connection:
    """Everything needed to talk to one API server.

    `server` is the base URL (`https://10.0.0.1:443` or `http://127.0.0.1:PORT`); `ssl` is the
    context to verify it with (None for plain http); `headers` are sent on every request (e.g.
    Authorization); `token_path`, when set, names a bearer-token file re-read periodically
    (in-cluster tokens rotate), taking precedence over a static Authorization header;
    `namespace` is the default namespace for single-object calls; `tls_server_name` is the name to
    verify the server certificate against when it differs from the URL's host.
    """

    server: str
    ssl: ssl.SSLContext | None = None
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    namespace: str = "default"
    token_path: Path | None = None
    tls_server_name: str | None = None

    @classmethod
    def local(cls, server: str, namespace: str = "default") -> Connection:
        """An unauthenticated plain-http connection, as to localkube on 127.0.0.1."""
        return cls(server=server.rstrip("/"), namespace=namespace)


def load_connection(
    kubeconfig: str | os.PathLike[str] | None = None,
    context: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    service_account_dir: Path = SERVICE_ACCOUNT_DIR,
    home: Path | None = None,
) -> Connection:
    """Resolve a `Connection` (see the module docstring for the order).

    `environ`, `service_account_dir` and `home` exist so tests can point the lookup at temp dirs.
    """
    env = os.environ if environ is None else environ
    if kubeconfig is not None:
        return _from_kubeconfig_files([Path(kubeconfig)], context)
    env_files = [Path(p) for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    if env_files:
        existing = [p for p in env_files if p.exists()]
        if not existing:
            raise ConfigError(f"none of the files in $KUBECONFIG exist: {env.get('KUBECONFIG')}")
        return _from_kubeconfig_files(existing, context)
    if env.get("KUBERNETES_SERVICE_HOST") and (service_account_dir / "token").exists():
        return in_cluster_connection(env, service_account_dir)
    default = (home if home is not None else Path.home()) / ".kube" / "config"
    if default.exists():
        return _from_kubeconfig_files([default], context)
    raise ConfigError("no kubeconfig given, $KUBECONFIG unset, not in a cluster, and no ~/.kube/config")


def in_cluster_connection(
    env: Mapping[str, str], service_account_dir: Path = SERVICE_ACCOUNT_DIR
) -> Connection:
    """The connection a pod's service account gives (token file re-read, CA verified)."""
    host = env.get("KUBERNETES_SERVICE_HOST", "")
    port = env.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise ConfigError("KUBERNETES_SERVICE_HOST is not set")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    token_path = service_account_dir / "token"
    if not token_path.exists():
        raise ConfigError(f"no service account token at {token_path}")
    ca_path = service_account_dir / "ca.crt"
    context = ssl.create_default_context(cafile=str(ca_path) if ca_path.exists() else None)
    ns_path = service_account_dir / "namespace"
    namespace = ns_path.read_text().strip() if ns_path.exists() else "default"
    return Connection(
        server=f"https://{host}:{port}", ssl=context, namespace=namespace or "default", token_path=token_path
    )


# --- kubeconfig ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Named:
    """A cluster/user/context entry with the directory of the file that defined it."""

    body: Mapping[str, Any]
    base_dir: Path


def _from_kubeconfig_files(paths: list[Path], context_name: str | None) -> Connection:
    clusters: dict[str, _Named] = {}
    users: dict[str, _Named] = {}
    contexts: dict[str, _Named] = {}
    current: str | None = None
    for path in paths:
        try:
            doc = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read kubeconfig {path}: {exc}") from exc
        if not isinstance(doc, dict):
            raise ConfigError(f"kubeconfig {path} is not a mapping")
        base = path.resolve().parent
        for key, table in (("clusters", clusters), ("users", users), ("contexts", contexts)):
            inner = key[:-1]  # clusters -> cluster
            for entry in doc.get(key) or []:
                name = entry.get("name") if isinstance(entry, dict) else None
                if isinstance(name, str) and name not in table:
                    table[name] = _Named(entry.get(inner) or {}, base)
        if current is None and doc.get("current-context"):
            current = str(doc["current-context"])
    chosen = context_name or current
    if not chosen:
        raise ConfigError(f"no context given and no current-context in {', '.join(map(str, paths))}")
    if chosen not in contexts:
        raise ConfigError(f"context {chosen!r} not found in kubeconfig")
    ctx = contexts[chosen].body
    cluster_name, user_name = ctx.get("cluster"), ctx.get("user")
    if cluster_name not in clusters:
        raise ConfigError(f"cluster {cluster_name!r} of context {chosen!r} not found")
    cluster = clusters[str(cluster_name)]
    user = users.get(str(user_name)) if user_name else None
    return _connection(cluster, user, str(ctx.get("namespace") or "default"))


def _connection(cluster: _Named, user: _Named | None, namespace: str) -> Connection:
    server = str(cluster.body.get("server") or "").rstrip("/")
    if not server:
        raise ConfigError("the cluster has no server")
    u = user.body if user is not None else {}
    if "exec" in u or "auth-provider" in u:
        raise ConfigError("kubeconfig exec and auth-provider plugins are not supported")
    headers: dict[str, str] = {}
    token_path: Path | None = None
    if u.get("token"):
        headers["Authorization"] = f"Bearer {u['token']}"
    elif u.get("tokenFile") and user is not None:
        token_path = _resolve(user.base_dir, str(u["tokenFile"]))
    elif u.get("username") is not None and u.get("password") is not None:
        raw = f"{u['username']}:{u['password']}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
    context = _ssl_context(cluster, user) if server.startswith("https:") else None
    return Connection(
        server=server,
        ssl=context,
        headers=MappingProxyType(headers),
        namespace=namespace,
        token_path=token_path,
        tls_server_name=str(cluster.body.get("tls-server-name") or "") or None,
    )


def _resolve(base: Path, path: str) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else base / p


def _data_or_file(entry: _Named, key: str) -> bytes | None:
    """The bytes of `key-data` (base64) or of the file named by `key`, whichever is set."""
    data = entry.body.get(f"{key}-data")
    if data:
        try:
            return base64.b64decode(str(data))
        except ValueError as exc:
            raise ConfigError(f"{key}-data is not base64") from exc
    path = entry.body.get(key)
    if path:
        try:
            return _resolve(entry.base_dir, str(path)).read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read {key} {path}: {exc}") from exc
    return None


def _ssl_context(cluster: _Named, user: _Named | None) -> ssl.SSLContext:
    ca = (
        None
        if cluster.body.get("insecure-skip-tls-verify")
        else _data_or_file(cluster, "certificate-authority")
    )
    if ca is not None:
        # The cluster's CA alone, as client-go does (and loading the system store costs ~60 ms).
        try:
            context = ssl.create_default_context(cadata=ca.decode(errors="replace"))
        except ssl.SSLError as exc:
            raise ConfigError(f"cannot load the certificate authority: {exc}") from exc
    else:
        context = ssl.create_default_context()
    if cluster.body.get("insecure-skip-tls-verify"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if user is not None:
        cert = _data_or_file(user, "client-certificate")
        key = _data_or_file(user, "client-key")
        if cert is not None and key is not None:
            _load_cert_chain(context, cert, key)
    return context


def _load_cert_chain(context: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    # ssl can only load a client certificate from files: write them to a private temp dir,
    # load, and remove them at once.
    with tempfile.TemporaryDirectory(prefix="kwake-tls-") as tmp:
        cert_path, key_path = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
        cert_path.write_bytes(cert)
        key_path.touch(mode=0o600)
        key_path.write_bytes(key)
        try:
            context.load_cert_chain(str(cert_path), str(key_path))
        except ssl.SSLError as exc:
            raise ConfigError(f"cannot load the client certificate/key: {exc}") from exc
