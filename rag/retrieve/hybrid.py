"""Hybrid retrieval: Chroma (dense) and BM25 (keyword) candidates fused by reciprocal rank, led by the article
that score fusion puts first.

Fusion is written here rather than taken from langchain's EnsembleRetriever because the answerer
needs each chunk's dense similarity and keyword score (for confidence and abstention), the fusion
must diversify by article, the tag filter must apply to both sides, and EnsembleRetriever fuses by rank
only, which put the right article first less often on the development sets (eval/README.md).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from rag.errors import QuestionError
from rag.index.keyword import tokenize
from rag.index.store import IndexView, KnowledgeIndex
from rag.ingest.chunking import tag_key


class HybridRetriever(BaseRetriever):
    """Returns chunks with ``score`` (reciprocal-rank fused), ``agreement_rank`` (the chunk's place in that order,
    before score fusion chose the lead), ``dense_score`` (cosine) and ``keyword_score`` in metadata."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: KnowledgeIndex
    embeddings: Callable[[], Embeddings]
    k: int = 5
    candidates: int = 30
    fusion: Literal["rrf", "rrf+score"] = "rrf+score"
    rrf_k: int = 60
    dense_weight: float = 1.0
    keyword_weight: float = 1.0
    max_chunks_per_article: int = 3
    max_tags: int = 50

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        tags: Sequence[str] = (),
        timings: dict[str, float] | None = None,
        view: IndexView | None = None,
    ) -> list[Document]:
        """``view``: the generation the caller holds for this request (read once, passed down); default the live one."""
        k = k or self.k
        tags = checked_tags(tags, self.max_tags)
        timings = timings if timings is not None else {}
        # One generation for the whole request, even if an ingest switches to the next one meanwhile. Taken first
        # so that a missing index fails fast, before the model loads.
        view = view or self.index.view()
        t0 = time.perf_counter()
        vector = self.embeddings().embed_query(query)
        t1 = time.perf_counter()
        dense = view.store.similarity_search_by_vector_with_relevance_scores(
            vector, k=self.candidates, filter=_where(tags)
        )
        t2 = time.perf_counter()
        # Serial on purpose: BM25 in a thread beside the Chroma query slowed that query by more than BM25 takes.
        keyword = view.keyword().search(tokenize(query), self.candidates, tags)
        keyword_ms = (time.perf_counter() - t2) * 1e3
        timings.update(embed_ms=(t1 - t0) * 1e3, dense_ms=(t2 - t1) * 1e3, keyword_ms=keyword_ms)

        docs: dict[str, Document] = {}
        for doc, distance in dense:
            assert doc.id is not None
            doc.metadata["dense_score"] = 1.0 - float(distance)
            docs[doc.id] = doc
        keyword_scores = {hit.chunk_id: hit.score for hit in keyword}
        dense_scores = {i: d.metadata["dense_score"] for i, d in docs.items()}
        sides = [(dense_scores, self.dense_weight), (keyword_scores, self.keyword_weight)]
        fused = _rank_fusion([(list(by_chunk), weight) for by_chunk, weight in sides], self.rrf_k)
        ranked = sorted((i for i in fused if fused[i] > 0), key=fused.__getitem__, reverse=True)
        agreed = {chunk_id: n for n, chunk_id in enumerate(ranked)}
        if self.fusion == "rrf+score":
            ranked = _led_by_score(ranked, _score_fusion(sides), lambda i: _article_of(i, docs))
        chosen = self._diversify(ranked, docs, k)
        missing = [i for i in chosen if i not in docs]
        docs.update(view.get(missing, similarity_to=vector))  # keyword-only hits get their cosine too
        result = []
        for chunk_id in chosen:
            if chunk_id not in docs:
                continue  # not expected within one generation; skipped rather than failing the request
            doc = docs[chunk_id]
            doc.metadata["score"] = fused[chunk_id]
            doc.metadata["agreement_rank"] = agreed[chunk_id]
            doc.metadata["keyword_score"] = keyword_scores.get(chunk_id, 0.0)
            result.append(doc)
        timings["retrieve_ms"] = (time.perf_counter() - t0) * 1e3
        return result

    def _diversify(self, ranked: list[str], docs: dict[str, Document], k: int) -> list[str]:
        """Take chunks in fused order, at most ``max_chunks_per_article`` from any one article."""
        per_article: dict[str, int] = {}
        chosen: list[str] = []
        for chunk_id in ranked:
            article = _article_of(chunk_id, docs)
            if per_article.get(article, 0) >= self.max_chunks_per_article:
                continue
            per_article[article] = per_article.get(article, 0) + 1
            chosen.append(chunk_id)
            if len(chosen) == k:
                break
        return chosen


