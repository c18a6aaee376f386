"""How the harness waits on `kwake up`'s output (loadtests/kwake.py `KwakeUp.wait_output`)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from loadtests.kwake import UP_RUNNING, KwakeUp

NOT_APPLIED = (
    "kwake: not applied: manifests.yaml#0: Service 'hello': admission webhook"
    ' "validate-services.serving.kwake.dev" denied the request'
)


def _fake_up(lines: list[str], linger_s: float) -> KwakeUp:
    """A process that prints what kwake up would, then stays up as kwake up does."""
    tmp = tempfile.TemporaryDirectory(prefix="kwake-harness-")
    base = Path(tmp.name)
    output = base / "up.log"
    script = f"import sys, time; print({chr(10).join(lines)!r}, flush=True); time.sleep({linger_s})"
    with output.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-c", script], stdout=sink, stderr=subprocess.STDOUT)
    return KwakeUp(process, base / "state", 0, "hello", output, tmp)


def test_a_service_kwake_up_gave_up_on_fails_at_once_not_at_the_deadline() -> None:
    up = _fake_up(["kwake: starting gateway", NOT_APPLIED, UP_RUNNING], linger_s=60)
    try:
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="denied the request") as info:
            up.wait_output("service default/hello is Ready", 30)
        assert time.monotonic() - started < 5
        assert "(of 30s)" in str(info.value)
    finally:
        up.stop()


def test_a_ready_service_printed_before_the_running_line_is_found() -> None:
    ready = "kwake: service default/hello is Ready"
    up = _fake_up(["kwake: starting gateway", ready, UP_RUNNING], linger_s=60)
    try:
        up.wait_output("service default/hello is Ready", 30)
    finally:
        up.stop()
