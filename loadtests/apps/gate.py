"""The hello app behind a gate: it refuses to start while the file `$GATE_FILE` exists.

Serves exactly as `loadtests.apps.hello` (`GET /`, `?sleep=MS`) when the gate is open. When the
file exists at start, it writes why to stderr and exits with code 1 without ever listening: a
revision running it can never become ready again, and its pods say why (ExitCode1, with this
message when the container's terminationMessagePolicy is FallbackToLogsOnError). The fault tests
open the gate to get a Ready revision, then close it and kill the running pods.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from loadtests.apps import hello

EXIT_CLOSED = 1


def main() -> None:
    gate = os.environ.get("GATE_FILE", "")
    if gate and Path(gate).exists():
        print(f"gate closed: {gate} exists, refusing to serve", file=sys.stderr, flush=True)
        sys.exit(EXIT_CLOSED)
    hello.main()


if __name__ == "__main__":
    main()
