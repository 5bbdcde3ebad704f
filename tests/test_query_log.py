"""The query log: what is logged, what is not, and that a broken log never costs an answer."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from rag import Pipeline

QUESTION = "Is kube-proxy a CNI plugin?"


def _pipeline(kb: Any, tmp_path: Path, **update: Any) -> Pipeline:
    return Pipeline(kb.settings.model_copy(update={"query_log_db": tmp_path / "queries.sqlite3", **update}))


def test_asks_and_searches_from_an_edge_are_logged_evaluation_calls_are_not(kb: Any, tmp_path: Path) -> None:
    pipeline = _pipeline(kb, tmp_path)
    answer = pipeline.ask(QUESTION, tags=["aks"], channel="cli")
    pipeline.search("AADSTS700213", channel="cli")
    pipeline.ask("Is kube-proxy a CNI plugin?")  # no channel: an evaluation run, not a user
    assert pipeline.query_log is not None
    search, ask = pipeline.query_log.rows()
    assert (ask["kind"], ask["channel"], ask["question"], ask["tags"]) == ("ask", "cli", QUESTION, ["aks"])
    assert ask["verdict"] == answer.verdict and ask["answer"] == answer.text
    assert [r["chunk_id"] for r in ask["retrieved"]] == [r.chunk_id for r in answer.retrieved]
    assert ask["result"] == pipeline.query_log.get(ask["id"])["result"]  # type: ignore[index]
    assert (search["kind"], search["verdict"]) == ("search", "hits") and search["retrieved"]
    assert search["settings"]["embedding_backend"] == kb.settings.embedding_backend


def test_query_log_off_logs_nothing(kb: Any, tmp_path: Path) -> None:
    pipeline = _pipeline(kb, tmp_path, query_log=False)
    pipeline.ask(QUESTION, channel="api")
    assert pipeline.query_log is None and not (tmp_path / "queries.sqlite3").exists()


def test_a_log_that_cannot_be_written_costs_the_entry_not_the_answer(
    kb: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline = _pipeline(kb, tmp_path)
    assert pipeline.query_log is not None
    (tmp_path / "queries.sqlite3").write_bytes(b"not a database " * 100)  # corrupted after start-up
    with caplog.at_level(logging.WARNING):
        answer = pipeline.ask(QUESTION, channel="ui")
    assert answer.verdict == "answered"
    assert "Query log" in caplog.text and "not written" in caplog.text
