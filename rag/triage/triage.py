"""Triage: a pasted ticket, error message or log in; the known issue, its cause, the fix, what to ask the
customer, and a reply ready to paste, out. Every item is quoted from the KB and cited.

Built on the pipeline's own search and answer: the ticket's signals (rag/triage/signals.py) become the query,
the extractive answer decides whether the KB knows the issue (the same calibrated confidence and
abstention as the chat), and the known article's sections named like Cause, Resolution or How to check
supply the structured parts.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Protocol

from langchain_core.documents import Document

from rag.answer.extractive import citation_for, terms_of
from rag.answer.injection import plain_citations
from rag.ingest.chunking import chunk_body
from rag.text.condense import condense
from rag.text.sections import section_role
from rag.text.sentences import Unit, split_units
from rag.triage.signals import Signals, error_codes_in, extract
from rag.types import (
    Answer,
    Citation,
    SearchHit,
    Triage,
    TriageItem,
    TriageVerdict,
    display_path,
)

if TYPE_CHECKING:
    from rag.answer.extractive import ExtractiveAnswerer
    from rag.index.store import IndexView, KnowledgeIndex
    from rag.retrieve.hybrid import HybridRetriever
    from rag.settings import Settings

_LIMITS = {"cause": 3, "fix": 8, "check": 5}
_VERDICTS: dict[str, TriageVerdict] = {
    "answered": "known_issue",
    "low_confidence": "possible_match",
    "abstained": "no_known_issue",
}


class Parts(Protocol):
    """What triage uses of the pipeline (``rag.Pipeline`` has them): no import of it, so no cycle."""

    settings: Settings
    index: KnowledgeIndex

    @property
    def retriever(self) -> HybridRetriever: ...

    def answerer_for(self, view: IndexView) -> ExtractiveAnswerer: ...

    def check_question(self, question: str, what: str = ...) -> str: ...

    def hits(self, query: str, chunks: Sequence[Document]) -> list[SearchHit]: ...

    def mark_stale(self, citations: Sequence[Citation]) -> None: ...


def triage(pipeline: Parts, ticket: str, tags: Sequence[str] = ()) -> Triage:
    started = time.perf_counter()
    result = _triage(pipeline, ticket, tags)
    result.timings["total_ms"] = (time.perf_counter() - started) * 1e3
    return result


def _triage(pipeline: Parts, ticket: str, tags: Sequence[str]) -> Triage:
    text = pipeline.check_question(ticket, what="ticket")
    signals = extract(text)
    query = signals.query() or condense(text)  # a paste of nothing but noise: searched as a log
    # One retrieval serves both the answer (the verdict's confidence) and the ranked matches.
    timings: dict[str, float] = {}
    view = pipeline.index.view()  # one generation for the whole ticket
    chunks = pipeline.retriever.invoke(query, k=pipeline.settings.top_k, tags=list(tags), timings=timings, view=view)
    # A ticket's words that no article uses are the customer's story (names, days): they do not lower confidence.
    narrative = partial(view.keyword().weights, narrative=True)
    answer = pipeline.answerer_for(view).weighing(narrative).answer(query, chunks)
    matches = _with_signal_terms(pipeline.hits(query, chunks), signals)
    result = Triage(
        verdict=_VERDICTS[answer.verdict],
        confidence=answer.confidence,
        query=query,
        signals=signals,
        matches=matches,
        notice=answer.notice,
        timings=timings,
    )
    # The known issue is the article retrieval ranks first for the whole ticket (the answer's first citation
    # is the best single sentence, which may sit in an article about a similar message).
    answered = (matches[0].article_id if matches else None) if not answer.abstained else None
    fetched: dict[str, list[Document]] = {}

    def article_chunks(article_id: str) -> list[Document]:
        if article_id not in fetched:
            fetched[article_id] = view.article_chunks(article_id)
        return fetched[article_id]

    article, found = _exact_evidence(article_chunks, signals, [answered] if answered else [], matches)
    if found:  # an error code or message quoted verbatim by an article is strong evidence: one level up
        result.verdict = "known_issue" if result.verdict != "no_known_issue" else "possible_match"
        result.notice = f"Found word for word in the matched article: {', '.join(found[:3])}."
    article = article or answered
    if article is None:
        result.nearest = answer.nearest
        result.reply = _escalation_reply(result)
        return result
    chunks = article_chunks(article)
    cites_it = bool(answer.citations) and answer.citations[0].article_id == article
    _fill_sections(result, chunks, answer if cites_it else None)
    known = next((c for c in result.citations if c.article_id == article), None)
    result.known_issue = known or result.citations[_cite(result, chunks[0]) - 1]
    pipeline.mark_stale(result.citations)
    result.reply = reply_markdown(result)
    return result


def _exact_evidence(
    article_chunks: Callable[[str], list[Document]], signals: Signals, preferred: list[str], matches: list[SearchHit]
) -> tuple[str | None, list[str]]:
    """The answer's article, or else the top match, if it contains one of the ticket's specific identifiers
    word for word: error codes, exception names, quoted messages (not HTTP statuses or product names, which
    many articles share). Only the best candidates: a common code such as 0xC0000005 turns up in some
    article for almost any crash."""
    specific = [*signals.error_codes, *(e.rsplit(".", 1)[-1] for e in signals.exceptions)]
    specific += [q for q in signals.quoted if " " in q.strip()]
    if not specific:
        return None, []
    for article in dict.fromkeys([*preferred, *(m.article_id for m in matches[:1])]):
        body = "\n".join(c.page_content for c in article_chunks(article)).lower()
        found = [s for s in dict.fromkeys(specific) if s.lower() in body]
        if found:
            return article, found
    return None, []


def _with_signal_terms(hits: list[SearchHit], signals: Signals) -> list[SearchHit]:
    """Why each article matched: its matched words plus the ticket's exact strings found in it."""
    exact = signals.terms()
    for hit in hits:
        found = [t for t in exact if t.lower() in hit.snippet.lower() or t.lower() in hit.title.lower()]
        hit.matched_terms = list(dict.fromkeys([*found, *hit.matched_terms]))[:12]
    return hits


