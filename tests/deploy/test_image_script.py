"""deploy/image/build-local.sh, checked without a Docker daemon: it parses, shellcheck finds
nothing, what the Dockerfile copies is in the repo, and the build args it derives from pip's
setup are ones the Dockerfile declares. Running it (minutes, root, a daemon) is left to people."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from tests.deploy.manifests import REPO
from tests.deploy.test_dockerfile import stages

SCRIPT = REPO / "deploy" / "image" / "build-local.sh"


def test_script_is_executable_bash_that_parses() -> None:
    assert os.access(SCRIPT, os.X_OK)
    assert SCRIPT.read_text().startswith("#!/usr/bin/env bash\n")
    result = subprocess.run(
        ["bash", "-n", str(SCRIPT)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_shellcheck_finds_nothing() -> None:
    result = subprocess.run(
        ["shellcheck", str(SCRIPT)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout


def copy_sources() -> list[str]:
    """Every path the Dockerfile COPYs from the build context (not from another stage)."""
    sources: list[str] = []
    for stage in stages():
        for args in stage.all("COPY"):
            words = [w for w in args.split() if not w.startswith("--")]
            if "--from" not in args:
                sources.extend(words[:-1])
    return sources


def test_everything_the_dockerfile_copies_is_in_the_repo() -> None:
    sources = copy_sources()
    assert {"pyproject.toml", "localkube", "serving", "crds"} <= set(sources)
    for source in sources:
        path = REPO / source
        assert path.exists(), f"COPY {source}: not in the repository"
        assert path.is_file() or any(path.iterdir()), f"COPY {source}: an empty directory"


def pip_build_args(env: dict[str, str]) -> list[str]:
    """The script's pip_build_args, sourced, with pip's config files switched off."""
    result = subprocess.run(
        ["bash", "-c", f'source "{SCRIPT}" && pip_build_args'],
        env={"PATH": os.environ["PATH"], "PIP_CONFIG_FILE": os.devnull, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_pip_setup_passes_to_the_build_only_when_a_container_can_use_it() -> None:
    assert pip_build_args({}) == []
    # A local file:// index exists only on this machine, never inside the build.
    assert pip_build_args({"PIP_INDEX_URL": "file:///opt/pypi/simple"}) == []
    assert pip_build_args({"PIP_INDEX_URL": "https://mirror.example/simple"}) == [
        "--build-arg",
        "PIP_INDEX_URL=https://mirror.example/simple",
    ]
    # A machine that verifies TLS against its CA bundle: the build uses Debian's bundle path.
    assert pip_build_args({"PIP_CERT": "/somewhere/ca.pem"}) == [
        "--build-arg",
        "PIP_CERT=/etc/ssl/certs/ca-certificates.crt",
    ]


def test_every_build_arg_the_script_passes_is_declared_in_the_build_stage() -> None:
    passed = set(re.findall(r'--build-arg "([A-Z_]+)=', SCRIPT.read_text()))
    assert passed == {"PIP_INDEX_URL", "PIP_CERT"}
    build = stages()[0]
    declared = {args.split("=")[0] for args in build.all("ARG")}
    assert passed <= declared
    # ARGs of the build stage never reach the final image's environment.
    assert not any(args.split("=")[0] in passed for args in stages()[-1].all("ARG"))


def test_docs_describe_the_procedure() -> None:
    text = (REPO / "docs" / "cluster.md").read_text()
    section = text.partition("## Building the image without Docker Hub")[2]
    assert section, "docs/cluster.md has no section on building the image without Docker Hub"
    assert "deploy/image/build-local.sh" in section


def test_sourcing_the_script_only_defines_functions() -> None:
    result = subprocess.run(
        ["bash", "-c", f'source "{SCRIPT}" && declare -F main check_pods check_up ensure_dockerd'],
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["main", "check_pods", "check_up", "ensure_dockerd"]
    assert result.stderr == ""  # no step ran: each one logs "==> ..." first
