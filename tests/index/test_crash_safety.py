"""An ingest killed with SIGKILL part-way through embedding loses nothing and is repaired by the next one."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from rag import Pipeline, load_settings
from tests.support import add_article_copies

pytestmark = pytest.mark.integration
QUESTION = "Is kube-proxy a CNI plugin?"


def _rows_on_disk(index_dir: Path) -> dict[str, int]:
    """Chunk rows per Chroma collection, read-only from outside the ingesting process."""
    query = (
        "SELECT c.name, count(e.id) FROM collections c JOIN segments s ON s.collection = c.id "
        "LEFT JOIN embeddings e ON e.segment_id = s.id WHERE s.scope = 'METADATA' GROUP BY c.name"
    )
    try:
        with sqlite3.connect(f"file:{index_dir / 'chroma' / 'chroma.sqlite3'}?mode=ro", uri=True, timeout=1) as db:
            return {name: int(n) for name, n in db.execute(query)}
    except sqlite3.Error:
        return {}


def test_kill_9_during_ingest_keeps_the_index_and_the_next_ingest_repairs_it(tmp_path: Path, corpus_copy: Path) -> None:
    index_dir = tmp_path / "index"
    first = Pipeline(load_settings(index_dir=index_dir, corpus_dir=corpus_copy)).ingest()
    assert first.ok
    before = first.chunks_total
    assert _rows_on_disk(index_dir)[first.generation] == before

    add_article_copies(corpus_copy, copies=3)
    command = [sys.executable, "-m", "rag.cli", "--index-dir", str(index_dir), "ingest", str(corpus_copy)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)
    deadline = time.monotonic() + 300
    # The new generation first gets copies of the unchanged chunks, then the new ones, a batch at a time:
    # wait until at least one embedded batch has landed.
    while sum(_rows_on_disk(index_dir).values()) <= 2 * before:
        assert proc.poll() is None, "ingest ended before it could be killed"
        assert time.monotonic() < deadline, "ingest wrote nothing within 300 s"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    partial = {name: n for name, n in _rows_on_disk(index_dir).items() if name != first.generation}
    assert any(n > before for n in partial.values()), partial  # a half-built generation is on disk

    # The killed run's index still answers, from exactly the chunks it had: the half-built one never went live.
    survivor = Pipeline(load_settings(index_dir=index_dir, corpus_dir=corpus_copy))
    assert survivor.index.view().name == first.generation
    answer = survivor.ask(QUESTION)
    assert answer.verdict == "answered" and answer.citations[0].article_id.startswith("kube-proxy-vs-cni-plugin")
    chroma_ids = survivor.index.collection.get(include=[])["ids"]
    assert len(chroma_ids) == before
    assert sorted(chroma_ids) == sorted(survivor.index.keyword().ids)

    # The next ingest completes: every article once, Chroma and BM25 hold exactly the same chunk ids, and the
    # killed run's leftovers are gone (only the new generation and the one before it stay on disk).
    report = Pipeline(load_settings(index_dir=index_dir, corpus_dir=corpus_copy)).ingest()
    assert report.ok, report.failures
    final = Pipeline(load_settings(index_dir=index_dir, corpus_dir=corpus_copy))
    ids = final.index.collection.get(include=[])["ids"]
    rows = _rows_on_disk(index_dir)
    assert len(ids) == len(set(ids)) == report.chunks_total == rows[report.generation]
    assert {name for name in rows if ".gen-" in name} == {report.generation, first.generation}
    assert sorted(final.index.keyword().ids) == sorted(ids)
    assert sorted(p.name for p in final.settings.keyword_dir.iterdir()) == sorted([report.generation, first.generation])
    with closing(sqlite3.connect(final.settings.chroma_dir / "chroma.sqlite3")) as db:  # no orphan segment folder
        segments = {row[0] for row in db.execute("SELECT id FROM segments")}
    folders = {p.name for p in final.settings.chroma_dir.iterdir() if p.is_dir()}
    assert folders and folders <= segments, folders - segments
    articles = {a["article_id"] for a in final.index.articles()}
    assert len(articles) == report.articles == 22 * 4
    assert final.ask(QUESTION).citations[0].article_id.startswith("kube-proxy-vs-cni-plugin")  # or a copy
