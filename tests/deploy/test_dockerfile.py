"""The Dockerfile, read as text (no Docker engine here): the rules the manifests rely on."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

from tests.deploy.manifests import REPO, named, render

DOCKERFILE = REPO / "Dockerfile"


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def stages() -> list[Stage]:
    """FROM-delimited stages with their instructions (continuation lines joined, comments dropped)."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            words = args.split()
            out.append(Stage(words[0], words[2] if len(words) > 2 and words[1].upper() == "AS" else ""))
        else:
            assert out, f"{keyword} before any FROM"
            out[-1].instructions.append((keyword, args))
    return out


def env_of(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in stage.all("ENV"):
        for word in shlex.split(args):
            key, _, value = word.partition("=")
            env[key] = value
    return env


def test_multi_stage_on_slim_python_311() -> None:
    found = stages()
    assert len(found) >= 2
    for stage in found:
        assert re.fullmatch(r"python:3\.11-slim(-\w+)?", stage.base), stage.base
    final = found[-1]
    copied_from = {m.group(1) for args in final.all("COPY") if (m := re.match(r"--from=(\S+)", args))}
    assert copied_from and copied_from <= {s.name for s in found[:-1]}
    assert not final.all("RUN") or all("pip" not in args for args in final.all("RUN"))


def test_runs_as_the_non_root_user_the_pods_declare() -> None:
    final = stages()[-1]
    users = final.all("USER")
    assert users, "the final stage sets no USER"
    uid, _, gid = users[-1].partition(":")
    assert uid not in ("root", "0") and gid not in ("root", "0")
    for name in ("kwake-operator", "kwake-gateway", "kwake-autoscaler"):
        pod = named(render(), "Deployment", name)["spec"]["template"]["spec"]["securityContext"]
        assert str(pod["runAsUser"]) == uid and str(pod["runAsGroup"]) == gid


def test_entrypoint_is_kwake_and_the_component_is_the_argument() -> None:
    final = stages()[-1]
    (entrypoint,) = final.all("ENTRYPOINT")
    assert json.loads(entrypoint) == ["kwake"]
    for name in ("operator", "gateway", "autoscaler"):
        container = named(render(), "Deployment", f"kwake-{name}")["spec"]["template"]["spec"]["containers"][
            0
        ]
        assert "command" not in container and container["args"][0] == name


def test_read_only_root_friendly_environment() -> None:
    env = env_of(stages()[-1])
    assert env["HOST"] == "0.0.0.0"  # sample apps read HOST
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"  # no .pyc written beside the code at run time
    assert env["HOME"] == "/tmp" and env["TMPDIR"] == "/tmp"  # the pods' only writable mount


def test_dockerignore_keeps_the_context_small_and_the_build_inputs_in() -> None:
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    assert {".git", "tests"} <= ignored
    copied = {args.split()[0] for stage in stages() for args in stage.all("COPY") if "--from" not in args}
    assert not copied & ignored
