"""Compiled or pure Python (activator/native.py): the choice, and the pure modules still pass.

The rest of the suite runs whatever this install built: the compiled request path where
setup.py could compile it. These tests check the choice itself in fresh interpreters, and run
the fast lane's own tests once more on the pure-Python modules, so that neither build goes
untested.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from activator import native

ROOT = Path(native.__file__).resolve().parent.parent
COMPILED = native.why_pure(environ={}) is None


def _run(code: str, *, env: dict[str, str] | None = None, cwd: Path = ROOT) -> str:
    environ = {k: v for k, v in os.environ.items() if k != native.PURE_ENV}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**environ, "PYTHONPATH": str(cwd), **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


REPORT = (
    "import activator.native as n, activator.fastlane as f, activator.handlers.proxy as p;"
    "print(n.describe()); print(f.__file__); print(p.__file__)"
)


def _fake_install(root: Path, *, compiled: list[str]) -> None:
    (root / "pyproject.toml").write_text("")
    for module in native.COMPILED_MODULES:
        source = native.source_path(module, root)
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text("")
        os.utime(source, (1_000, 1_000))
        if module in compiled:
            extension = source.with_suffix(importlib.machinery.EXTENSION_SUFFIXES[0])
            extension.write_text("")
            os.utime(extension, (2_000, 2_000))


def test_why_pure_reads_the_files_and_the_environment(tmp_path: Path) -> None:
    modules = list(native.COMPILED_MODULES)
    _fake_install(tmp_path, compiled=[])
    assert native.why_pure(tmp_path, {}) == "not compiled"

    _fake_install(tmp_path, compiled=modules[:-1])
    assert native.why_pure(tmp_path, {}) == f"{modules[-1]} is not compiled"

    _fake_install(tmp_path, compiled=modules)
    assert native.why_pure(tmp_path, {}) is None
    assert native.why_pure(tmp_path, {native.PURE_ENV: "1"}) == f"{native.PURE_ENV} is set"

    edited = native.source_path("activator.handlers.chain", tmp_path)
    os.utime(edited, (3_000, 3_000))
    assert native.why_pure(tmp_path, {}) == "activator/handlers/chain.py changed after it was compiled"

    # An installed package (no pyproject.toml beside it) is not edited in place: file times
    # there are the installer's, not a sign of an edit.
    (tmp_path / "pyproject.toml").unlink()
    assert native.why_pure(tmp_path, {}) is None


def test_the_pure_switch_runs_every_listed_module_from_its_source() -> None:
    described, fastlane, proxy = _run(REPORT, env={native.PURE_ENV: "1"}).split("\n")[:3]
    assert described == f"request path in pure Python ({native.PURE_ENV} is set)"
    assert fastlane.endswith("activator/fastlane.py")
    assert proxy.endswith("activator/handlers/proxy.py")


def test_a_machine_that_can_compile_tests_the_compiled_build() -> None:
    if os.environ.get("KWAKE_NO_EXTENSIONS"):
        pytest.skip("installed with KWAKE_NO_EXTENSIONS")
    if shutil.which(os.environ.get("CC", "cc")) is None or importlib.util.find_spec("mypyc") is None:
        pytest.skip("no C compiler or no mypyc here: the install is pure Python")
    why = native.why_pure(environ={})
    assert why is None, f"{why}: run `pip install -e .` again, so that the suite tests what ships"


@pytest.mark.skipif(not COMPILED, reason=f"this install runs pure Python: {native.why_pure()}")
def test_a_compiled_install_runs_its_extensions() -> None:
    described, fastlane, proxy = _run(REPORT).split("\n")[:3]
    assert described == "request path compiled with mypyc"
    assert fastlane.endswith(".so") and proxy.endswith(".so")


@pytest.mark.skipif(not COMPILED, reason=f"this install runs pure Python: {native.why_pure()}")
def test_an_edited_source_is_not_shadowed_by_its_stale_extension(tmp_path: Path) -> None:
    # A copy of the compiled package, with mypyc's shared library beside it, as in a checkout.
    shutil.copytree(ROOT / "activator", tmp_path / "activator", ignore=shutil.ignore_patterns("__pycache__"))
    for shared in ROOT.glob("*__mypyc*"):
        shutil.copy2(shared, tmp_path)
    (tmp_path / "pyproject.toml").write_text("")
    assert "compiled with mypyc" in _run(REPORT, cwd=tmp_path)

    edited = tmp_path / "activator" / "headers.py"
    edited.write_text(edited.read_text() + "\nEDITED = True\n")
    described, fastlane, _ = _run(REPORT, cwd=tmp_path).split("\n")[:3]
    assert described == "request path in pure Python (activator/headers.py changed after it was compiled)"
    assert fastlane.endswith("activator/fastlane.py")
    assert _run("import activator.headers as h; print(h.EDITED)", cwd=tmp_path).strip() == "True"


@pytest.mark.skipif(not COMPILED, reason="the whole suite runs on the pure modules already")
def test_the_fast_lane_tests_pass_on_the_pure_modules_too() -> None:
    here = Path(__file__).parent
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(here / "test_plain_request.py"),
            str(here / "test_http1.py"),
            str(here / "test_fastlane.py"),
            str(here / "test_upstream.py"),
            str(here / "test_throttling.py"),
        ],
        env={**os.environ, native.PURE_ENV: "1"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert " passed" in result.stdout
