"""No secret reaches a log, a stored record or a response: the login password and the LLM API key."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from rag.index.chroma_server import free_port
from tests.support import kbqa_serve

pytestmark = pytest.mark.integration
PASSWORD = "Pa55-secret-7Hx2"
API_KEY = "sk-test-secret-Q9w8e7"


def test_login_password_and_api_key_appear_nowhere(tmp_path: Path, corpus_copy: Path) -> None:
    from gradio_client import Client

    index_dir = tmp_path / "index"
    env = {
        "KBQA_AUTH": f"support:{PASSWORD}",
        "KBQA_LLM_PROVIDER": "openai",
        "KBQA_LLM_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",  # nothing listens: the LLM call fails
        "KBQA_LLM_MODEL": "gpt-test",
        "KBQA_LLM_TIMEOUT_S": "3",
        "OPENAI_API_KEY": API_KEY,
    }
    seen: list[str] = []
    with kbqa_serve(tmp_path, corpus_copy, index_dir, **env) as server:
        api = server.base_url + "/api"
        login = ("support", PASSWORD)
        seen.append(httpx.get(api + "/health").text)  # no login
        seen.append(httpx.get(api + "/health", auth=("support", "wrong")).text)
        for mode in ("extractive", "llm"):
            response = httpx.post(
                api + "/ask", json={"question": "Is kube-proxy a CNI plugin?", "mode": mode}, auth=login
            )
            assert response.status_code == 200
            seen.append(response.text)
        assert "did not answer" in response.json()["notice"]  # the LLM failure was reported, without the key
        basic = "Basic " + base64.b64encode(f"support:{PASSWORD}".encode()).decode()
        chat = Client(server.base_url + "/", headers={"Authorization": basic}, verbose=False)
        chat.predict("Is kube-proxy a CNI plugin?", [], [], "extractive", api_name="/ask")
        seen.append(str(chat.predict("wrong answer", "", api_name="/rate_down")))
        seen.append(httpx.get(server.base_url + "/openapi.json", auth=login).text)
        log = server.output()

    assert "401" in seen[0] or "Unauthorized" in seen[0]
    stored = b"".join(p.read_bytes() for p in index_dir.rglob("*") if p.is_file())
    assert len(stored) > 100_000  # the index, feedback and the query log were written
    for secret in (PASSWORD, API_KEY):
        assert secret not in log
        assert all(secret not in text for text in seen)
        assert secret.encode() not in stored
