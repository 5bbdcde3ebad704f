"""Choosing an LLM provider: each is built through its LangChain chat model, or refused with what to do."""

from __future__ import annotations

import sys

import pytest

from rag.answer.providers import chat_model
from rag.errors import LlmError
from rag.settings import load_settings


def test_each_provider_builds_its_langchain_chat_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Construction only: no request is sent (sockets are blocked in the test suite)."""
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "test-key")
    openai = chat_model(load_settings(llm_provider="openai", llm_base_url="http://127.0.0.1:9/v1", llm_model="m").llm)
    azure = chat_model(
        load_settings(llm_provider="azure", llm_base_url="https://example.openai.azure.com", llm_model="dep").llm
    )
    ollama = chat_model(load_settings(llm_provider="ollama", llm_model="llama3.2").llm)
    assert type(openai).__name__ == "ChatOpenAI" and openai.openai_api_base == "http://127.0.0.1:9/v1"  # type: ignore[attr-defined]
    assert type(azure).__name__ == "AzureChatOpenAI" and azure.deployment_name == "dep"  # type: ignore[attr-defined]
    assert type(ollama).__name__ == "ChatOllama"


def test_missing_configuration_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(LlmError, match="KBQA_LLM_PROVIDER"):
        chat_model(load_settings().llm)
    with pytest.raises(LlmError, match="KBQA_LLM_MODEL"):
        chat_model(load_settings(llm_provider="openai").llm)
    with pytest.raises(LlmError, match="OPENAI_API_KEY"):
        chat_model(load_settings(llm_provider="openai", llm_model="gpt-4o-mini").llm)
    with pytest.raises(LlmError, match="KBQA_LLM_BASE_URL"):
        chat_model(load_settings(llm_provider="azure", llm_model="dep").llm)
    with pytest.raises(LlmError, match="does not exist"):
        chat_model(load_settings(llm_provider="local", llm_model="/nowhere/model.gguf").llm)


def test_missing_provider_package_gives_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "langchain_ollama", None)  # as if the extra were not installed
    with pytest.raises(LlmError, match=r"pip install 'kbqa\[ollama\]'"):
        chat_model(load_settings(llm_provider="ollama", llm_model="qwen").llm)
