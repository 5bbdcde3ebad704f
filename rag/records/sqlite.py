"""The SQLite settings kbqa's own records share (feedback, query log): durable writes, concurrent readers."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def create(path: Path, schema: str) -> None:
    """Create the file and its tables; WAL lets the server write while `kbqa` commands read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(schema)


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """One transaction; committed and synced to disk (synchronous=FULL) when the block ends, so a row
    survives a server killed right after the write."""
    db = sqlite3.connect(path, timeout=30)
    try:
        db.execute("PRAGMA synchronous=FULL")
        db.row_factory = sqlite3.Row
        with db:
            yield db
    finally:
        db.close()
