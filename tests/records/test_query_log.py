"""The query log on the real pipeline: what an edge call logs; files from older and newer releases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rag import KbService

QUESTION = "Is kube-proxy a CNI plugin?"


def _service(kb: Any, tmp_path: Path, **update: Any) -> KbService:
    return KbService(kb.settings.model_copy(update={"query_log_db": tmp_path / "queries.sqlite3", **update}))


def test_asks_and_searches_from_an_edge_are_logged_evaluation_calls_are_not(kb: Any, tmp_path: Path) -> None:
    service = _service(kb, tmp_path)
    answer = service.ask(QUESTION, tags=["aks"], channel="cli")
    service.search("AADSTS700213", channel="cli")
    service.ask("Is kube-proxy a CNI plugin?")  # no channel: an evaluation run, not a user
    service.pipeline.ask("Is kube-proxy a CNI plugin?")  # the library itself never logs
    assert service.query_log is not None
    search, ask = service.query_log.rows()
    assert (ask["kind"], ask["channel"], ask["question"], ask["tags"]) == ("ask", "cli", QUESTION, ["aks"])
    assert ask["verdict"] == answer.verdict and ask["answer"] == answer.text
    assert [r["chunk_id"] for r in ask["retrieved"]] == [r.chunk_id for r in answer.retrieved]
    assert ask["result"] == service.query_log.get(ask["id"])["result"]  # type: ignore[index]
    assert (search["kind"], search["verdict"]) == ("search", "hits") and search["retrieved"]
    assert search["settings"]["embedding_backend"] == kb.settings.embedding_backend


def test_a_file_made_before_schema_versions_opens_and_keeps_its_rows(tmp_path: Path) -> None:
    """Query log and feedback files written by kbqa before migrations (no user_version, the tables as they were)
    open as they are: rows kept, version set; a file from a newer kbqa is refused untouched, saying what to do."""
    import sqlite3

    from rag.errors import RecordsVersionError
    from rag.records.feedback import FeedbackStore
    from rag.records.query_log import QueryLog
    from rag.records.sqlite import create

    old_log, old_feedback = tmp_path / "queries.sqlite3", tmp_path / "feedback.sqlite3"
    with sqlite3.connect(old_log) as db:  # the schema of the release before migrations, with one row
        db.executescript(
            "CREATE TABLE queries (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, kind TEXT NOT NULL,"
            " channel TEXT NOT NULL, question TEXT NOT NULL, query TEXT NOT NULL, tags TEXT NOT NULL,"
            " verdict TEXT NOT NULL, confidence REAL, answer TEXT NOT NULL, retrieved TEXT NOT NULL,"
            " latency_ms REAL NOT NULL, settings TEXT NOT NULL, result TEXT NOT NULL);"
            "INSERT INTO queries VALUES (1, '2026-11-01T00:00:00', 'ask', 'cli', 'q?', 'q', '[]', 'abstained', 0.1,"
            " 'a', '[]', 12.0, '{}', '{}');"
        )
    with sqlite3.connect(old_feedback) as db:
        db.executescript(
            "CREATE TABLE feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL,"
            " rating TEXT NOT NULL CHECK (rating IN ('up', 'down')), reason TEXT NOT NULL DEFAULT '',"
            " comment TEXT NOT NULL DEFAULT '', question TEXT NOT NULL, answer TEXT NOT NULL, verdict TEXT NOT NULL,"
            " cited_chunk_ids TEXT NOT NULL, cited_article_ids TEXT NOT NULL, settings TEXT NOT NULL);"
            "INSERT INTO feedback VALUES (1, '2026-11-01T00:00:00', 'down', 'wrong', '', 'q?', 'a', 'answered',"
            " '[]', '[]', '{}');"
        )
    log, feedback = QueryLog(old_log), FeedbackStore(old_feedback)
    assert [r["question"] for r in log.with_verdicts({"abstained"})] == ["q?"]
    assert [r.question for r in feedback.rows()] == ["q?"]
    for path in (old_log, old_feedback):
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA user_version").fetchone()[0] == 1

    newer = tmp_path / "newer.sqlite3"
    with sqlite3.connect(newer) as db:
        db.execute("PRAGMA user_version = 7")
    with pytest.raises(RecordsVersionError, match=r"schema version 7.*Upgrade kbqa"):
        create(newer, ["CREATE TABLE IF NOT EXISTS t (x)"])
    with sqlite3.connect(newer) as db:
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == []


def test_migrations_run_once_in_order(tmp_path: Path) -> None:
    """Each step runs once; a later kbqa adds steps at the end and an older file catches up."""
    import sqlite3

    from rag.records.sqlite import create

    path = tmp_path / "records.sqlite3"
    steps = ["CREATE TABLE t (x INTEGER)", "INSERT INTO t VALUES (1)"]
    create(path, steps)
    create(path, steps)  # again: nothing runs twice
    create(path, [*steps, "ALTER TABLE t ADD COLUMN y TEXT NOT NULL DEFAULT 'b'; INSERT INTO t VALUES (2, 'c')"])
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT x, y FROM t ORDER BY x").fetchall() == [(1, "b"), (2, "c")]
        assert db.execute("PRAGMA user_version").fetchone()[0] == 3
