"""Thumbs up/down on answers, stored durably in SQLite, exportable as eval-set items."""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rag.errors import FeedbackError
from rag.records.sqlite import connect, create
from rag.types import Answer

REASONS = ("wrong article", "outdated", "incomplete", "wrong answer")
Rating = Literal["up", "down"]

# Ordered schema steps (rag/records/sqlite.py): add a step at the end, never change one that has shipped.
_MIGRATIONS = (
    """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    reason TEXT NOT NULL DEFAULT '',
    comment TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    verdict TEXT NOT NULL,
    cited_chunk_ids TEXT NOT NULL,
    cited_article_ids TEXT NOT NULL,
    settings TEXT NOT NULL
)
""",
)


@dataclass
class FeedbackRow:
    id: int
    created_at: str
    rating: Rating
    reason: str
    comment: str
    question: str
    answer: str
    verdict: str
    cited_chunk_ids: list[str]
    cited_article_ids: list[str]
    settings: dict[str, Any]


class FeedbackStore:
    """One SQLite file (rag/records/sqlite.py): a row is on disk when ``record`` returns."""

    def __init__(self, path: Path) -> None:
        self.path = path
        create(path, _MIGRATIONS)

    def _connect(self) -> AbstractContextManager[sqlite3.Connection]:
        return connect(self.path)

    def record(
        self,
        answer: Answer,
        rating: Rating,
        reason: str = "",
        comment: str = "",
        settings: dict[str, Any] | None = None,
    ) -> int:
        if rating not in ("up", "down"):
            raise FeedbackError(f"Rating must be 'up' or 'down', not {rating!r}.")
        if reason and reason not in REASONS:
            raise FeedbackError(f"Unknown reason {reason!r}; use one of: {', '.join(REASONS)}.")
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO feedback (created_at, rating, reason, comment, question, answer, verdict,"
                " cited_chunk_ids, cited_article_ids, settings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    rating,
                    reason,
                    comment.strip()[:4000],
                    answer.question,
                    answer.text,
                    answer.verdict,
                    json.dumps([c.chunk_id for c in answer.citations]),
                    json.dumps(list(dict.fromkeys(c.article_id for c in answer.citations))),
                    json.dumps(settings or {}, default=str),
                ),
            )
            return int(cursor.lastrowid or 0)

    def rows(self, rating: Rating | None = None) -> list[FeedbackRow]:
        query = "SELECT * FROM feedback" + (" WHERE rating = ?" if rating else "") + " ORDER BY id"
        with self._connect() as db:
            found = db.execute(query, (rating,) if rating else ()).fetchall()
        return [
            FeedbackRow(
                **{
                    **dict(r),
                    "cited_chunk_ids": json.loads(r["cited_chunk_ids"]),
                    "cited_article_ids": json.loads(r["cited_article_ids"]),
                    "settings": json.loads(r["settings"]),
                }
            )
            for r in found
        ]


def to_eval_item(row: FeedbackRow) -> dict[str, Any]:
    """An eval-set line (eval/README.md format). A downvoted answer's sources are unknown until someone
    reviews it, so its ``source_ids`` is empty and ``review`` says what to fill in."""
    up = row.rating == "up"
    return {
        "id": f"fb-{row.id}",
        "question": row.question,
        "reference_answer": row.answer if up else "",
        "source_ids": row.cited_article_ids if up else [],
        "must_include": [],
        "answerable": row.verdict != "abstained" if up else True,
        "type": "feedback",
        "tags": ["feedback", row.rating] + ([row.reason] if row.reason else []),
        "review": "" if up else "fill in source_ids, reference_answer and must_include (or set answerable: false)",
        "feedback": {
            "rating": row.rating,
            "reason": row.reason,
            "comment": row.comment,
            "answer": row.answer,
            "cited_article_ids": row.cited_article_ids,
            "created_at": row.created_at,
        },
    }
