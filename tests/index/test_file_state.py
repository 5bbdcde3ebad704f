"""An ingest reads only the files that changed since the last one (issue 17), and never trusts a stale record."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import rag.index.store
from rag import Pipeline, load_settings
from rag.index.file_state import FileStates


def _age(folder: Path, seconds: float = 3600) -> None:
    """Files as if written an hour ago: files changed in the last seconds are never trusted by their time stamp."""
    past = time.time() - seconds
    for path in folder.rglob("*"):
        os.utime(path, (past, past))


def _reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    read: list[str] = []
    real = rag.index.store.load_article

    def counting(path: Path, max_bytes: int):  # type: ignore[no-untyped-def]
        read.append(path.name)
        return real(path, max_bytes)

    monkeypatch.setattr(rag.index.store, "load_article", counting)
    return read


@pytest.mark.integration
def test_only_changed_files_are_read_again(tmp_path: Path, corpus_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _age(corpus_copy)
    pipeline = Pipeline(load_settings(index_dir=tmp_path / "index", corpus_dir=corpus_copy))
    read = _reads(monkeypatch)
    first = pipeline.ingest()
    assert len(read) == first.files and first.ok

    read.clear()
    again = pipeline.ingest()
    assert read == [] and again.unchanged == first.articles  # nothing read, nothing changed

    edited = corpus_copy / "rmm-vs-dex.md"
    edited.write_text(edited.read_text("utf-8") + "\nZorblax licensing applies.\n", "utf-8")
    (corpus_copy / "kube-proxy-vs-cni-plugin.md").unlink()
    changed = pipeline.ingest()
    assert read == ["rmm-vs-dex.md"]
    assert changed.updated == ["rmm-vs-dex"] and changed.removed == ["kube-proxy-vs-cni-plugin"]
    assert pipeline.search("Zorblax licensing")[0].article_id == "rmm-vs-dex"

    read.clear()
    pipeline.ingest(rebuild=True)  # a rebuild reads everything
    assert len(read) == changed.files


def test_a_record_from_other_code_or_settings_is_not_used(tmp_path: Path) -> None:
    article = tmp_path / "a.md"
    article.write_text("# A\n\nText.\n", "utf-8")
    past = time.time() - 3600
    os.utime(article, (past, past))
    states = FileStates.load(tmp_path / "files.json", "1000:100")
    states.remember(article.resolve(), "a", "hash-a")
    states.save()
    assert FileStates.load(tmp_path / "files.json", "1000:100").unchanged(article.resolve()) is not None
    assert FileStates.load(tmp_path / "files.json", "800:100").unchanged(article.resolve()) is None  # chunking changed
    article.write_text("# A\n\nOther text.\n", "utf-8")  # same size or not, the time stamp moved
    assert FileStates.load(tmp_path / "files.json", "1000:100").unchanged(article.resolve()) is None


def test_a_file_changed_just_now_is_not_remembered(tmp_path: Path) -> None:
    """Its next change could keep the same time stamp (and size): it is read again next time."""
    article = tmp_path / "a.md"
    article.write_text("# A\n\nText.\n", "utf-8")
    states = FileStates.load(tmp_path / "files.json", "k")
    states.remember(article.resolve(), "a", "hash-a")
    states.save()
    assert FileStates.load(tmp_path / "files.json", "k").unchanged(article.resolve()) is None
