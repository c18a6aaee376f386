"""`kwake up` as a new user meets it: refusals that say what to do, and nothing left running."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from serving.cli.manifests import ManifestError, load_manifests


def kwake(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "serving.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_a_busy_gateway_port_is_refused_with_how_to_choose_another(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = kwake("up", "--state-dir", str(tmp_path), "--gateway-port", str(port))
    assert result.returncode == 1
    assert f"port {port}" in result.stdout and "--gateway-port" in result.stdout


def test_a_second_kwake_up_on_the_same_state_dir_is_refused(tmp_path: Path) -> None:
    import fcntl  # noqa: PLC0415 (only this test holds the lock the way a running kwake up does)

    tmp_path.mkdir(exist_ok=True)
    fd = os.open(tmp_path / "up.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = kwake("up", "--state-dir", str(tmp_path))
    finally:
        os.close(fd)
    assert result.returncode == 1 and "already running" in result.stdout


def test_a_broken_manifest_names_its_file_and_nothing_starts(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: x\n")
    result = kwake("up", "--state-dir", str(tmp_path / "state"), "-f", str(bad), "--gateway-port", "0")
    assert result.returncode == 1
    assert str(bad) in result.stdout and "not valid YAML" in result.stdout
    assert not (tmp_path / "state" / "logs").exists()  # nothing was started


def test_manifests_are_read_from_folders_and_lists_and_checked(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: one}}\n"
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: two}\n"
    )
    (tmp_path / "notes.txt").write_text("ignored")
    names = [m.name for m in load_manifests([tmp_path])]
    assert names == ["one", "two"]
    (tmp_path / "b.yml").write_text("kind: ConfigMap\nmetadata: {name: three}\n")
    with pytest.raises(ManifestError, match=r"b\.yml#0: every object needs apiVersion and kind"):
        load_manifests([tmp_path])
    with pytest.raises(ManifestError, match="no such file"):
        load_manifests([tmp_path / "missing.yaml"])
