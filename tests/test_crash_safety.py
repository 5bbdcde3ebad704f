"""An ingest killed with SIGKILL part-way through embedding loses nothing and is repaired by the next one."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag import Pipeline, load_settings

pytestmark = pytest.mark.integration
QUESTION = "Is kube-proxy a CNI plugin?"


def _add_articles(corpus: Path, copies: int) -> None:
    """Copies of every article under new ids, so the next ingest has a few hundred chunks to embed."""
    for source in sorted(corpus.glob("*.md")):
        lines = source.read_text(encoding="utf-8").splitlines()
        if lines[0] != "---":
            continue  # corpus/README.md
        body = [line for line in lines[1:] if not line.startswith("id:")]
        for n in range(copies):
            text = "\n".join(["---", f"id: {source.stem}-copy-{n}", *body]) + "\n"
            (corpus / f"{source.stem}-copy-{n}.md").write_text(text, encoding="utf-8")


def _chunks_on_disk(index_dir: Path) -> int:
    """Rows in Chroma's SQLite file, read-only from outside the ingesting process."""
    try:
        with sqlite3.connect(f"file:{index_dir / 'chroma' / 'chroma.sqlite3'}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT count(*) FROM embeddings").fetchone()[0])
    except sqlite3.Error:
        return -1


def test_kill_9_during_ingest_keeps_the_index_and_the_next_ingest_repairs_it(tmp_path: Path, corpus_copy: Path) -> None:
    index_dir = tmp_path / "index"
    first = Pipeline(load_settings(index_dir=index_dir, corpus_dir=corpus_copy)).ingest()
    assert first.ok
    before = _chunks_on_disk(index_dir)
    assert before == first.chunks_total

    _add_articles(corpus_copy, copies=3)
    command = [sys.executable, "-m", "rag.cli", "--index-dir", str(index_dir), "ingest", str(corpus_copy)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)
    deadline = time.monotonic() + 300
    while _chunks_on_disk(index_dir) <= before:  # wait until embedding has written at least one batch
        assert proc.poll() is None, "ingest ended before it could be killed"
        assert time.monotonic() < deadline, "ingest wrote nothing within 300 s"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    partial = _chunks_on_disk(index_dir)
    assert before < partial

    # The killed run's index still answers, and BM25 is brought in step with Chroma when it is opened.
    survivor = Pipeline(load_settings(index_dir=index_dir, corpus_dir=corpus_copy))
    answer = survivor.ask(QUESTION)
    assert answer.verdict == "answered" and answer.citations[0].article_id.startswith("kube-proxy-vs-cni-plugin")
    chroma_ids = survivor.index.collection.get(include=[])["ids"]
    assert sorted(chroma_ids) == sorted(survivor.index.keyword().ids)

    # The next ingest completes: every article once, Chroma and BM25 hold exactly the same chunk ids.
    report = Pipeline(load_settings(index_dir=index_dir, corpus_dir=corpus_copy)).ingest()
    assert report.ok, report.failures
    final = Pipeline(load_settings(index_dir=index_dir, corpus_dir=corpus_copy))
    ids = final.index.collection.get(include=[])["ids"]
    assert len(ids) == len(set(ids)) == report.chunks_total == _chunks_on_disk(index_dir)
    assert sorted(final.index.keyword().ids) == sorted(ids)
    articles = {a["article_id"] for a in final.index.articles()}
    assert len(articles) == report.articles == 22 * 4
    assert final.ask(QUESTION).citations[0].article_id.startswith("kube-proxy-vs-cni-plugin")  # or a copy
