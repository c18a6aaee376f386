"""The access log's writer thread: every line written reaches the stream, in order, in batches."""

from __future__ import annotations

import io
import threading
import time

from activator.access_lines import ThreadedLineWriter


class _Recording(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_every_line_from_several_threads_reaches_the_stream_by_close() -> None:
    stream = _Recording()
    writer = ThreadedLineWriter(stream, batch_s=0.01)
    per_thread = 5000

    def produce(name: str) -> None:
        for i in range(per_thread):
            writer.write(f"{name}-{i}")

    producers = [threading.Thread(target=produce, args=(f"t{n}",)) for n in range(3)]
    for thread in producers:
        thread.start()
    for thread in producers:
        thread.join()
    writer.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3 * per_thread
    for n in range(3):
        mine = [line for line in lines if line.startswith(f"t{n}-")]
        assert mine == [f"t{n}-{i}" for i in range(per_thread)]  # each producer's order kept
    assert stream.writes < len(lines) / 10  # batched, not a write per line


def test_lines_are_written_within_a_batch_period_without_close() -> None:
    stream = _Recording()
    writer = ThreadedLineWriter(stream, batch_s=0.01)
    try:
        writer.write("first")
        deadline = time.monotonic() + 2.0
        while "first" not in stream.getvalue() and time.monotonic() < deadline:
            time.sleep(0.005)
        assert stream.getvalue() == "first\n"
    finally:
        writer.close()