@dataclass
class _Part:
    """One unit of the known article, scored against the ticket."""

    names_identifier: bool  # contains one of the ticket's error codes or exception names
    shared: int  # query terms it shares
    order: tuple[int, int]  # (chunk, unit) in the article
    item: TriageItem
    chunk: Document


def _fill_sections(result: Triage, chunks: list[Document], answer: Answer | None) -> None:
    """Cause, fix and checks quoted from the known article's sections of those kinds.

    An article often has one fix per error code: sections headed with another error code than the ticket's
    are skipped, sections naming the ticket's identifiers come first, then those sharing most words with it.
    """
    weights = set(terms_of(result.query))
    exact = {t.lower() for t in [*result.signals.error_codes, *result.signals.exceptions]}
    for role, limit in _LIMITS.items():
        sections: list[list[_Part]] = []
        for n, (chunk, body) in enumerate(_sections(chunks)):
            heading = chunk.metadata["section"]
            named = set(error_codes_in(heading))
            if section_role(heading) != role or (exact and named and not exact & named):
                continue
            units = [u for u in split_units(body) if u.kind == "code" or len(u.text) >= 12]
            sections.append(
                [
                    _Part(_mentions(u.text, exact), len(terms_of(u.text) & weights), (n, u.position), _item(u), chunk)
                    for u in units
                ]
            )
        if role == "cause":  # the sentences that say most about the ticket (naming its identifiers if any)
            parts = [part for section in sections for part in section]
            if any(p.names_identifier for p in parts):
                parts = [p for p in parts if p.names_identifier]
            chosen = sorted(sorted(parts, key=lambda p: (-p.shared, p.order))[:limit], key=lambda p: p.order)
        else:  # whole sections in article order within each
            chosen = []
            for section in sorted(sections, key=lambda sec: _section_rank(sec, exact, weights)):
                chosen += section[: limit - len(chosen)]
        items = []
        for part in chosen:
            part.item.citation = _cite(result, part.chunk)
            items.append(part.item)
        setattr(result, "ask_customer" if role == "check" else role, items)
    if not result.fix and answer is not None:  # no Resolution section: the answer to the ticket is the next step
        cited = {c.n: c for c in answer.citations}
        for sentence in answer.sentences:
            source = cited.get(sentence.citation)
            result.fix.append(TriageItem(sentence.text, _cite(result, source) if source else 0, sentence.kind))


