"""`python -m loadtests.faults FAMILY [options]`: run one family of fault scenarios and print
its tables (exit status 0 when every scenario met its target, 1 otherwise)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

# Family name -> module with `main(argv) -> int`; each family adds its own line.
FAMILIES = {
    "dataplane": "loadtests.faults.dataplane",
    "control": "loadtests.faults.control_plane",
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in FAMILIES:
        print(f"usage: python -m loadtests.faults {{{','.join(FAMILIES)}}} [options]", file=sys.stderr)
        return 2
    family = importlib.import_module(FAMILIES[args[0]])
    code: int = family.main(args[1:])
    return code


if __name__ == "__main__":
    sys.exit(main())
