"""The `kwake` command: one entry point whose subcommands live in the component packages.

Each subcommand names a module with `register(parser)` and `run(args) -> int`. The modules are
imported only when their subcommand runs, so `kwake localkube` never pays for kopf or numpy.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol, cast


class Command(Protocol):
    def register(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


# name -> (module, one-line help). Keep alphabetical within a group.
COMMANDS: dict[str, tuple[str, str]] = {
    "autoscaler": ("autoscaler.cli", "run the KPA autoscaler"),
    "gateway": ("activator.cli", "run the gateway (ingress + activator)"),
    "kubelet": ("localkube.kubelet_cli", "run the process kubelet against any API server"),
    "localkube": ("localkube.cli", "run the embedded Kubernetes-compatible control plane"),
    "operator": ("serving.operator.cli", "run the serving operator against a cluster"),
    "up": ("serving.cli.up", "run everything on this machine and apply manifests"),
    # The kn-style CLI, for people without kubectl habits.
    "apply": ("serving.cli.kn.apply", "apply manifests from files or folders (server-side apply)"),
    "logs": ("serving.cli.kn.logs", "print the logs of a Service's pods"),
    "request": ("serving.cli.kn.request", "send a request to a Service through the gateway"),
    "revision": ("serving.cli.kn.revision", "list, describe and delete Revisions"),
    "route": ("serving.cli.kn.route", "list and describe Routes"),
    "service": ("serving.cli.kn.service", "create, update, list, describe and delete Services"),
}


def _load(module_name: str) -> Command:
    return cast(Command, importlib.import_module(module_name))


def build_parser(argv: Sequence[str]) -> tuple[argparse.ArgumentParser, Command | None]:
    parser = argparse.ArgumentParser(prog="kwake", description="kwake: Knative-compatible serving.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = argv[0] if argv else None
    command: Command | None = None
    for name, (module_name, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text)
        if name == chosen:
            command = _load(module_name)
            command.register(sub_parser)
    return parser, command


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser, command = build_parser(args_list)
    args = parser.parse_args(args_list)
    if command is None:
        parser.print_help()
        return 2
    return command.run(args)


if __name__ == "__main__":
    sys.exit(main())
