"""Compiled or pure Python: which modules of the request path run.

setup.py compiles `COMPILED_MODULES` with mypyc when it can. Python's import system prefers an
extension module to the source file of the same name, so once compiled, a module's `.py` is no
longer what runs. `choose()` (called once, from `activator/__init__.py`, before any of these is
imported) puts the sources back in charge, for all of them at once, because compiled modules
call one another natively and do not mix with pure ones:

- when `KWAKE_PURE_PYTHON` is set (to compare, or to debug with Python tools);
- when some module has no extension (a build that compiled only some, or none);
- in a source checkout, when a source file is newer than its extension: an edit must never be
  shadowed by the extension built before it (`pip install -e .` compiles it again).

This module imports nothing of kwake's, so setup.py can read the list from it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType

COMPILED_MODULES = (
    "activator.plain_request",
    "activator.http1",
    "activator.headers",
    "activator.fastlane",
    "activator.upstream",
    "activator.deadlines",
    "activator.admission",
    "activator.throttler",
    "activator.lb_policy",
    "activator.concurrency",
    "activator.routing",
    "activator.metrics",
    "activator.handlers.chain",
    "activator.handlers.context",
    "activator.handlers.exchange",
    "activator.handlers.probe",
    "activator.handlers.limits",
    "activator.handlers.routing",
    "activator.handlers.throttle",
    "activator.handlers.proxy",
    "activator.handlers.access_log",
    "activator.handlers.metrics",
)

PURE_ENV = "KWAKE_PURE_PYTHON"
_ROOT = Path(__file__).resolve().parent.parent

# Why the pure modules run, or None when the compiled ones do; set by choose().
pure_reason: str | None = None


def source_path(module: str, root: Path = _ROOT) -> Path:
    return root.joinpath(*module.split(".")).with_suffix(".py")


def extension_path(module: str, root: Path = _ROOT) -> Path | None:
    source = source_path(module, root)
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = source.with_suffix(suffix)
        if candidate.exists():
            return candidate
    return None


def why_pure(root: Path = _ROOT, environ: Mapping[str, str] = os.environ) -> str | None:
    """Why the pure-Python modules must run, or None when the compiled ones can."""
    if environ.get(PURE_ENV):
        return f"{PURE_ENV} is set"
    extensions = {module: extension_path(module, root) for module in COMPILED_MODULES}
    missing = [module for module, extension in extensions.items() if extension is None]
    if len(missing) == len(extensions):
        return "not compiled"
    if missing:
        return f"{missing[0]} is not compiled"
    if (root / "pyproject.toml").exists():  # a source checkout, where sources get edited
        for module, extension in extensions.items():
            source = source_path(module, root)
            if extension is not None and source.stat().st_mtime > extension.stat().st_mtime:
                return f"{source.relative_to(root)} changed after it was compiled"
    return None


class _SourcesFirst(importlib.abc.MetaPathFinder):
    """Finds the listed modules' source files, ahead of the path finder and its extensions."""

    def __init__(self, modules: Sequence[str], root: Path) -> None:
        self._modules = frozenset(modules)
        self._root = root

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self._modules:
            return None
        return importlib.util.spec_from_file_location(fullname, source_path(fullname, self._root))


def choose() -> None:
    global pure_reason  # decided once per process, before the imports it governs
    pure_reason = why_pure()
    if pure_reason is not None:
        sys.meta_path.insert(0, _SourcesFirst(COMPILED_MODULES, _ROOT))


def describe() -> str:
    """One line for logs and benchmark reports."""
    if pure_reason is None:
        return "request path compiled with mypyc"
    return f"request path in pure Python ({pure_reason})"
