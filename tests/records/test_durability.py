"""Feedback and the query log survive a server killed with SIGKILL right after answering."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

import httpx
import pytest

from rag.records.feedback import FeedbackStore
from rag.records.query_log import QueryLog
from tests.support import kbqa_serve

pytestmark = pytest.mark.integration
QUESTION = "Is kube-proxy a CNI plugin?"


def _integrity(path: Path) -> str:
    with sqlite3.connect(path) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


def test_rows_written_before_a_kill_9_are_on_disk(tmp_path: Path, corpus_copy: Path) -> None:
    from gradio_client import Client

    index_dir = tmp_path / "index"
    with kbqa_serve(tmp_path, corpus_copy, index_dir) as server:
        chat = Client(server.base_url + "/", verbose=False)  # one browser session: the answer is its state
        chat.predict(QUESTION, [], [], "extractive", api_name="/ask")
        saved = chat.predict("wrong article", "cited the wrong section", api_name="/rate_down")
        assert saved.startswith("Thanks — feedback #")
        api = server.base_url + "/api"
        assert httpx.post(api + "/ask", json={"question": "pods stuck in ImagePullBackOff"}).status_code == 200
        assert httpx.post(api + "/search", json={"query": "AADSTS700213"}).status_code == 200
        server.process.send_signal(signal.SIGKILL)
        assert server.process.wait(timeout=30) == -signal.SIGKILL

    for name in ("feedback.sqlite3", "queries.sqlite3"):
        assert _integrity(index_dir / name) == "ok"
    feedback = FeedbackStore(index_dir / "feedback.sqlite3").rows()
    assert [(f.rating, f.reason, f.comment, f.question) for f in feedback] == [
        ("down", "wrong article", "cited the wrong section", QUESTION)
    ]
    logged = QueryLog(index_dir / "queries.sqlite3").rows()
    assert [(r["kind"], r["channel"], r["question"]) for r in logged] == [
        ("search", "api", "AADSTS700213"),
        ("ask", "api", "pods stuck in ImagePullBackOff"),
        ("ask", "ui", QUESTION),
    ]
    ui_ask = logged[-1]
    assert ui_ask["verdict"] == "answered" and ui_ask["retrieved"][0]["article_id"] == "kube-proxy-vs-cni-plugin"
    assert ui_ask["result"]["citations"] and ui_ask["latency_ms"] > 0 and "auth" not in ui_ask["settings"]
