"""Re-indexing while the server answers: every request sees the old index or the new one, never a mix.

Ingest builds the next generation aside and switches to it in one write (rag/index/store.py). These tests poll
a live index from several threads while an ingest adds or removes dozens of articles, and check that
every observed article count and chunk count is the before or the after value, never one in between.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rag import KbService
from tests.support import add_article_copies, kbqa_ingest, kbqa_serve

pytestmark = pytest.mark.integration
QUESTION = "Is kube-proxy a CNI plugin?"


class Poller:
    """Runs ``probe`` in a few threads until stopped; keeps every observation and every error."""

    def __init__(self, probe: Callable[[], tuple[int, int]], threads: int = 3) -> None:
        self.seen: list[tuple[int, int]] = []
        self.errors: list[str] = []
        self._probe = probe
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.seen.append(self._probe())
            except Exception as exc:  # noqa: BLE001 - every failure is the finding
                self.errors.append(repr(exc))

    def __enter__(self) -> Poller:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.load(response)


def _post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def test_server_answers_through_an_ingest_by_another_process(tmp_path: Path, corpus_copy: Path) -> None:
    """The cron case: `kbqa ingest` runs beside `kbqa serve`; the server switches without a restart."""
    index_dir = tmp_path / "index"
    with kbqa_serve(tmp_path, corpus_copy, index_dir) as server:
        api = server.base_url + "/api"
        articles_before, chunks_before = len(_get(api + "/articles")["articles"]), _get(api + "/health")["chunks"]

        def probe() -> tuple[int, int]:
            articles = _get(api + "/articles")["articles"]
            hits = _post(api + "/search", {"query": QUESTION, "k": 10})["hits"]
            assert hits, "search found nothing"
            return len(articles), sum(a["chunks"] for a in articles)

        add_article_copies(corpus_copy, copies=3)
        with Poller(probe) as poller:
            ingest = kbqa_ingest(tmp_path, corpus_copy, index_dir)
            assert ingest.returncode == 0, ingest.stderr
            deadline = time.monotonic() + 30  # the server re-reads the live pointer at most once a second
            while not poller.seen or poller.seen[-1][0] == articles_before:
                assert time.monotonic() < deadline, "the server never switched to the new index"
                time.sleep(0.2)
        chunks_after = _get(api + "/health")["chunks"]

    assert not poller.errors, poller.errors[:5]
    assert set(poller.seen) == {(articles_before, chunks_before), (articles_before * 4, chunks_after)}
    assert len(poller.seen) > 20  # the threads really polled through the ingest


def test_reindex_in_the_server_process_never_shows_a_half_built_index(tmp_path: Path, corpus_copy: Path) -> None:
    """The UI's re-index button and uploads: ingest in a thread of the process that answers."""
    from rag import load_settings

    service = KbService(load_settings(index_dir=tmp_path / "index", corpus_dir=corpus_copy))
    service.ensure_index()
    index = service.pipeline.index
    base = (len(index.articles()), index.count())
    answers: list[str] = []

    def probe() -> tuple[int, int]:
        answer = service.pipeline.ask(QUESTION)
        answers.append(answer.citations[0].article_id)
        view = index.view()  # one generation for both counts, as one request would see it
        return len({a["article_id"] for a in view.articles()}), view.count()

    copies = add_article_copies(corpus_copy, copies=3)
    with Poller(probe) as growing:
        grown = service.ingest()
    with Poller(probe) as shrinking:
        for path in copies:
            path.unlink()
        shrunk = service.ingest()

    assert grown.ok and shrunk.ok
    grown_state = (base[0] * 4, grown.chunks_total)
    assert shrunk.removed and shrunk.chunks_total == base[1]
    for poller in (growing, shrinking):
        assert not poller.errors, poller.errors[:5]
        assert set(poller.seen) <= {base, grown_state}, set(poller.seen)
    assert base in growing.seen and grown_state in shrinking.seen  # they polled while the old index was live
    assert (len(index.articles()), index.count()) == base
    assert all(a.startswith("kube-proxy-vs-cni-plugin") for a in answers)


def test_a_second_ingest_is_refused_while_one_runs(tmp_path: Path, corpus_copy: Path) -> None:
    """The lock is the one `kbqa ingest` takes; held here, as a running ingest in another process would."""
    from filelock import FileLock

    index_dir = tmp_path / "index"
    index_dir.mkdir()
    with FileLock(index_dir / "ingest.lock"):
        second = kbqa_ingest(tmp_path, corpus_copy, index_dir)
    assert second.returncode == 5
    assert "Another ingest is running" in second.stderr and "Wait for it to finish" in second.stderr
    assert not (index_dir / "chroma").exists()  # it wrote nothing
