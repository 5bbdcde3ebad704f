"""The REST API over real HTTP: a real `kbqa serve` process per configuration, real model and Chroma."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rag import Pipeline, load_settings
from rag.index.chroma_server import free_port

pytestmark = pytest.mark.integration
CORPUS = Path(__file__).resolve().parents[2] / "corpus"
QUESTION = "Is kube-proxy a CNI plugin?"


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real index of corpus/, built once for this module."""
    path = tmp_path_factory.mktemp("api") / "idx"
    assert Pipeline(load_settings(index_dir=path, corpus_dir=CORPUS)).ingest().ok
    return path


def start_server(index: Path, cwd: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rag.cli",
            "--index-dir",
            str(index),
            "--corpus-dir",
            str(cwd / "no-corpus"),
            "serve",
            "--port",
            str(port),
        ],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
            try:
                httpx.get(base + "/api/health", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.5)
        else:
            raise AssertionError("server did not start within 180 s")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def api(index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from start_server(index_dir, tmp_path_factory.mktemp("open"))


@pytest.fixture(scope="module")
def locked_api(index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("locked")
    shutil.copytree(index_dir, root / "idx")  # one Chroma directory per process
    yield from start_server(root / "idx", root, {"KBQA_AUTH": "support:s3cret-pw"})


def test_health_articles_and_openapi(api: str) -> None:
    """Health says ok with the chunk count; articles lists the corpus; the OpenAPI schema names the routes."""
    health = httpx.get(api + "/api/health").json()
    assert health["status"] == "ok" and health["chunks"] > 22
    articles = httpx.get(api + "/api/articles").json()["articles"]
    assert len(articles) == 22 and {"article_id", "title", "tags", "updated", "chunks"} <= set(articles[0])
    spec = httpx.get(api + "/openapi.json").json()
    paths = spec["paths"]
    assert {"/api/ask", "/api/search", "/api/triage", "/api/health", "/api/articles"} <= set(paths)
    # Every route documents its response (issue 16): a named schema, with the answer's fields and its parts.
    for path, methods in paths.items():
        if path.startswith("/api/"):
            for operation in methods.values():
                assert "$ref" in operation["responses"]["200"]["content"]["application/json"]["schema"], path
    schemas = spec["components"]["schemas"]
    assert {"schema_version", "citations", "verdict", "confidence"} <= set(schemas["AnswerResponse"]["properties"])
    assert {"Citation", "SearchHit", "TriageResponse", "ErrorResponse"} <= set(schemas)


def test_ask_returns_the_cli_json(api: str, index_dir: Path, tmp_path: Path) -> None:
    """POST /api/ask gives the same JSON shape as `kbqa ask --json`, answering 'No' with the seed cited."""
    data = httpx.post(api + "/api/ask", json={"question": QUESTION}, timeout=60).json()
    assert data["verdict"] == "answered" and data["text"].startswith("No.")
    assert data["citations"][0]["article_id"] == "kube-proxy-vs-cni-plugin"
    copy = tmp_path / "idx"
    shutil.copytree(index_dir, copy)
    cli = subprocess.run(
        [sys.executable, "-m", "rag.cli", "--index-dir", str(copy), "ask", QUESTION, "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    import json

    from_cli = json.loads(cli.stdout)
    assert set(from_cli) == set(data)
    assert from_cli["text"] == data["text"] and from_cli["citations"][0]["chunk_id"] == data["citations"][0]["chunk_id"]


def test_follow_up_uses_history(api: str) -> None:
    """A follow-up with history is searched together with the previous question."""
    first = httpx.post(api + "/api/ask", json={"question": QUESTION}, timeout=60).json()
    follow = httpx.post(api + "/api/ask", json={"question": "and in AKS?", "history": [first["query"]]}).json()
    assert follow["query"] == f"{QUESTION} and in AKS?"
    assert follow["verdict"] != "abstained"


def test_search_pasted_error(api: str) -> None:
    """POST /api/search ranks the article quoting a pasted error first."""
    body = {"query": "AADSTS70021: No matching federated identity record found for presented assertion."}
    hits = httpx.post(api + "/api/search", json=body).json()["hits"]
    assert hits[0]["article_id"] == "aks-workload-identity-troubleshooting"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"question": "   "}, "empty"),
        ({"question": "x " * 15000}, "limit"),
        ({"question": "?!?"}, "no words"),
        ({}, "question"),
        ({"question": QUESTION, "k": 0}, "k"),
        ({"question": 42}, "question"),
    ],
)
def test_bad_input_is_400_with_message(api: str, body: dict[str, object], needle: str) -> None:
    """Bad requests get 400 and a JSON message naming the problem."""
    response = httpx.post(api + "/api/ask", json=body)
    assert response.status_code == 400
    assert needle in response.json()["message"]


def test_malformed_json_is_400(api: str) -> None:
    """A body that is not JSON is a 400, not a 500."""
    response = httpx.post(api + "/api/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400 and "JSON" in response.json()["message"]


def test_no_index_is_503(tmp_path: Path) -> None:
    """Without an index, health and ask answer 503 with the command to run."""
    for base in start_server(tmp_path / "empty-index", tmp_path):
        assert httpx.get(base + "/api/health").status_code == 503
        response = httpx.post(base + "/api/ask", json={"question": QUESTION})
        assert response.status_code == 503 and "kbqa ingest" in response.json()["message"]


def test_login_protects_ui_and_api(locked_api: str) -> None:
    """With KBQA_AUTH set, UI and API need the credentials; wrong ones are refused."""
    for path in ("/", "/api/health", "/openapi.json"):
        response = httpx.get(locked_api + path)
        assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Basic")
    assert httpx.get(locked_api + "/api/health", auth=("support", "wrong")).status_code == 401
    ok = httpx.post(locked_api + "/api/ask", json={"question": QUESTION}, auth=("support", "s3cret-pw"), timeout=60)
    assert ok.status_code == 200 and ok.json()["text"].startswith("No.")
    assert httpx.get(locked_api + "/", auth=("support", "s3cret-pw")).status_code == 200


def test_eight_concurrent_clients_share_one_model(api: str) -> None:
    """Concurrent requests all succeed with the same answer, and the server loaded the embedding model once."""
    from concurrent.futures import ThreadPoolExecutor

    def ask(_: int) -> httpx.Response:
        return httpx.post(api + "/api/ask", json={"question": QUESTION}, timeout=120)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(ask, range(16)))
    assert [r.status_code for r in responses] == [200] * 16
    assert len({r.json()["text"] for r in responses}) == 1
    assert httpx.get(api + "/api/health").json()["embedding_model_loads"] == 1


def test_wrong_content_type_and_oversized_body_are_400(api: str) -> None:
    """A form or text body instead of JSON, and a 5 MB question, get a 400 with a message, not a 5xx."""
    as_text = httpx.post(api + "/api/ask", content=b"question=hi", headers={"content-type": "text/plain"})
    assert as_text.status_code == 400 and as_text.json()["message"]
    huge = httpx.post(api + "/api/ask", json={"question": "word " * 1_000_000}, timeout=60)
    assert huge.status_code == 400 and "limit" in huge.json()["message"]