def _article_of(chunk_id: str, docs: dict[str, Document]) -> str:
    return docs[chunk_id].metadata["article_id"] if chunk_id in docs else chunk_id.split("#", 1)[0]


def _led_by_score(ranked: list[str], by_score: dict[str, float], article_of: Callable[[str], str]) -> list[str]:
    """``ranked`` (reciprocal-rank order) led by its best chunk of the article that score fusion puts first.

    The two fusions are good at different things (development sets, eval/README.md): which article answers is
    better told by scores, which keep how far ahead a chunk is on one side (BM25 finds the one page that names
    the flag; RRF let a chunk that is second on both sides overtake it); which passages the answer reads is better
    told by ranks, which reward chunks both sides agree on (score order fed the answerer chunks that merely repeat
    the question's words, and lost facts)."""
    if not ranked or not by_score:
        return ranked
    article = article_of(max(by_score, key=by_score.__getitem__))
    lead = next((i for i in ranked if article_of(i) == article), None)
    return ranked if lead is None else [lead, *(i for i in ranked if i != lead)]


def _rank_fusion(rankings: list[tuple[list[str], float]], k: int) -> dict[str, float]:
    """Reciprocal rank fusion: each ranking adds ``weight / (k + rank)``."""
    fused: dict[str, float] = {}
    for ranking, weight in rankings:
        for rank, chunk_id in enumerate(ranking):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (k + rank + 1)
    return fused


def _score_fusion(scores: list[tuple[dict[str, float], float]]) -> dict[str, float]:
    """A weighted mean of each retriever's scores as a share of its best score (convex combination with
    theoretical-min-max normalisation, floor 0: Bruch et al., "An Analysis of Fusion Functions for Hybrid
    Retrieval", 2023). A chunk one retriever did not return gets that retriever's lowest share (it scored at most
    that)."""
    total = math.fsum(w for _, w in scores) or 1.0
    shares: list[tuple[dict[str, float], float, float]] = []
    for by_chunk, weight in scores:
        best = max(by_chunk.values(), default=0.0)
        share = {i: max(v, 0.0) / best for i, v in by_chunk.items()} if best > 0 else dict.fromkeys(by_chunk, 0.0)
        shares.append((share, weight / total, min(share.values(), default=0.0)))
    ids = dict.fromkeys(i for by_chunk, _ in scores for i in by_chunk)
    return {i: math.fsum(w * share.get(i, floor) for share, w, floor in shares) for i in ids}


def checked_tags(tags: Sequence[str], limit: int) -> tuple[str, ...]:
    """The tag filter without blanks and repeats, refused past ``limit``: every tag becomes a clause of one
    Chroma ``where`` expression, and thousands of them crash Chroma's Rust bindings (segfault), not just fail."""
    unique = tuple(dict.fromkeys(t.strip() for t in tags if t and t.strip() and not _SURROGATE.search(t)))
    if len(unique) > limit:
        raise QuestionError(
            f"{len(unique):,} different tags in the filter; the limit is {limit}. "
            "Filter by fewer tags (kbqa stats lists them), or raise KBQA_MAX_TAGS."
        )
    too_long = next((t for t in unique if len(t) > _MAX_TAG_CHARS), None)
    if too_long is not None:
        raise QuestionError(f"A tag of {len(too_long):,} characters is not a tag; tags are short names such as 'aks'.")
    return unique


_MAX_TAG_CHARS = 100
_SURROGATE = re.compile(r"[\ud800-\udfff]")  # a tag no article can have (and no text encoding can write)


def _where(tags: Sequence[str]) -> dict[str, Any] | None:
    if not tags:
        return None
    clauses = [{tag_key(t): True} for t in tags]
    return clauses[0] if len(clauses) == 1 else {"$or": clauses}
