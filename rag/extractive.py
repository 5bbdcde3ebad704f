"""The default answerer: picks the retrieved sentences that best answer the question and cites them.

No LLM: every sentence of the answer is a sentence of a KB article, so the answer is grounded by
construction. The work is choosing well (query-term coverage weighted by IDF, the chunk's dense
similarity) and deciding when the KB does not answer at all.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from langchain_core.documents import Document

from rag.answer import Answer, AnswerSentence, Citation, NearestArticle, RetrievedChunk, Verdict
from rag.chunking import chunk_body
from rag.injection import plain_citations
from rag.keyword_index import tokenize
from rag.sentences import Unit, split_units

_YES_NO = re.compile(
    r"^\s*(is|are|was|were|does|do|did|can|could|should|will|would|has|have|must|may)\b", re.IGNORECASE
)
_NEGATION = re.compile(r"\b(not|no|never|cannot|can't|isn't|aren't|doesn't|don't|won't|wasn't|neither|nor)\b", re.I)
_MIN_UNIT_TOKENS = 3
_CONFIDENCE_CHUNKS = 3  # chunks whose term coverage counts towards confidence
_CONTEXT_UNITS = 2  # units after the best sentence that come with it (must_include 0.40 -> 0.52, eval/README.md)
_RANK_DECAY = 0.15  # retrieval rank is the stronger signal: a sentence from chunk 3 needs more overlap
# Sections that point elsewhere; their lines are retrievable but never an answer.
_NON_ANSWER_SECTIONS = frozenset({"references", "see also", "related articles", "related content", "next steps"})
_LINK_ONLY = re.compile(r"^\[[^\]]*\]\([^)]*\)\W*$")
# A sentence opening with one of these continues the one before it and reads wrong alone.
_CONTINUATION = re.compile(r"^(it|this|these|they|that|those|its|their)\b", re.IGNORECASE)
_DUPLICATE_JACCARD = 0.7
_FOLLOW_UP_SHARE = 0.3  # a further sentence must score at least this share of the best one
_REDUNDANCY_PENALTY = 1.0  # how much repeating chosen sentences' terms costs a further sentence
_YES_NO_COVERAGE = 0.75  # "Yes."/"No." only when one sentence covers this share of the question


@dataclass
class _Candidate:
    unit: Unit
    chunk: Document
    rank: int
    coverage: float
    score: float
    tokens: frozenset[str]
    matches: bool  # shares a term with the question


class ExtractiveAnswerer:
    """Builds an :class:`Answer` from retrieved chunks, with calibrated abstention."""

    def __init__(
        self,
        idf: Callable[[str], float],
        abstain_threshold: float,
        low_confidence_threshold: float,
        max_sentences: int = 4,
    ) -> None:
        self._idf = idf
        self.abstain_threshold = abstain_threshold
        self.low_confidence_threshold = low_confidence_threshold
        self.max_sentences = max_sentences

    def answer(self, question: str, chunks: list[Document]) -> Answer:
        query_terms = frozenset(tokenize(question))
        weights = {t: self._idf(t) for t in query_terms}
        candidates = self._candidates(chunks, weights)
        confidence = confidence_score(chunks, weights)
        retrieved = [_retrieved(c) for c in chunks]
        if not candidates or confidence < self.abstain_threshold:
            return self._abstain(question, chunks, confidence, retrieved)

        chosen = self._select(candidates)
        citations: dict[str, Citation] = {}
        sentences: list[AnswerSentence] = []
        for cand in chosen:
            chunk_id = str(cand.chunk.id)
            if chunk_id not in citations:
                citations[chunk_id] = citation_for(len(citations) + 1, cand.chunk)
            cite = citations[chunk_id]
            cite.snippet = (cite.snippet + " " + cand.unit.text).strip() if cand.unit.kind != "code" else cite.snippet
            quoted = cand.unit.text if cand.unit.kind == "code" else plain_citations(cand.unit.text)
            sentences.append(AnswerSentence(quoted, cite.n, round(cand.score, 4), cand.unit.kind))
        verdict: Verdict = "answered" if confidence >= self.low_confidence_threshold else "low_confidence"
        prefix = _yes_no_prefix(question, chosen[0])
        text = prefix + _render(sentences)
        return Answer(
            question=question,
            text=text,
            verdict=verdict,
            confidence=round(confidence, 4),
            sentences=sentences,
            citations=list(citations.values()),
            retrieved=retrieved,
            notice=""
            if verdict == "answered"
            else "Low confidence: the best match only partly covers the question; check the sources.",
        )

    def _candidates(self, chunks: list[Document], weights: dict[str, float]) -> list[_Candidate]:
        total = math.fsum(weights.values()) or 1.0
        out: list[_Candidate] = []
        for rank, chunk in enumerate(chunks):
            if str(chunk.metadata.get("section", "")).split(" > ")[-1].strip().lower() in _NON_ANSWER_SECTIONS:
                continue
            dense = float(chunk.metadata.get("dense_score", 0.0))
            # The section name is context for every sentence under it.
            section_terms = terms_of(str(chunk.metadata.get("section", "")))
            for unit, tokens in _units(chunk_body(chunk)):
                if unit.kind != "code" and (len(tokens) < _MIN_UNIT_TOKENS or _LINK_ONLY.match(unit.text)):
                    continue
                matched = (tokens | section_terms) & weights.keys()
                own = tokens & weights.keys()
                # fsum: sums over sets must not depend on hash order, or equal sentences tie-break per process
                coverage = (math.fsum(weights[t] for t in matched) + math.fsum(weights[t] for t in own)) / (2 * total)
                score = coverage * (0.5 + 0.5 * max(dense, 0.0)) / (1 + _RANK_DECAY * rank)
                if unit.kind == "code":
                    score *= 0.5  # commands support an answer; they rarely are one
                out.append(_Candidate(unit, chunk, rank, coverage, score, tokens, bool(own)))
        # Commands and error listings support an answer but are never its first sentence.
        out.sort(key=lambda c: (c.unit.kind != "code", c.score), reverse=True)
        return out

    def _select(self, candidates: list[_Candidate]) -> list[_Candidate]:
        """The best sentence, then greedy picks that add to it (maximal marginal relevance on terms)."""
        best = candidates[0]
        chosen = [best]
        pool = [c for c in candidates[1:] if c.unit.kind != "code" and c.rank <= 2]
        while pool and len(chosen) < self.max_sentences:

            def gain(c: _Candidate) -> float:
                return c.score - _REDUNDANCY_PENALTY * best.score * max(_jaccard(c.tokens, x.tokens) for x in chosen)

            pick = max(pool, key=gain)
            if gain(pick) < _FOLLOW_UP_SHARE * best.score:
                break
            pool.remove(pick)
            if all(_jaccard(pick.tokens, c.tokens) <= _DUPLICATE_JACCARD for c in chosen):
                chosen.append(pick)
        chosen = chosen[:1] + sorted(chosen[1:], key=lambda c: (c.rank, c.unit.position))
        return _with_context(chosen, candidates)

    def _abstain(
        self, question: str, chunks: list[Document], confidence: float, retrieved: list[RetrievedChunk]
    ) -> Answer:
        nearest: dict[str, NearestArticle] = {}
        for chunk in chunks:
            meta = chunk.metadata
            if meta["article_id"] not in nearest and len(nearest) < 3:
                nearest[meta["article_id"]] = NearestArticle(
                    meta["article_id"], meta["title"], meta["source_path"], round(float(meta.get("dense_score", 0)), 4)
                )
        text = "The KB has no article that answers this question."
        if nearest:
            text += " Nearest articles: " + "; ".join(f"{a.title} ({a.article_id})" for a in nearest.values()) + "."
        return Answer(
            question=question,
            text=text,
            verdict="abstained",
            confidence=round(confidence, 4),
            nearest=list(nearest.values()),
            retrieved=retrieved,
        )


# Chunks come back for many questions: their sentences and terms are worked out once per process.
@lru_cache(maxsize=8192)
def terms_of(text: str) -> frozenset[str]:
    return frozenset(tokenize(text))


@lru_cache(maxsize=8192)
def _units(body: str) -> tuple[tuple[Unit, frozenset[str]], ...]:
    return tuple((unit, terms_of(unit.text)) for unit in split_units(body))


def confidence_score(chunks: list[Document], weights: dict[str, float]) -> float:
    """How likely it is that the KB answers the question, from two signals that fail differently:
    the best chunk's dense similarity (meaning) and the share of the question's IDF-weighted terms that
    one of the top chunks contains (specifics: product names, error codes). Averaged; the thresholds
    on it are calibrated in eval/calibrate.py."""
    if not chunks:
        return 0.0
    dense = max(float(c.metadata.get("dense_score", 0.0)) for c in chunks)
    total = math.fsum(weights.values())
    coverage = 0.0
    if total:
        for chunk in chunks[:_CONFIDENCE_CHUNKS]:
            found = terms_of(chunk.page_content) & weights.keys()
            coverage = max(coverage, math.fsum(weights[t] for t in found) / total)
    return 0.5 * max(dense, 0.0) + 0.5 * coverage


def _with_context(chosen: list[_Candidate], candidates: list[_Candidate]) -> list[_Candidate]:
    """Add what chosen sentences need to read right and be useful.

    Up to ``_CONTEXT_UNITS`` units that follow a chosen sentence in its chunk come with it when they
    are what it introduces (it ends with ':'), read as its continuation ("It ...", "This ..."), or, for
    the best sentence only, share a term with the question (the explanation, the command).
    """
    by_place = {(id(c.chunk), c.unit.position): c for c in candidates}
    taken = {id(c) for c in chosen}
    result: list[_Candidate] = []
    for i, cand in enumerate(chosen):
        result.append(cand)
        current = cand
        for _ in range(_CONTEXT_UNITS):
            follower = by_place.get((id(current.chunk), current.unit.position + 1))
            if follower is None or id(follower) in taken:
                break
            introduced = current.unit.text.endswith(":")  # "Run:", "Check these settings:"
            continues = follower.unit.kind == "sentence" and bool(_CONTINUATION.match(follower.unit.text))
            explains = i == 0 and follower.matches
            if not (explains or introduced or continues):
                break
            result.append(follower)
            taken.add(id(follower))
            current = follower
    return result


def _yes_no_prefix(question: str, best: _Candidate) -> str:
    """ "Yes."/"No." only when the top sentence itself states it."""
    if not _YES_NO.match(question) or _NEGATION.search(question) or best.unit.kind == "code":
        return ""
    if best.coverage < _YES_NO_COVERAGE:
        return ""
    return "No. " if _NEGATION.search(best.unit.text) else "Yes. "


def _render(sentences: list[AnswerSentence]) -> str:
    """Prose sentences run on; list items and code blocks start their own lines."""
    out = ""
    previous = "sentence"
    for sentence in sentences:
        if sentence.kind == "code":
            piece, sep = sentence.text, "\n"  # cited by the sentence that introduces it
        elif sentence.kind == "item":
            piece, sep = f"- {sentence.text} [{sentence.citation}]", "\n"
        else:
            piece, sep = f"{sentence.text} [{sentence.citation}]", "\n" if previous != "sentence" else " "
        out = piece if not out else out + sep + piece
        previous = sentence.kind
    return out


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def citation_for(n: int, chunk: Document) -> Citation:
    meta = chunk.metadata
    return Citation(
        n=n,
        chunk_id=str(chunk.id),
        article_id=meta["article_id"],
        title=meta["title"],
        section=meta["section"],
        source_path=meta["source_path"],
        source_url=meta.get("source_url", ""),
        updated=meta.get("updated", ""),
        score=round(float(meta.get("score", 0.0)), 5),
        dense_score=round(float(meta.get("dense_score", 0.0)), 4),
        snippet="",
    )


def _retrieved(chunk: Document) -> RetrievedChunk:
    meta = chunk.metadata
    return RetrievedChunk(
        chunk_id=str(chunk.id),
        article_id=meta["article_id"],
        title=meta["title"],
        section=meta["section"],
        score=round(float(meta.get("score", 0.0)), 5),
        dense_score=round(float(meta.get("dense_score", 0.0)), 4),
        keyword_score=round(float(meta.get("keyword_score", 0.0)), 4),
    )
