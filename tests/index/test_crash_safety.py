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


def _ids(pipeline: Pipeline) -> set[str]:
    return set(pipeline.index.view(refresh=True).collection.get(include=[])["ids"])


def test_kill_9_while_an_edit_updates_the_collection_one_change_behind(tmp_path: Path, corpus_copy: Path) -> None:
    """An edit is applied to the collection that is one change behind the live one (issue 17). Killed part-way,
    the live collection still answers with exactly its chunks; the half-updated one is marked and never trusted:
    the next ingest builds aside, and ends with the same chunks as a fresh build of the same corpus."""
    index_dir = tmp_path / "index"
    settings = load_settings(index_dir=index_dir, corpus_dir=corpus_copy)
    first = Pipeline(settings).ingest()
    edited = corpus_copy / "kube-proxy-vs-cni-plugin.md"
    edited.write_text(edited.read_text("utf-8") + "\nEdited: kube-proxy and the zorblax mode.\n", "utf-8")
    second = Pipeline(settings).ingest()  # built aside; the first generation's collection is now one change behind
    assert second.generation != first.generation
    live = _ids(Pipeline(settings))
    time.sleep(3)  # past the time readers may still use the first collection: the next ingest changes it at once

    add_article_copies(corpus_copy, copies=3)
    command = [sys.executable, "-m", "rag.cli", "--index-dir", str(index_dir), "ingest", str(corpus_copy)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)
    deadline = time.monotonic() + 300
    while _rows_on_disk(index_dir).get(first.generation, 0) <= len(live):  # caught up, then a batch embedded
        assert proc.poll() is None, "ingest ended before it could be killed"
        assert time.monotonic() < deadline, "ingest wrote nothing within 300 s"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    survivor = Pipeline(settings)
    assert survivor.index.view().name == second.generation
    assert _ids(survivor) == live == set(survivor.index.keyword().ids)
    assert survivor.search("zorblax")[0].article_id == "kube-proxy-vs-cni-plugin"
    half = survivor.index.client().get_collection(first.generation, embedding_function=None)
    assert (half.metadata or {}).get("building") is True and half.count() > len(live)

    report = Pipeline(settings).ingest()
    assert report.ok and report.generation not in (first.generation, second.generation)  # built aside, not there
    final = Pipeline(settings)
    reference = Pipeline(load_settings(index_dir=tmp_path / "reference", corpus_dir=corpus_copy))
    reference.ingest()
    assert _ids(final) == _ids(reference) == set(final.index.keyword().ids)
    assert {name for name in _rows_on_disk(index_dir) if ".gen-" in name} == {report.generation, second.generation}


def test_edits_after_the_first_are_applied_in_place_and_match_a_fresh_build(tmp_path: Path, corpus_copy: Path) -> None:
    """Two collections take turns: from the third ingest on, an edit changes the collection one change behind the
    live one instead of copying every chunk, and the index ends exactly as a fresh build of the same files."""
    settings = load_settings(index_dir=tmp_path / "index", corpus_dir=corpus_copy)
    pipeline = Pipeline(settings)
    names = [pipeline.ingest().generation]
    for n, name in enumerate(("kube-proxy-vs-cni-plugin.md", "rmm-vs-dex.md", "kube-proxy-vs-cni-plugin.md")):
        path = corpus_copy / name
        path.write_text(path.read_text("utf-8") + f"\nEdit {n}: the quuxwidget{n} setting.\n", "utf-8")
        report = pipeline.ingest()
        assert report.chunks_embedded < 20 and report.updated == [path.stem]
        names.append(report.generation)
    assert names[2] == names[0] and names[3] == names[1]  # the third and fourth edits reused the collections
    reference = Pipeline(load_settings(index_dir=tmp_path / "reference", corpus_dir=corpus_copy))
    reference.ingest()
    assert _ids(pipeline) == _ids(reference) == set(pipeline.index.view().keyword().ids)
    assert [h.article_id for h in pipeline.search("quuxwidget2 setting")][:1] == ["kube-proxy-vs-cni-plugin"]
    assert pipeline.index.view().keyword()._words == reference.index.view().keyword()._words
