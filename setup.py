"""Builds kwake, compiling the gateway's request path with mypyc where this machine can.

Everything about the package is in pyproject.toml; this file only adds the compiled modules.
The modules below run on every proxied request. They are ordinary typed Python (the project
keeps `mypy --strict` clean), and mypyc turns them into C extensions that run the same code
about 1.25 x faster end to end (docs/benchmarks.md). This is the pattern of kwake's own
dependencies (aiohttp, multidict, yarl, uvloop): C where it builds, the same behaviour in pure
Python where it does not.

- No C compiler, or `KWAKE_NO_EXTENSIONS=1` at install time: nothing is compiled, and the
  pure-Python modules are used.
- `KWAKE_PURE_PYTHON=1` at run time uses the pure-Python modules of a compiled install
  (activator/native.py, which also does so by itself when a source file changed after it was
  compiled, so an edit is never shadowed by a stale extension).
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

# The per-request path (parsing, header rewriting, the handler chain, admission, the upstream
# pool), listed where the runtime also reads it. Nothing there may use what mypyc does not
# compile: async generators, class bodies with more than assignments to names.
COMPILED = [
    module.replace(".", "/") + ".py" for module in runpy.run_path("activator/native.py")["COMPILED_MODULES"]
]


class OptionalBuildExt(build_ext):
    """A compiler error leaves the pure-Python modules in place instead of failing the install."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:  # any failure to compile means pure Python
            _skip(f"building the extensions failed ({error})")


def _remove_built_in_place() -> None:
    """A pure install in a checkout that was compiled before: the old extensions go, or Python
    would go on importing them."""
    here = Path(__file__).resolve().parent
    for source in COMPILED:
        for built in (here / source).parent.glob(Path(source).stem + ".*.so"):
            built.unlink()
    for shared in here.glob("*__mypyc.*.so"):
        shared.unlink()


def _skip(why: str) -> None:
    print(f"kwake: {why}; the gateway runs as pure Python", file=sys.stderr)


# What pip asks of setup.py before it builds (requirements, metadata) needs no extensions, and
# mypyc type-checks and generates C each time it is called (~30 s): only a build calls it.
_METADATA_ONLY = {"egg_info", "dist_info", "sdist", "--version", "--name"}


def _extensions() -> list[Any]:
    if os.environ.get("KWAKE_NO_EXTENSIONS"):
        _remove_built_in_place()
        return []
    if _METADATA_ONLY.intersection(sys.argv[1:]):
        return []
    try:
        from mypyc.build import mypycify  # noqa: PLC0415 - only a build with mypyc compiles

        return list(mypycify(COMPILED, opt_level="3"))
    except (SystemExit, Exception) as error:  # mypyc exits when the code does not type-check
        _skip(f"mypyc could not compile ({error!r})")
        return []


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
