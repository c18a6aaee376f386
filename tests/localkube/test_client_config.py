"""Connection resolution: kubeconfig files, $KUBECONFIG merging, in-cluster service accounts."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path
from typing import Any

import pytest
import yaml

from localkube.client import ConfigError, load_connection


def _kubeconfig(path: Path, *, server: str = "http://127.0.0.1:1234", **extra: Any) -> Path:
    user: dict[str, Any] = extra.pop("user", {})
    cluster: dict[str, Any] = {"server": server, **extra.pop("cluster", {})}
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c1", "cluster": cluster}],
        "users": [{"name": "u1", "user": user}],
        "contexts": [
            {"name": "ctx1", "context": {"cluster": "c1", "user": "u1", "namespace": "team"}},
            {"name": "ctx2", "context": {"cluster": "c1", "user": "u1"}},
        ],
        "current-context": extra.pop("current", "ctx1"),
    }
    path.write_text(yaml.safe_dump(doc))
    return path


def test_explicit_file_gives_server_namespace_and_token(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path / "kc", user={"token": "s3cret"})
    conn = load_connection(path, environ={})
    assert conn.server == "http://127.0.0.1:1234"
    assert conn.namespace == "team"
    assert conn.headers["Authorization"] == "Bearer s3cret"
    assert conn.ssl is None


def test_context_argument_overrides_current_context(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path / "kc")
    assert load_connection(path, context="ctx2", environ={}).namespace == "default"


def test_unknown_context_is_a_config_error(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path / "kc")
    with pytest.raises(ConfigError, match="nope"):
        load_connection(path, context="nope", environ={})


def test_kubeconfig_env_first_file_wins_and_merges(tmp_path: Path) -> None:
    first = tmp_path / "a"
    first.write_text(yaml.safe_dump({"current-context": "ctx2"}))
    second = _kubeconfig(tmp_path / "b", current="ctx1")
    conn = load_connection(environ={"KUBECONFIG": f"{first}:{second}"}, home=tmp_path)
    assert conn.namespace == "default"  # ctx2, chosen by the first file, defined in the second


def test_explicit_file_beats_environment(tmp_path: Path) -> None:
    env_file = _kubeconfig(tmp_path / "env", server="http://127.0.0.1:1")
    explicit = _kubeconfig(tmp_path / "explicit", server="http://127.0.0.1:2")
    conn = load_connection(explicit, environ={"KUBECONFIG": str(env_file)})
    assert conn.server.endswith(":2")


def test_home_kubeconfig_is_the_last_resort(tmp_path: Path) -> None:
    (tmp_path / ".kube").mkdir()
    _kubeconfig(tmp_path / ".kube" / "config", server="http://127.0.0.1:3")
    sa_dir = tmp_path / "missing-sa"
    conn = load_connection(environ={}, service_account_dir=sa_dir, home=tmp_path)
    assert conn.server.endswith(":3")


def test_nothing_found_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_connection(environ={}, service_account_dir=tmp_path / "none", home=tmp_path)


def test_in_cluster_reads_token_namespace_and_host(tmp_path: Path) -> None:
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("tok\n")
    (sa / "namespace").write_text("kwake-system")
    env = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "6443"}
    conn = load_connection(environ=env, service_account_dir=sa, home=tmp_path)
    assert conn.server == "https://[fd00::1]:6443"
    assert conn.namespace == "kwake-system"
    assert conn.token_path == sa / "token"
    assert isinstance(conn.ssl, ssl.SSLContext)


def test_in_cluster_needs_the_service_host(tmp_path: Path) -> None:
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("tok")
    (tmp_path / ".kube").mkdir()
    _kubeconfig(tmp_path / ".kube" / "config", server="http://127.0.0.1:4")
    conn = load_connection(environ={}, service_account_dir=sa, home=tmp_path)
    assert conn.server.endswith(":4")


def test_https_with_insecure_skip_verify(tmp_path: Path) -> None:
    path = _kubeconfig(
        tmp_path / "kc", server="https://127.0.0.1:6443", cluster={"insecure-skip-tls-verify": True}
    )
    conn = load_connection(path, environ={})
    assert conn.ssl is not None
    assert conn.ssl.verify_mode == ssl.CERT_NONE


def test_bad_certificate_authority_data_is_a_config_error(tmp_path: Path) -> None:
    bogus = base64.b64encode(b"not a certificate").decode()
    path = _kubeconfig(
        tmp_path / "kc", server="https://127.0.0.1:6443", cluster={"certificate-authority-data": bogus}
    )
    with pytest.raises(ConfigError, match="certificate authority"):
        load_connection(path, environ={})


def test_token_file_is_resolved_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "tok").write_text("abc")
    path = _kubeconfig(tmp_path / "kc", user={"tokenFile": "tok"})
    conn = load_connection(path, environ={})
    assert conn.token_path == tmp_path / "tok"


def test_exec_plugins_are_refused_clearly(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path / "kc", user={"exec": {"command": "gcloud"}})
    with pytest.raises(ConfigError, match="exec"):
        load_connection(path, environ={})


def test_basic_auth_header(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path / "kc", user={"username": "a", "password": "b"})
    conn = load_connection(path, environ={})
    assert conn.headers["Authorization"] == "Basic " + base64.b64encode(b"a:b").decode()
