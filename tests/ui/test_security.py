"""Findings of the security probe (issue 20), each replayed against a real `kbqa serve`."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import Server, kbqa_command, kbqa_serve, server_env

pytestmark = pytest.mark.integration
CORPUS = Path(__file__).resolve().parents[2] / "corpus"
SECRET = "quokka-zircon-4417"
QUESTION = "Is kube-proxy a CNI plugin?"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    """A server over a copy of corpus/, with its Gradio cache in a folder the test can look into."""
    work = tmp_path_factory.mktemp("security")
    shutil.copytree(CORPUS, work / "corpus")
    with kbqa_serve(work, work / "corpus", work / "idx", GRADIO_TEMP_DIR=str(work / "gradio-cache")) as server:
        yield server, work


def _files_holding(folder: Path, needle: str) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and needle in p.read_text(errors="replace")]


def test_file_inputs_read_only_files_the_client_uploaded(
    served: tuple[Server, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that names a server file instead of uploading one gets nothing: the file is not copied into
    Gradio's cache, not indexed, not written to the corpus, and its path is not served back. A real upload
    through the same input still works."""
    from gradio_client import Client, handle_file
    from gradio_client.client import Endpoint

    server, work = served
    private = work / "private" / "vault.md"
    private.parent.mkdir()
    private.write_text(f"# Vault\n\nThe vault code is {SECRET}.\n", encoding="utf-8")
    client = Client(server.base_url, verbose=False)
    forged = {"path": str(private), "meta": {"_type": "gradio.FileData"}}
    with monkeypatch.context() as remote:  # a remote client cannot upload the server's file: it sends the path
        remote.setattr(Endpoint, "_upload_file", lambda _self, f, data_index: f)
        for api_name in ("/do_upload", "/do_run"):
            with pytest.raises(Exception) as refused:
                client.predict(forged, api_name=api_name)
            assert str(work / "gradio-cache") not in str(refused.value)
    assert _files_holding(work / "gradio-cache", SECRET) == []
    assert _files_holding(work / "corpus", SECRET) == []
    hits = httpx.post(server.base_url + "/api/search", json={"query": f"vault code {SECRET}"}, timeout=60).json()
    assert all(h["article_id"] != "vault" for h in hits["hits"])
    served_back = httpx.get(f"{server.base_url}/gradio_api/file={private}", timeout=30)
    assert served_back.status_code in (403, 404) and SECRET not in served_back.text

    article = work / "uploaded-runbook.md"
    article.write_text("# Runbook\n\nRestart the flux capacitor with `fluxctl restart --hard`.\n", encoding="utf-8")
    _, status = client.predict(handle_file(str(article)), api_name="/do_upload")
    assert "Uploaded `uploaded-runbook.md`" in status
    hits = httpx.post(server.base_url + "/api/search", json={"query": "fluxctl restart"}, timeout=60).json()
    assert hits["hits"][0]["article_id"] == "uploaded-runbook"


@pytest.mark.parametrize(
    ("route", "field"), [("/api/ask", "question"), ("/api/search", "query"), ("/api/triage", "ticket")]
)
def test_ten_thousand_tags_neither_crash_nor_500(served: tuple[Server, Path], route: str, field: str) -> None:
    """10,000 copies of one tag filter by that tag; 10,000 different tags are refused with a 400 that says the
    limit. Both used to kill the server (a segfault in Chroma's bindings) or answer 500."""
    server, _ = served
    url = server.base_url + route
    same = httpx.post(url, json={field: QUESTION, "tags": ["kubernetes"] * 10_000}, timeout=120)
    assert same.status_code == 200, same.text
    different = httpx.post(url, json={field: QUESTION, "tags": [f"tag{i}" for i in range(10_000)]}, timeout=120)
    assert different.status_code == 400 and "limit is 50" in different.json()["message"]
    huge_history = httpx.post(
        server.base_url + "/api/ask", json={"question": "and in AKS?", "history": ["dns " * 1_000_000]}, timeout=120
    )
    assert huge_history.status_code == 200, huge_history.text
    assert server.process.poll() is None
    assert httpx.get(server.base_url + "/api/health", timeout=30).status_code == 200


