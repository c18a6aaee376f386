"""The flags that shape a Service, as given on the command line, and the checks on their values.

`ServiceFlags` keeps the raw strings: the builder checks them (so a bad value is reported with its
flag, exit code 1, before anything is sent) and table tests can feed it what a user would type.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass

from serving.api.durations import DurationError, parse_duration


class FlagError(ValueError):
    """A flag's value cannot be used; the message names the flag and the expected form."""


@dataclass(frozen=True)
class ServiceFlags:
    image: str | None = None
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: tuple[str, ...] = ()  # NAME=VALUE, or NAME- to remove
    port: str | None = None  # [h2c:|http1:]PORT
    concurrency_limit: str | None = None
    scale_min: str | None = None
    scale_max: str | None = None
    scale_target: str | None = None
    scale_window: str | None = None
    scale_init: str | None = None
    annotations: tuple[str, ...] = ()  # KEY=VALUE, or KEY- to remove
    revision_name: str | None = None
    tags: tuple[str, ...] = ()  # REVISION=TAG, @latest=TAG
    untags: tuple[str, ...] = ()
    traffic: tuple[str, ...] = ()  # REF=PERCENT

    @property
    def changes_template(self) -> bool:
        return bool(
            self.image is not None
            or self.command
            or self.args
            or self.env
            or self.port is not None
            or self.concurrency_limit is not None
            or self.scale_min is not None
            or self.scale_max is not None
            or self.scale_target is not None
            or self.scale_window is not None
            or self.scale_init is not None
            or self.annotations
            or self.revision_name is not None
        )

    @property
    def changes_traffic(self) -> bool:
        return bool(self.tags or self.untags or self.traffic)


def register(parser: argparse.ArgumentParser, *, update: bool) -> None:
    """The Service-shaping flags, for `service create` and `service update`."""
    g = parser.add_argument_group("revision template")
    g.add_argument("--image", help="container image (optional with --cmd for local processes)")
    g.add_argument("--cmd", dest="command", action="append", default=[], help="command (repeatable)")
    g.add_argument(
        "--arg",
        dest="args",
        action="append",
        default=[],
        help="argument (repeatable; --arg=-m for one starting with -)",
    )
    g.add_argument("-e", "--env", action="append", default=[], help="NAME=VALUE, or NAME- to remove")
    g.add_argument("-p", "--port", help="the port the app listens on: PORT or h2c:PORT")
    g.add_argument("--concurrency-limit", help="most requests one pod serves at once (0: no limit)")
    g.add_argument("--scale-min", help="minimum number of pods (0 allows scale to zero)")
    g.add_argument("--scale-max", help="maximum number of pods (0: no limit)")
    g.add_argument("--scale-target", help="concurrent requests per pod the autoscaler aims at")
    g.add_argument("--scale-window", help="autoscaler stable window, e.g. 60s (6s to 1h)")
    g.add_argument("--scale-init", help="pods a new revision starts with")
    g.add_argument("-a", "--annotation", dest="annotations", action="append", default=[], help="KEY=VALUE")
    g.add_argument("--revision-name", help="name of the new revision (default: generated)")
    t = parser.add_argument_group("traffic")
    t.add_argument("--tag", dest="tags", action="append", default=[], help="REVISION=TAG or @latest=TAG")
    if update:
        t.add_argument("--untag", dest="untags", action="append", default=[], help="remove a tag")
        t.add_argument(
            "--traffic", action="append", default=[], help="REVISION=PCT, TAG=PCT or @latest=PCT (sum 100)"
        )


def from_args(args: argparse.Namespace) -> ServiceFlags:
    return ServiceFlags(
        image=args.image,
        command=tuple(args.command),
        args=tuple(args.args),
        env=tuple(args.env),
        port=args.port,
        concurrency_limit=args.concurrency_limit,
        scale_min=args.scale_min,
        scale_max=args.scale_max,
        scale_target=args.scale_target,
        scale_window=args.scale_window,
        scale_init=args.scale_init,
        annotations=tuple(args.annotations),
        revision_name=args.revision_name,
        tags=tuple(args.tags),
        untags=tuple(getattr(args, "untags", ())),
        traffic=tuple(getattr(args, "traffic", ())),
    )


# --- value checks ---------------------------------------------------------------------------------

# Kubernetes' rule for env var names (since 1.34 any printable ASCII but "="; the classic rule here).
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_ANNOTATION_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
PORT_NAMES = ("http1", "h2c")
WINDOW_MIN_SECONDS, WINDOW_MAX_SECONDS = 6.0, 3600.0


def split_pair(flag: str, raw: str, form: str) -> tuple[str, str]:
    key, sep, value = raw.partition("=")
    if not sep or not key or not value:
        raise FlagError(f"{flag} {raw!r}: expected {form}")
    return key, value


def key_changes(flag: str, values: tuple[str, ...], key_ok: re.Pattern[str]) -> list[tuple[str, str | None]]:
    """`KEY=VALUE` (set) and `KEY-` (remove, value None), in order, keys checked."""
    out: list[tuple[str, str | None]] = []
    for raw in values:
        if raw.endswith("-") and "=" not in raw:
            key, value = raw[:-1], None
        else:
            key, sep, value_text = raw.partition("=")
            if not sep:
                raise FlagError(f"{flag} {raw!r}: expected NAME=VALUE (or NAME- to remove)")
            value = value_text
        if not key_ok.match(key):
            raise FlagError(f"{flag} {raw!r}: {key!r} is not a valid name")
        out.append((key, value))
    return out


def env_changes(values: tuple[str, ...]) -> list[tuple[str, str | None]]:
    return key_changes("--env", values, _ENV_NAME)


def annotation_changes(values: tuple[str, ...]) -> list[tuple[str, str | None]]:
    return key_changes("--annotation", values, _ANNOTATION_KEY)


def whole_number(flag: str, raw: str, *, minimum: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise FlagError(f"{flag} {raw!r}: expected a whole number") from None
    if value < minimum:
        raise FlagError(f"{flag} {raw!r}: must be at least {minimum}")
    return value


def port(raw: str) -> tuple[str | None, int]:
    name, sep, number = raw.rpartition(":")
    if sep and name not in PORT_NAMES:
        raise FlagError(f"--port {raw!r}: the port name must be one of {', '.join(PORT_NAMES)}")
    value = whole_number("--port", number, minimum=1)
    if value > 65535:
        raise FlagError(f"--port {raw!r}: must be at most 65535")
    return (name or None), value


def window(raw: str) -> str:
    try:
        seconds = parse_duration(raw)
    except DurationError:
        raise FlagError(f"--scale-window {raw!r}: expected a duration such as 60s or 2m") from None
    if not WINDOW_MIN_SECONDS <= seconds <= WINDOW_MAX_SECONDS:
        raise FlagError(f"--scale-window {raw!r}: must be within 6s and 1h")
    return raw
