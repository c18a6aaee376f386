"""Where access-log lines go: anything with `write(line)`; writing never blocks the event loop.

`ThreadedLineWriter` hands lines to a thread through a queue (the loop only appends to it);
`LoggerLines` sends them to a `logging.Logger`, for embedding and tests.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Protocol, TextIO


class LineSink(Protocol):
    def write(self, line: str) -> None: ...


class LoggerLines:
    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def write(self, line: str) -> None:
        self._logger.info(line)


class ThreadedLineWriter:
    """Lines to a text stream from a writer thread, flushed whenever the queue runs dry."""

    def __init__(self, stream: TextIO, *, close_stream: bool = False) -> None:
        self._stream = stream
        self._close_stream = close_stream
        self._lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="access-log writer", daemon=True)
        self._thread.start()

    def write(self, line: str) -> None:
        self._lines.put(line)

    def close(self) -> None:
        self._lines.put(None)
        self._thread.join(timeout=5)
        if self._close_stream:
            self._stream.close()

    def _run(self) -> None:
        while True:
            line = self._lines.get()
            while line is not None:
                self._stream.write(line + "\n")
                try:
                    line = self._lines.get_nowait()
                except queue.Empty:
                    break
            self._stream.flush()
            if line is None:
                return
