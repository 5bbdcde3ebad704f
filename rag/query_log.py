"""Every question, search and triaged ticket with what was retrieved and answered: the raw data of the learning loop.

One row per ask, search or triage from the web app, the API and the CLI (evaluation runs are not logged): the
question, the query actually searched, the retrieved chunk ids and scores, the answer, verdict,
confidence, latency and the settings in force. Stored like feedback (rag/sqlite_store.py). Tickets can
hold customer data: KBQA_QUERY_LOG=false turns the log off.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rag.answer import Answer
from rag.sqlite_store import connect, create

if TYPE_CHECKING:
    from rag.triage import Triage

Channel = Literal["cli", "api", "ui"]

_SCHEMA = """
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
"""


class QueryLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        create(path, _SCHEMA)

    def record_answer(self, answer: Answer, channel: Channel, tags: Sequence[str], settings: dict[str, Any]) -> int:
        retrieved = [
            {"chunk_id": r.chunk_id, "article_id": r.article_id, "score": r.score, "dense_score": r.dense_score}
            for r in answer.retrieved
        ]
        return self._insert(
            "ask",
            channel,
            answer.question,
            answer.query,
            tags,
            answer.verdict,
            answer.confidence,
            answer.text,
            retrieved,
            answer.timings.get("total_ms", 0.0),
            settings,
            answer.to_dict(),
        )

    def record_search(
        self,
        query: str,
        hits: Sequence[Any],
        channel: Channel,
        tags: Sequence[str],
        latency_ms: float,
        settings: dict[str, Any],
    ) -> int:
        retrieved = [
            {"chunk_id": h.chunk_id, "article_id": h.article_id, "score": h.score, "dense_score": h.dense_score}
            for h in hits
        ]
        verdict = "hits" if hits else "no_hits"
        result = {"hits": [vars(h) for h in hits]}
        return self._insert(
            "search", channel, query, query, tags, verdict, None, "", retrieved, latency_ms, settings, result
        )

    def record_triage(
        self, ticket: str, result: Triage, channel: Channel, tags: Sequence[str], settings: dict[str, Any]
    ) -> int:
        retrieved = [
            {"chunk_id": h.chunk_id, "article_id": h.article_id, "score": h.score, "dense_score": h.dense_score}
            for h in result.matches
        ]
        return self._insert(
            "triage",
            channel,
            ticket,
            result.query,
            tags,
            result.verdict,
            result.confidence,
            result.reply,
            retrieved,
            result.timings.get("total_ms", 0.0),
            settings,
            result.to_dict(),
        )

    def _insert(self, *values: Any) -> int:
        kind, channel, question, query, tags, verdict, confidence, answer, retrieved, latency, settings, result = values
        with connect(self.path) as db:
            cursor = db.execute(
                "INSERT INTO queries (created_at, kind, channel, question, query, tags, verdict, confidence, answer,"
                " retrieved, latency_ms, settings, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    kind,
                    channel,
                    question,
                    query,
                    json.dumps(list(tags)),
                    verdict,
                    confidence,
                    answer,
                    json.dumps(retrieved),
                    round(latency, 2),
                    json.dumps(settings, default=str),
                    json.dumps(result, default=str),
                ),
            )
            return int(cursor.lastrowid or 0)

    def get(self, row_id: int) -> dict[str, Any] | None:
        with connect(self.path) as db:
            row = db.execute("SELECT * FROM queries WHERE id = ?", (row_id,)).fetchone()
        return _decode(dict(row)) if row else None

    def rows(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest ``limit`` rows, newest first."""
        with connect(self.path) as db:
            found = db.execute("SELECT * FROM queries ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [_decode(dict(r)) for r in found]


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("tags", "retrieved", "settings", "result"):
        row[key] = json.loads(row[key])
    return row