def _sections(chunks: list[Document]) -> list[tuple[Document, str]]:
    """Each section's text whole again, with the chunk it starts in: a section longer than one chunk was split
    with overlapping ends, sometimes inside a code block, and its units only read right when rejoined."""
    out: list[tuple[Document, str]] = []
    for chunk in chunks:
        body = chunk_body(chunk)
        if out and out[-1][0].metadata["section"] == chunk.metadata["section"]:
            first, text = out[-1]
            out[-1] = (first, _join_overlapping(text, body))
        else:
            out.append((chunk, body))
    return out


def _join_overlapping(left: str, right: str) -> str:
    """``left`` + ``right`` without the text the splitter repeated at the start of ``right``."""
    for size in range(min(len(left), len(right)), 0, -1):
        if left.endswith(right[:size]) and (size > 20 or right[:size].strip() == right[:size]):
            return left + right[size:]
    return left + "\n" + right


def _section_rank(section: list[_Part], exact: set[str], weights: set[str]) -> tuple[bool, int, tuple[int, int]]:
    chunk = section[0].chunk if section else None
    text = chunk.page_content if chunk is not None else ""
    order = section[0].order if section else (0, 0)
    return (not _mentions(text, exact), -len(terms_of(text) & weights), order)


def _mentions(text: str, exact: set[str]) -> bool:
    lowered = text.lower()
    return any(t in lowered for t in exact)


def _item(unit: Unit) -> TriageItem:
    return TriageItem(unit.text if unit.kind == "code" else plain_citations(unit.text), 0, unit.kind)


def _cite(result: Triage, source: Document | Citation) -> int:
    """The [n] of a chunk in this triage, numbered in order of first use."""
    chunk_id = source.chunk_id if isinstance(source, Citation) else str(source.id)
    for c in result.citations:
        if c.chunk_id == chunk_id:
            return c.n
    n = len(result.citations) + 1
    result.citations.append(replace(source, n=n) if isinstance(source, Citation) else citation_for(n, source))
    return n


def reply_markdown(result: Triage) -> str:
    """A reply to paste into the ticket: what the issue is, why, what to do, what to check; with sources."""
    known = result.known_issue
    if known is None:
        return _escalation_reply(result)
    lead = (
        "This matches a known issue" if result.verdict == "known_issue" else "This looks like a known issue"
    ) + f": **{known.title}**."
    parts = ["Hello,", "", f"Thank you for the details. {lead}", ""]
    if result.cause:
        parts += ["**Cause**", "", *_lines(result.cause, numbered=False), ""]
    if result.fix:
        parts += ["**What to do**", "", *_lines(result.fix, numbered=True), ""]
    if result.ask_customer:
        parts += ["**Could you check the following and tell us what you find?**", ""]
        parts += [*_lines(result.ask_customer, numbered=False), ""]
    parts += ["**References**", ""]
    for c in result.citations:
        where = c.where
        updated = f", updated {c.updated}" if c.updated else ""
        updated += " — may be outdated, check before sending" if c.stale else ""
        parts.append(f"[{c.n}] {c.title} — {c.section} ({where}{updated})")
    return "\n".join(parts).rstrip() + "\n"


def _lines(items: list[TriageItem], numbered: bool) -> list[str]:
    """Markdown list lines; a code block is indented under the step before it, so lists stay numbered."""
    out: list[str] = []
    step = 0
    for item in items:
        if item.kind == "code":
            indent = "   " if out else ""
            out += [indent + line for line in item.text.splitlines()]
            continue
        step += 1
        text = re.sub(r"^\s*(?:[-*+•]|\d+[.)])\s+", "", item.text)
        out.append(f"{f'{step}.' if numbered else '-'} {text} [{item.citation}]")
    return out


def _escalation_reply(result: Triage) -> str:
    nearest = "\n".join(f"- {a.title} ({display_path(a.source_path)})" for a in result.nearest) or "- none"
    identifiers = ", ".join(result.signals.terms()[:8]) or "none found"
    return (
        "**No known issue in the KB — escalate.**\n\n"
        f"Identifiers in the ticket: {identifiers}\n\n"
        f"Nearest articles (not a match, for context):\n{nearest}\n"
    )
