"""Server mode: kbqa against a real `chroma run` server (the path for a KB that outgrows one machine)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag import KbService, Pipeline, load_settings
from rag.errors import ChromaServerError, IndexNotFoundError
from rag.index.chroma_server import chroma_server, free_port

pytestmark = pytest.mark.integration
QUESTIONS = [
    "Is kube-proxy a CNI plugin?",
    "Failed to pull image: 401 Unauthorized",
    "AADSTS70021: No matching federated identity record found for presented assertion.",
    "How do I reset the admin password on a Cisco ASA firewall?",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with chroma_server(tmp_path_factory.mktemp("chroma-server") / "data") as url:
        yield url


@pytest.fixture(scope="module")
def remote(server: str, kb: Any, tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    pipeline = Pipeline(
        load_settings(chroma_url=server, index_dir=tmp_path_factory.mktemp("host-a"), corpus_dir=kb.settings.corpus_dir)
    )
    report = pipeline.ingest()
    assert report.ok and report.chunks_embedded == report.chunks_total > 0
    return pipeline


def test_server_holds_the_same_chunks_as_the_embedded_index(remote: Pipeline, kb: Any) -> None:
    ids = set(remote.index.collection.get(include=[])["ids"])
    assert ids == set(kb.index.collection.get(include=[])["ids"])
    assert KbService(remote.settings).stats()["chunks"] == KbService(kb.settings).stats()["chunks"]


@pytest.mark.parametrize("question", QUESTIONS)
def test_server_mode_answers_like_embedded_mode(remote: Pipeline, kb: Any, question: str) -> None:
    there, here = remote.ask(question), kb.ask(question)
    assert there.verdict == here.verdict
    assert [c.article_id for c in there.citations] == [c.article_id for c in here.citations]
    assert there.text == here.text


def test_a_second_host_uses_the_server_index_and_builds_its_own_keyword_index(
    remote: Pipeline, server: str, tmp_path: Path
) -> None:
    """Another app host on the same server embeds nothing; its BM25 index is derived from the server's chunks."""
    other = Pipeline(load_settings(chroma_url=server, index_dir=tmp_path / "host-b"))
    answer = other.ask("Is kube-proxy a CNI plugin?")
    assert answer.verdict == "answered"
    assert answer.citations[0].article_id == "kube-proxy-vs-cni-plugin"
    assert other.index.keyword().fingerprint == remote.index.keyword().fingerprint


def test_reingest_of_an_unchanged_corpus_embeds_nothing(remote: Pipeline) -> None:
    report = remote.ingest()
    assert report.chunks_embedded == 0 and report.chunks_deleted == 0 and report.unchanged == report.articles


def test_edits_are_applied_in_place_on_the_server_too(server: str, corpus_copy: Path, tmp_path: Path) -> None:
    """Issue 17 over HTTP: from the third ingest on, an edit changes the collection one change behind the live one
    (the names come back), and the server's chunks equal the BM25 index's and a fresh build's."""
    settings = load_settings(chroma_url=server, collection="edits", index_dir=tmp_path / "host", corpus_dir=corpus_copy)
    pipeline = Pipeline(settings)
    names = [pipeline.ingest().generation]
    for n in range(3):
        path = corpus_copy / "rmm-vs-dex.md"
        path.write_text(path.read_text("utf-8") + f"\nEdit {n}: the quuxwidget{n} licence.\n", "utf-8")
        report = pipeline.ingest()
        assert report.updated == ["rmm-vs-dex"] and report.chunks_embedded < 20
        names.append(report.generation)
    assert names[2] == names[0] and names[3] == names[1]
    view = pipeline.index.view()
    ids = set(view.collection.get(include=[])["ids"])
    reference = Pipeline(load_settings(index_dir=tmp_path / "reference", corpus_dir=corpus_copy))
    reference.ingest()
    assert ids == set(view.keyword().ids) == set(reference.index.view().collection.get(include=[])["ids"])
    assert pipeline.search("quuxwidget2 licence")[0].article_id == "rmm-vs-dex"


def test_missing_collection_on_the_server_says_to_ingest(server: str, tmp_path: Path) -> None:
    pipeline = Pipeline(load_settings(chroma_url=server, collection="never-ingested", index_dir=tmp_path))
    with pytest.raises(IndexNotFoundError, match=f"No index found in {server}.*kbqa ingest"):
        pipeline.ask("Is kube-proxy a CNI plugin?")


def test_unreachable_server_says_how_to_start_one(tmp_path: Path) -> None:
    pipeline = Pipeline(load_settings(chroma_url=f"http://127.0.0.1:{free_port()}", index_dir=tmp_path))
    with pytest.raises(ChromaServerError, match="chroma run"):
        pipeline.ask("Is kube-proxy a CNI plugin?")


def test_a_url_that_is_not_http_is_rejected(tmp_path: Path) -> None:
    service = KbService(load_settings(chroma_url="ftp://example", index_dir=tmp_path))
    with pytest.raises(ChromaServerError, match="not an http"):
        service.stats()
