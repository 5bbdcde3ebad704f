"""Every question, search and triaged ticket with what was retrieved and answered: the raw data of the learning loop.

One row per ask, search or triage from the web app, the API and the CLI (evaluation runs are not logged): the
question, the query actually searched, the retrieved chunk ids and scores, the answer, verdict,
confidence, latency and the settings in force. Stored like feedback (rag/records/sqlite.py). Tickets can
hold customer data: KBQA_QUERY_LOG=false turns the log off.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rag.records.sqlite import connect, create
from rag.types import Answer, RetrievedChunk, SearchHit

if TYPE_CHECKING:
    from rag.types import Triage

Channel = Literal["cli", "api", "ui"]

# Ordered schema steps (rag/records/sqlite.py): add a step at the end, never change one that has shipped.
_MIGRATIONS = (
    """
CREATE TABLE IF NOT EXISTS queries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    kind TEXT NOT NULL,
    channel TEXT NOT NULL,
    question TEXT NOT NULL,
    query TEXT NOT NULL,
    tags TEXT NOT NULL,
    verdict TEXT NOT NULL,
    confidence REAL,
    answer TEXT NOT NULL,
    retrieved TEXT NOT NULL,
    latency_ms REAL NOT NULL,
    settings TEXT NOT NULL,
    result TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS queries_verdict ON queries (verdict);
""",
)


class QueryLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        create(path, _MIGRATIONS)

    def record_answer(self, answer: Answer, channel: Channel, tags: Sequence[str], settings: dict[str, Any]) -> int:
        return self._insert(
            kind="ask",
            channel=channel,
            question=answer.question,
            query=answer.query,
            tags=tags,
            verdict=answer.verdict,
            confidence=answer.confidence,
            answer=answer.text,
            retrieved=_retrieved(answer.retrieved),
            latency_ms=answer.timings.get("total_ms", 0.0),
            settings=settings,
            result=answer.to_dict(),
        )

    def record_search(
        self,
        query: str,
        hits: Sequence[SearchHit],
        channel: Channel,
        tags: Sequence[str],
        latency_ms: float,
        settings: dict[str, Any],
    ) -> int:
        return self._insert(
            kind="search",
            channel=channel,
            question=query,
            query=query,
            tags=tags,
            verdict="hits" if hits else "no_hits",
            confidence=None,
            answer="",
            retrieved=_retrieved(hits),
            latency_ms=latency_ms,
            settings=settings,
            result={"hits": [asdict(h) for h in hits]},
        )

    def record_triage(
        self, ticket: str, result: Triage, channel: Channel, tags: Sequence[str], settings: dict[str, Any]
    ) -> int:
        return self._insert(
            kind="triage",
            channel=channel,
            question=ticket,
            query=result.query,
            tags=tags,
            verdict=result.verdict,
            confidence=result.confidence,
            answer=result.reply,
            retrieved=_retrieved(result.matches),
            latency_ms=result.timings.get("total_ms", 0.0),
            settings=settings,
            result=result.to_dict(),
        )

    def _insert(self, **row: Any) -> int:
        row["created_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        row["latency_ms"] = round(row["latency_ms"], 2)
        for key in ("tags", "retrieved", "settings", "result"):
            row[key] = json.dumps(list(row[key]) if key == "tags" else row[key], default=str)
        columns = ", ".join(row)
        with connect(self.path) as db:
            cursor = db.execute(
                f"INSERT INTO queries ({columns}) VALUES ({', '.join('?' * len(row))})", tuple(row.values())
            )
            return int(cursor.lastrowid or 0)

    def get(self, row_id: int) -> dict[str, Any] | None:
        with connect(self.path) as db:
            row = db.execute("SELECT * FROM queries WHERE id = ?", (row_id,)).fetchone()
        return _decode(dict(row)) if row else None

    def with_verdicts(self, verdicts: Collection[str]) -> list[dict[str, Any]]:
        """Every row with one of ``verdicts``, oldest first: id, kind, question, query and verdict only (no JSON
        to decode), read through the verdict index."""
        marks = ", ".join("?" * len(verdicts))
        with connect(self.path) as db:
            found = db.execute(
                f"SELECT id, kind, question, query, verdict FROM queries WHERE verdict IN ({marks}) ORDER BY id",
                tuple(verdicts),
            ).fetchall()
        return [dict(r) for r in found]

    def rows(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest ``limit`` rows, newest first."""
        with connect(self.path) as db:
            found = db.execute("SELECT * FROM queries ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [_decode(dict(r)) for r in found]


def _retrieved(items: Sequence[RetrievedChunk | SearchHit]) -> list[dict[str, Any]]:
    """What was retrieved, as ids and scores: enough to compare a replay with."""
    return [
        {"chunk_id": r.chunk_id, "article_id": r.article_id, "score": r.score, "dense_score": r.dense_score}
        for r in items
    ]


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("tags", "retrieved", "settings", "result"):
        row[key] = json.loads(row[key])
    return row
