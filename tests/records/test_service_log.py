"""The application API writes the query log, once per call and only for a front end's channel (fake parts; the
real pipeline's logging is in tests/records/test_query_log.py)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from rag import KbService, load_settings
from tests.fakes import FakeParts, chunk

KP = chunk("kp#0", "kube-proxy", "Summary", "kube-proxy is not considered a CNI plugin in Kubernetes.", 0.8)


def _service(tmp_path: Path, **settings: object) -> tuple[KbService, FakeParts]:
    parts = FakeParts([KP])
    return KbService(load_settings(index_dir=tmp_path, **settings), pipeline=parts), parts  # type: ignore[arg-type]


def test_each_channel_call_is_logged_once_and_library_calls_never(tmp_path: Path) -> None:
    service, parts = _service(tmp_path)
    answer = service.ask("Is kube-proxy a CNI plugin?", tags=["aks"], channel="ui")
    service.search("kube-proxy", channel="api")
    service.ask("Is kube-proxy a CNI plugin?")  # no channel: an evaluation, not a person
    assert service.query_log is not None
    search, ask = service.query_log.rows()
    assert (ask["kind"], ask["channel"], ask["tags"], ask["answer"]) == ("ask", "ui", ["aks"], answer.text)
    assert (search["kind"], search["channel"], search["verdict"]) == ("search", "api", "hits")
    assert len(parts.answered) == 2  # both asks were answered; only one was logged


def test_no_log_when_it_is_off(tmp_path: Path) -> None:
    service, _ = _service(tmp_path, query_log=False)
    service.ask("Is kube-proxy a CNI plugin?", channel="cli")
    assert service.query_log is None and not (tmp_path / "queries.sqlite3").exists()


def test_a_broken_log_costs_the_entry_not_the_answer(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    service, _ = _service(tmp_path)
    assert service.query_log is not None
    (tmp_path / "queries.sqlite3").write_bytes(b"not a database " * 100)
    with caplog.at_level(logging.WARNING):
        answer = service.ask("Is kube-proxy a CNI plugin?", channel="ui")
    assert answer.verdict == "answered" and "not written" in caplog.text