def test_cli_search_with_ten_thousand_tags_exits_2(served: tuple[Server, Path]) -> None:
    """`kbqa search --tag` repeated 10,000 times: exit 2 and the limit, not a crash."""
    _, work = served
    tags = [arg for i in range(10_000) for arg in ("--tag", f"tag{i}")]
    result = subprocess.run(
        [*kbqa_command(work / "cli-idx", work / "corpus"), "search", "kube-proxy", *tags],
        cwd=work,
        env=server_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 2, result.stderr
    assert "limit is 50" in result.stderr


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("/api/ask", {"question": "\ud800 kube-proxy"}),
        ("/api/ask", {"question": "kube-proxy", "tags": ["\udfff"], "history": ["\ud800 dns"]}),
        ("/api/search", {"query": "\ud800 kube-proxy"}),
        ("/api/triage", {"ticket": "\ud800 ImagePullBackOff 401"}),
    ],
)
def test_lone_surrogates_are_cleaned_not_a_500(served: tuple[Server, Path], route: str, body: dict) -> None:
    """JSON may carry "\\ud800"; no text encoding can. It is read as a space, never a 500 (issue 20)."""
    server, _ = served
    raw = json.dumps(body).encode()  # ensure_ascii keeps the escape, as a client would send it
    response = httpx.post(server.base_url + route, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text


def test_bodies_fastapi_refuses_get_the_same_error_shape(served: tuple[Server, Path]) -> None:
    """A body that is not UTF-8, and one nested 10,000 deep: 400 with {"error", "message"}, not {"detail"}."""
    server, _ = served
    for raw in (b'{"question": "\xff\xfe kube"}', b"[" * 10_000 + b"]" * 10_000):
        response = httpx.post(server.base_url + "/api/ask", content=raw, headers={"content-type": "application/json"})
        assert response.status_code in (400, 422) and set(response.json()) == {"error", "message"}, response.text


def test_non_ascii_password_logs_in(tmp_path: Path) -> None:
    """compare_digest refused non-ASCII str: with such a password every request was a 500 (issue 20)."""
    shutil.copytree(CORPUS, tmp_path / "corpus")
    with kbqa_serve(tmp_path, tmp_path / "corpus", tmp_path / "idx", KBQA_AUTH="süpport:pässwörd-ß") as server:
        ok = httpx.get(server.base_url + "/api/health", auth=("süpport", "pässwörd-ß"), timeout=30)
        wrong = httpx.get(server.base_url + "/api/health", auth=("süpport", "passwort"), timeout=30)
        assert (ok.status_code, wrong.status_code) == (200, 401)


def test_a_javascript_source_url_is_never_a_link(kb: object) -> None:
    """An index built before source_url was checked at ingest: the Sources panel and the triage reply draft still
    show no javascript: link (issue 20)."""
    from dataclasses import replace

    from rag.triage.triage import reply_markdown, triage
    from ui import render

    answer = kb.ask("Is kube-proxy a CNI plugin?")  # type: ignore[attr-defined]
    answer.citations[0].source_url = "javascript:alert(document.cookie)"
    assert "javascript:" not in render.sources(answer)
    result = triage(kb, "ImagePullBackOff 401 Unauthorized pulling from ACR")  # type: ignore[arg-type]
    poisoned = replace(result, citations=[replace(c, source_url="javascript:alert(1)") for c in result.citations])
    assert result.citations and "javascript:" not in reply_markdown(poisoned)


def test_request_and_upload_sizes_are_limited_before_reading(served: tuple[Server, Path]) -> None:
    """A 20 MB body is refused with 413 by its Content-Length, and when streamed without one, as the bytes pass the
    limit; an upload over max_upload_bytes is refused by Gradio while it arrives (issue 20: a 300 MB body was read
    whole, a 1.5 GB upload held in memory before the 5 MB check)."""
    from gradio_client import Client, handle_file

    server, work = served
    url = server.base_url + "/api/ask"
    declared = httpx.post(url, content=b"x" * 20_000_000, headers={"content-type": "application/json"}, timeout=60)
    assert declared.status_code == 413 and "KBQA_MAX_REQUEST_BYTES" in declared.json()["message"]

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * 1_000_000

    streamed = httpx.post(url, content=chunks(), headers={"content-type": "application/json"}, timeout=60)
    assert streamed.status_code == 413 and streamed.json()["error"] == "PayloadTooLarge"
    big = work / "big-article.md"
    big.write_text("# Big\n\n" + "kube-proxy " * 600_000, encoding="utf-8")  # 6.6 MB > 5 MB
    with pytest.raises(Exception):  # noqa: B017 - gradio_client's error type varies; the point is the refusal
        Client(server.base_url, verbose=False).predict(handle_file(str(big)), api_name="/do_upload")
    assert not (work / "corpus" / "big-article.md").exists()
    assert httpx.get(server.base_url + "/api/health", timeout=30).status_code == 200
