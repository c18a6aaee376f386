"""Container log files: `<state-dir>/pods/<ns>_<pod>_<uid>/<container>/<restartCount>.log`.

Each run of a container writes its own file, so `previous` is the file before the newest one.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import BinaryIO

from localkube.kubelet import spec

CHUNK = 64 * 1024
FOLLOW_POLL_SECONDS = 0.1
MAX_LOG_BYTES = 10 * 1024 * 1024  # kubelet's containerLogMaxSize default, 10Mi


def pod_dir(root: Path, pod: spec.PodIdentity) -> Path:
    return root / "pods" / pod.key


def log_path(root: Path, pod: spec.PodIdentity, container: str, attempt: int) -> Path:
    return pod_dir(root, pod) / container / f"{attempt}.log"


def find_pod_dir(root: Path, namespace: str, name: str) -> Path | None:
    """The newest directory of the pod called namespace/name (uids differ across re-creations)."""
    candidates = [
        path
        for path in (root / "pods").glob(f"{namespace}_{name}_*")
        if path.name.rsplit("_", 1)[0] == f"{namespace}_{name}"
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda path: path.stat().st_mtime)


def prune(container_dir: Path, current: int) -> None:
    """Keep the log of the current run and the one before it, as kubelet keeps two containers."""
    for path in attempts(container_dir):
        if int(path.stem) < current - 1:
            path.unlink(missing_ok=True)
            path.with_name(path.name + ".1").unlink(missing_ok=True)


def attempts(container_dir: Path) -> list[Path]:
    """The container's log files, oldest run first."""
    files = [path for path in container_dir.glob("*.log") if path.stem.isdigit()]
    return sorted(files, key=lambda path: int(path.stem))


def tail_offset(path: Path, lines: int) -> int:
    """The byte offset where the last `lines` lines of the file start."""
    size = path.stat().st_size
    if lines <= 0:
        return size
    with open(path, "rb") as source:
        position = size
        # A final newline ends the last line; it does not start another one.
        wanted = lines + 1 if size and _last_byte(source, size) == b"\n" else lines
        found = 0
        while position > 0:
            step = min(CHUNK, position)
            position -= step
            source.seek(position)
            block = source.read(step)
            for index in range(len(block) - 1, -1, -1):
                if block[index : index + 1] == b"\n":
                    found += 1
                    if found == wanted:
                        return position + index + 1
    return 0


def _last_byte(source: BinaryIO, size: int) -> bytes:
    source.seek(size - 1)
    return source.read(1)


async def read_log(
    path: Path,
    *,
    tail_lines: int | None,
    limit_bytes: int | None,
    follow: bool,
    still_writing: Callable[[], bool],
) -> AsyncIterator[bytes]:
    """The file's content from its tail offset; with `follow`, new output until the run ends."""
    offset = tail_offset(path, tail_lines) if tail_lines is not None else 0
    remaining = limit_bytes
    with _open_at(path, offset) as source:
        while True:
            block = source.read(CHUNK if remaining is None else min(CHUNK, remaining))
            if block:
                if remaining is not None:
                    remaining -= len(block)
                yield block
                if remaining is not None and remaining <= 0:
                    return
                continue
            if not follow or not still_writing():
                # One last read: output written between the read above and the check.
                tail = source.read(CHUNK if remaining is None else remaining)
                if tail:
                    yield tail
                return
            await asyncio.sleep(FOLLOW_POLL_SECONDS)


def termination_message(path: Path, lines: int = 80, limit: int = 2048) -> str:
    """The end of a failed run's log, as kubelet's FallbackToLogsOnError reports it."""
    try:
        with _open_at(path, tail_offset(path, lines)) as source:
            data = source.read()
    except OSError:
        return ""
    return data[-limit:].decode("utf-8", "replace")


def _open_at(path: Path, offset: int) -> BinaryIO:
    source = open(path, "rb")  # noqa: SIM115 - the caller's `with` closes it
    source.seek(offset)
    return source


def rotate_if_large(path: Path, limit: int = MAX_LOG_BYTES) -> bool:
    """Move a log grown past `limit` to `<name>.1` and empty it in place.

    The process keeps its descriptor, opened for appending, so it writes on at the start of the
    emptied file (copy-then-truncate: a line written between the two steps may be lost). One
    rotated file is kept, replaced at the next rotation.
    """
    try:
        if path.stat().st_size <= limit:
            return False
        with open(path, "rb") as source, open(path.with_name(path.name + ".1"), "wb") as rotated:
            shutil.copyfileobj(source, rotated, CHUNK)
        os.truncate(path, 0)
    except OSError:
        return False
    return True
