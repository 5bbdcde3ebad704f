"""Chroma's HNSW search depth follows the setting, for new indexes and for ones built before it existed."""

from __future__ import annotations

import shutil
from pathlib import Path

from rag import Pipeline, load_settings
from tests.conftest import CORPUS


def _ef_search(pipeline: Pipeline) -> int:
    return int(pipeline.index.view().store._collection.configuration_json["hnsw"]["ef_search"])


def test_the_index_searches_as_deep_as_the_setting_says(tmp_path: Path) -> None:
    corpus = tmp_path / "kb"
    corpus.mkdir()
    for name in ("kube-proxy-vs-cni-plugin.md", "aks-coredns-dns-resolution-failures.md"):
        shutil.copy(CORPUS / name, corpus / name)
    index_dir = tmp_path / "index"
    built = Pipeline(load_settings(index_dir=index_dir, corpus_dir=corpus))
    assert built.ingest().ok
    assert _ef_search(built) == 400  # the default, given to the collection when ingest made it

    # An index from before the setting (Chroma's own default) is brought to it when opened, before its first query.
    built.index.view().store._collection.modify(configuration={"hnsw": {"ef_search": 100}})
    assert _ef_search(Pipeline(load_settings(index_dir=index_dir))) == 400
    deeper = Pipeline(load_settings(index_dir=index_dir, hnsw_ef_search=800))
    assert _ef_search(deeper) == 800
    assert deeper.search("is kube-proxy a CNI plugin")[0].article_id == "kube-proxy-vs-cni-plugin"
