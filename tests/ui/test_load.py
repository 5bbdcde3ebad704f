"""50 concurrent clients on one `kbqa serve`: the REST API and the web app's queue (through gradio_client).

Correctness under load only: zero errors, every answer cited, one embedding model for all of them. The
latency figures (p50/p95, requests per second) come from the benchmark, `python eval/bench/perf.py --only
concurrency`, not from a timed test.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import kbqa_serve

pytestmark = pytest.mark.integration
CLIENTS = 50
ROOT = Path(__file__).resolve().parents[2]


def _questions() -> list[str]:
    rows = [json.loads(line) for line in (ROOT / "eval" / "kb_eval.jsonl").read_text().splitlines() if line.strip()]
    return [r["question"] for r in rows if r.get("answerable")]


def _run_clients(work: Any) -> list[str]:
    """Start CLIENTS threads at once (a barrier), run ``work(n)`` in each; return the errors."""
    errors: list[str] = []
    barrier = threading.Barrier(CLIENTS)

    def client(n: int) -> None:
        barrier.wait()
        try:
            work(n)
        except Exception as exc:  # noqa: BLE001 - every failure is the finding
            errors.append(f"client {n}: {exc!r}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    return errors


def test_fifty_clients_on_api_and_ui_queue_all_get_cited_answers(tmp_path: Path, corpus_copy: Path) -> None:
    from gradio_client import Client

    questions = _questions()
    assert len(questions) >= 20
    with kbqa_serve(tmp_path, corpus_copy, tmp_path / "index") as server:
        api = server.base_url + "/api"

        def api_client(n: int) -> None:
            with httpx.Client(timeout=300) as http:
                for i in range(3):
                    question = questions[(n * 3 + i) % len(questions)]
                    response = http.post(api + "/ask", json={"question": question})
                    assert response.status_code == 200, response.text
                    body = response.json()
                    assert body["verdict"] in {"answered", "low_confidence", "abstained"}
                    assert body["verdict"] == "abstained" or body["citations"], body

        def ui_client(n: int) -> None:
            chat = Client(server.base_url + "/", verbose=False)
            conversation, *_ = chat.predict(questions[n % len(questions)], [], [], "extractive", api_name="/ask")
            reply = conversation[-1]
            assert reply["role"] == "assistant"
            text = "".join(part["text"] for part in reply["content"])
            assert "⚠️" not in text and ("[1]" in text or "no article that answers" in text), text

        assert _run_clients(api_client) == []
        assert _run_clients(ui_client) == []
        health = httpx.get(api + "/health").json()
        log = server.output()

    assert health["embedding_model_loads"] == 1
    assert "Traceback" not in log and "ERROR" not in log, log[-3000:]
