"""`--traffic`, `--tag` and `--untag` applied to a Service's traffic block, as kn computes them.

Order (kn's): untag first, then tag, then, when `--traffic` is given, every percent is reset and
set from the flags (a flag's reference is `@latest`, a tag, or a revision name). Targets left
with no tag and 0% are dropped. Pure: targets in, targets out; a `FlagError` names the bad flag.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from serving.cli.kn.flags import FlagError, split_pair

LATEST = "@latest"


def default_traffic() -> list[dict[str, Any]]:
    """What Knative defaults an empty traffic block to: all of it to the latest ready revision."""
    return [{"latestRevision": True, "percent": 100}]


def parse_percents(values: Sequence[str]) -> list[tuple[str, int]]:
    """`REF=PCT` pairs, checked: integer percents within 0..100, each ref once, summing to 100."""
    out: list[tuple[str, int]] = []
    seen: set[str] = set()
    for raw in values:
        ref, pct_text = split_pair("--traffic", raw, "REVISION=PERCENT (or @latest=PERCENT, TAG=PERCENT)")
        try:
            pct = int(pct_text.rstrip("%"))
        except ValueError:
            raise FlagError(f"--traffic {raw!r}: {pct_text!r} is not a whole number percent") from None
        if not 0 <= pct <= 100:
            raise FlagError(f"--traffic {raw!r}: the percent must be within 0 and 100")
        if ref in seen:
            raise FlagError(f"--traffic {raw!r}: {ref} is given more than once")
        seen.add(ref)
        out.append((ref, pct))
    if out and sum(p for _, p in out) != 100:
        total = sum(p for _, p in out)
        raise FlagError(f"--traffic percents sum to {total}, they must sum to 100")
    return out


def _parse_tags(values: Sequence[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    tags: set[str] = set()
    for raw in values:
        revision, tag = split_pair("--tag", raw, "REVISION=TAG (or @latest=TAG)")
        if tag in tags:
            raise FlagError(f"--tag {raw!r}: tag {tag!r} is given more than once")
        tags.add(tag)
        out.append((revision, tag))
    return out


def _is_latest(target: Mapping[str, Any]) -> bool:
    return bool(target.get("latestRevision"))


def _tag(targets: list[dict[str, Any]], revision: str, tag: str) -> None:
    for target in targets:
        matches = _is_latest(target) if revision == LATEST else target.get("revisionName") == revision
        if matches and not target.get("tag"):
            target["tag"] = tag
            return
    new: dict[str, Any] = {"tag": tag, "percent": 0}
    if revision == LATEST:
        new["latestRevision"] = True
    else:
        new["revisionName"] = revision
        new["latestRevision"] = False
    targets.append(new)


def _set_percent(targets: list[dict[str, Any]], ref: str, pct: int) -> None:
    if ref == LATEST:
        candidates = [t for t in targets if _is_latest(t) and not t.get("tag")]
        new: dict[str, Any] = {"latestRevision": True}
    else:
        by_tag = [t for t in targets if t.get("tag") == ref]
        if by_tag:
            by_tag[0]["percent"] = pct
            return
        candidates = [t for t in targets if t.get("revisionName") == ref and not t.get("tag")]
        candidates = candidates or [t for t in targets if t.get("revisionName") == ref]
        new = {"revisionName": ref, "latestRevision": False}
    if candidates:
        candidates[0]["percent"] = pct
    else:
        targets.append({**new, "percent": pct})


def compute_traffic(
    current: Sequence[Mapping[str, Any]],
    *,
    tags: Sequence[str] = (),
    untags: Sequence[str] = (),
    traffic: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """The new traffic block. `current` empty means Knative's default (all to @latest)."""
    percents = parse_percents(traffic)
    tag_pairs = _parse_tags(tags)
    targets = [copy.deepcopy(dict(t)) for t in current] or default_traffic()
    for tag in untags:
        tagged = [t for t in targets if t.get("tag") == tag]
        if not tagged:
            raise FlagError(f"--untag {tag!r}: no traffic target has that tag")
        for target in tagged:
            del target["tag"]
            target.pop("url", None)
    existing_tags = {str(t["tag"]) for t in targets if t.get("tag")}
    for revision, tag in tag_pairs:
        if tag in existing_tags:
            raise FlagError(f"--tag {revision}={tag}: tag {tag!r} is already in use; --untag it first")
        _tag(targets, revision, tag)
    if percents:
        for target in targets:
            target["percent"] = 0
        for ref, pct in percents:
            _set_percent(targets, ref, pct)
    kept = [t for t in targets if t.get("tag") or int(t.get("percent") or 0) > 0]
    total = sum(int(t.get("percent") or 0) for t in kept)
    if total != 100:
        raise FlagError(f"the traffic would sum to {total}%, not 100%; give every share with --traffic")
    return kept
