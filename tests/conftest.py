"""Shared fixtures. Every test runs with its own working directory and no KBQA_* settings leaking in."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

os.environ.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"})


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user settings or config file can change a test's outcome."""
    for key in list(os.environ):
        if key.startswith("KBQA_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A writable copy of corpus/ that a test may change."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


@pytest.fixture(scope="session")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """One real pipeline (real model, persistent Chroma in a temp dir) over corpus/, shared read-only."""
    from rag import Pipeline, load_settings

    index_dir = tmp_path_factory.mktemp("index")
    pipeline = Pipeline(load_settings(index_dir=index_dir, corpus_dir=CORPUS))
    report = pipeline.ingest()
    assert report.ok, report.failures
    yield pipeline
