"""The SQLite settings kbqa's own records share (feedback, query log): durable writes, concurrent readers."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from rag.errors import RecordsVersionError


def create(path: Path, migrations: Sequence[str]) -> None:
    """Create the file and bring its schema up to date; WAL lets the server write while `kbqa` commands read.

    ``migrations[i]`` takes the schema from version i to i + 1 and runs once, in order: the file's version is
    SQLite's ``user_version``. A file written before versions were kept has version 0 and its tables already:
    migration 0 creates them only if missing (``IF NOT EXISTS``), so such a file opens as it is. A file from a
    newer kbqa is not touched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > len(migrations):
        raise RecordsVersionError(path, version, len(migrations))
    for number in range(version, len(migrations)):
        with connect(path) as db:  # one transaction a step: a failed step leaves the file at the step before
            for statement in _statements(migrations[number]):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number + 1}")


def _statements(script: str) -> list[str]:
    """``executescript`` commits on its own, so a step runs statement by statement inside its transaction."""
    return [s.strip() for s in script.split(";") if s.strip()]


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
