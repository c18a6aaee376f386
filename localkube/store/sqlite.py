"""Objects and their change log in SQLite, mirrored in memory.

The resourceVersion is the change log's sequence number, as etcd's revision is for kube-apiserver:
every write appends one log row and stamps the object with that row's number, in one transaction.
Reads are served from memory; SQLite (WAL, synchronous=NORMAL) makes a committed write survive a
crash of the process. The log is compacted to its newest `log_retention` rows; a watch from an
older resourceVersion is answered 410 Expired by the caller.
"""

from __future__ import annotations

import json
import sqlite3
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ObjectKey = tuple[str, str, str]  # (group_resource, namespace, name); namespace "" when cluster-scoped


@dataclass(frozen=True)
class Change:
    """One row of the change log."""

    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    group_resource: str
    namespace: str
    name: str
    obj: dict[str, Any]
    previous: dict[str, Any] | None = None


class Store:
    def __init__(self, path: Path, *, log_retention: int = 50_000, memory_log: int = 20_000) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS objects (
                gr TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
                rv INTEGER NOT NULL, body TEXT NOT NULL,
                PRIMARY KEY (gr, namespace, name)
            );
            CREATE TABLE IF NOT EXISTS changes (
                rv INTEGER PRIMARY KEY, type TEXT NOT NULL, gr TEXT NOT NULL,
                namespace TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL
            );
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            """
        )
        self._objects: dict[ObjectKey, dict[str, Any]] = {}
        self._by_resource: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
        for gr, ns, name, body in self._db.execute("SELECT gr, namespace, name, body FROM objects"):
            self._put_memory((gr, ns, name), json.loads(body))
        row = self._db.execute("SELECT MAX(rv) FROM changes").fetchone()
        meta_rv = self._meta_int("rv")
        self._rv = max(int(row[0] or 0), meta_rv)
        self._log_retention = log_retention
        self._recent: deque[Change] = deque(maxlen=memory_log)
        self._compacted_below = self._meta_int("compacted_below")

    # -- reads ------------------------------------------------------------------------------
    @property
    def resource_version(self) -> int:
        return self._rv

    def get(self, key: ObjectKey) -> dict[str, Any] | None:
        """The stored object. Callers must not mutate it (copy first)."""
        return self._objects.get(key)

    def scan(self, group_resource: str, namespace: str | None = None) -> Iterator[dict[str, Any]]:
        bucket = self._by_resource.get(group_resource, {})
        if namespace is None:
            yield from bucket.values()
            return
        for (ns, _), obj in bucket.items():
            if ns == namespace:
                yield obj

    def count(self, group_resource: str) -> int:
        return len(self._by_resource.get(group_resource, {}))

    def all_keys(self) -> list[ObjectKey]:
        return list(self._objects)

    # -- writes -----------------------------------------------------------------------------
    def next_rv(self) -> int:
        return self._rv + 1

    def write(self, change_type: str, key: ObjectKey, obj: dict[str, Any]) -> Change:
        """Store obj (already stamped with resourceVersion == next_rv()) and log the change.

        For DELETED, obj is the final state (also stamped with the new rv) and is removed.
        """
        rv = self._rv + 1
        stamped = obj.get("metadata", {}).get("resourceVersion")
        if stamped != str(rv):
            raise ValueError(f"object must be stamped with resourceVersion {rv}, has {stamped!r}")
        gr, ns, name = key
        body = json.dumps(obj, separators=(",", ":"))
        previous = self._objects.get(key)
        with self._transaction():
            self._db.execute(
                "INSERT INTO changes (rv, type, gr, namespace, name, body) VALUES (?, ?, ?, ?, ?, ?)",
                (rv, change_type, gr, ns, name, body),
            )
            if change_type == "DELETED":
                self._db.execute("DELETE FROM objects WHERE gr=? AND namespace=? AND name=?", (gr, ns, name))
            else:
                self._db.execute(
                    "INSERT OR REPLACE INTO objects (gr, namespace, name, rv, body) VALUES (?, ?, ?, ?, ?)",
                    (gr, ns, name, rv, body),
                )
        self._rv = rv
        if change_type == "DELETED":
            self._drop_memory(key)
        else:
            self._put_memory(key, obj)
        change = Change(rv, change_type, gr, ns, name, obj, previous)
        self._recent.append(change)
        return change

    def compact(self) -> int:
        """Drop log rows beyond the retention; returns the first rv still replayable."""
        floor = self._rv - self._log_retention
        if floor > self._compacted_below:
            with self._transaction():
                self._db.execute("DELETE FROM changes WHERE rv <= ?", (floor,))
                self._db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('compacted_below', ?)", (str(floor),)
                )
                self._db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('rv', ?)", (str(self._rv),)
                )
            self._compacted_below = floor
        return self._compacted_below

    # -- the change log ---------------------------------------------------------------------
    def oldest_replayable(self) -> int:
        """A watch may start from any rv >= this value (it receives changes with rv > start)."""
        return self._compacted_below

    def changes_since(self, rv: int) -> Iterator[Change]:
        """Every change with resourceVersion > rv, oldest first. Caller checks oldest_replayable."""
        if self._recent and self._recent[0].rv <= rv + 1:
            for change in self._recent:
                if change.rv > rv:
                    yield change
            return
        for row in self._db.execute(
            "SELECT rv, type, gr, namespace, name, body FROM changes WHERE rv > ? ORDER BY rv", (rv,)
        ):
            yield Change(int(row[0]), row[1], row[2], row[3], row[4], json.loads(row[5]))

    def close(self) -> None:
        try:
            with self._transaction():
                self._db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('rv', ?)", (str(self._rv),)
                )
        finally:
            self._db.close()

    # -- internals --------------------------------------------------------------------------
    def _meta_int(self, key: str) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def _put_memory(self, key: ObjectKey, obj: dict[str, Any]) -> None:
        self._objects[key] = obj
        self._by_resource.setdefault(key[0], {})[(key[1], key[2])] = obj

    def _drop_memory(self, key: ObjectKey) -> None:
        self._objects.pop(key, None)
        bucket = self._by_resource.get(key[0])
        if bucket is not None:
            bucket.pop((key[1], key[2]), None)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        else:
            self._db.execute("ROLLBACK")
