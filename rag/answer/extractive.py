"""The default answerer: picks the retrieved sentences that best answer the question and cites them.

No LLM: every sentence of the answer is a sentence of a KB article, so the answer is grounded by
construction. The work is choosing well (query-term coverage weighted by IDF, the chunk's dense
similarity) and deciding when the KB does not answer at all.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache

from langchain_core.documents import Document

from rag.answer.injection import is_instruction, plain_citations
from rag.index.keyword import tokenize
from rag.ingest.chunking import chunk_body
from rag.settings import AnswerSettings
from rag.text.sections import section_role
from rag.text.sentences import Unit, split_units
from rag.types import Answer, AnswerSentence, Citation, NearestArticle, RetrievedChunk, Verdict

_YES_NO = re.compile(
    r"^\s*(is|are|was|were|does|do|did|can|could|should|will|would|has|have|must|may)\b", re.IGNORECASE
)
_NEGATION = re.compile(r"\b(not|no|never|cannot|can't|isn't|aren't|doesn't|don't|won't|wasn't|neither|nor)\b", re.I)
_MIN_UNIT_TOKENS = 3
_CONFIDENCE_CHUNKS = 3  # chunks whose term coverage counts towards confidence
_LABEL_SHARE = 0.6  # a fix's lead-in names a symptom's variant when this share of its words are the label's
_LIST_ITEMS = 8  # items of a list that come with its lead-in
_CONTEXT_UNITS = 2  # sentences that continue a further sentence ("It …", "This …") and come with it
_PASSAGE_CHARS = 450  # prose that follows the best sentence in its chunk and comes with it
_LEAD_CHARS = 300  # prose of the paragraph before a listing's lead-in that comes with the listing
_SEMANTIC_UNITS = 8  # candidates re-ranked by meaning: ~2 ms each to embed on 2 CPU cores
_SEMANTIC_FLOOR = 0.3  # share of a candidate's lexical score it keeps at zero similarity
_ANSWER_CHARS = 700  # further sentences from elsewhere are added while the answer is shorter than this
_RANK_DECAY = 0.15  # retrieval rank is the stronger signal: a sentence from chunk 3 needs more overlap
# Sections that point elsewhere; their lines are retrievable but never an answer.
_NON_ANSWER_SECTIONS = frozenset(
    {"references", "see also", "related articles", "related content", "next steps", "what's next", "whatsnext"}
)
# What a question asks for, by its wording (``_shaped``); chosen before measuring, not fitted.
_HOW_TO = re.compile(r"\bhow (do|can|should|would) (i|we|you)\b|\bhow to\b|\bsteps to\b", re.IGNORECASE)
_QUANTITY = re.compile(
    r"\bhow (many|much|long|often|big|large|old)\b|\b(max|maximum|min|minimum|limit|limits|default|defaults|"
    r"timeout|size|number of|count of|version)\b",
    re.IGNORECASE,
)
_WHICH_SETTING = re.compile(
    r"\b(which|what)\b.{0,40}\b(flag|option|setting|parameter|annotation|label|key|field|variable|property|"
    r"command|value)s?\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d")
_SETTING = re.compile(r"`[^`]+`|(?<!\w)--?[a-z][\w-]+")
_SHAPE_BOOST = 1.5
_LINK_ONLY = re.compile(r"^\[[^\]]*\]\([^)]*\)\W*$")
# A sentence opening with one of these continues the one before it and reads wrong alone.
_CONTINUATION = re.compile(r"^(it|this|these|they|that|those|its|their)\b", re.IGNORECASE)
_DUPLICATE_JACCARD = 0.7
# "See <a section of this article>." (an in-page link, as text after ingest)
_SEE_SECTION = re.compile(r"\bSee (?:the )?[\"“']?([^.\"”']{3,120}?)[\"”']?(?: section)?\.?\s*$")
# A listing of what a system printed, not something to type.
_NOT_A_COMMAND = re.compile(r"^```\s*(output|text|txt|log|logs|plaintext|shell-session)\s*$", re.I | re.M)
# A fenced block that shows output (an error, a log), not input (YAML, a script) that the reader would write.
_OUTPUT_FENCE = re.compile(r"^```\s*(output|text|txt|console|log|logs|plaintext|shell-session)?\s*$", re.I | re.M)
_FOLLOW_UP_SHARE = 0.3  # a further sentence must score at least this share of the best one
_REDUNDANCY_PENALTY = 1.0  # how much repeating chosen sentences' terms costs a further sentence
# Sentences about the text itself ("Let me clarify …", "This article shows …", "For more information, see …")
# never answer a question.
_FILLER = re.compile(
    r"^(let me|let's|let us|in this (article|section|guide|tutorial)|for more (information|details)|to learn more|"
    r"this (article|section|guide|tutorial|page|document|topic) (shows|describes|explains|covers|helps|walks|provides|"
    r"documents|outlines|discusses|details|lists|introduces|summari[sz]es|demonstrates|presents|reviews|teaches))\b",
    re.IGNORECASE,
)
# The verbs that can join subject and predicate in "Is X a Y?" questions.
_COPULA = re.compile(r"\b(is|are|was|were|be|isn't|aren't|wasn't|weren't|remains?|becomes?)\b", re.IGNORECASE)
_LABEL = re.compile(r"^[A-Z][\w -]{0,30}:\s+")  # "Role: …", "Scope: …"
_PERSONAL = re.compile(r"^\s*(i|we|you)\b", re.IGNORECASE)
# A yes/no answer's sentence must hold this share of the question's IDF weight.
_YES_NO_COVERAGE = 0.7
# A sentence that states a condition or a possibility does not settle a yes/no question.
_HEDGED = re.compile(r"^\s*(if|when|whether|unless|although|while)\b", re.IGNORECASE)


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
        weights: Callable[[str], dict[str, float]],
        config: AnswerSettings,
        similarity: Callable[[str, list[str]], list[float]] | None = None,
    ) -> None:
        """``similarity(question, texts)`` (cosine, from the embedding model) re-ranks the best sentences by
        meaning: term overlap alone prefers the sentence that repeats the question's words."""
        self._weights = weights
        self._similarity = similarity
        self.abstain_threshold = config.abstain_threshold
        self.low_confidence_threshold = config.low_confidence_threshold
        self.max_sentences = config.max_sentences

    def weighing(self, weights: Callable[[str], dict[str, float]]) -> ExtractiveAnswerer:
        """The same answerer with other term weights (triage reads a ticket as a narrative)."""
        other = copy.copy(self)
        other._weights = weights
        return other

    def answer(
        self, question: str, chunks: list[Document], article_chunks: Callable[[str], list[Document]] | None = None
    ) -> Answer:
        """``article_chunks`` (an article's chunks by id) lets a yes/no answer say what its terms are from parts of
        the answering article that retrieval did not return."""
        weights = self._weights(question)
        candidates = self._candidates(chunks, weights)
        confidence = confidence_score(chunks, weights)
        retrieved = [_retrieved(c) for c in chunks]
        if not candidates or confidence < self.abstain_threshold:
            return self._abstain(question, chunks, confidence, retrieved)

        candidates = self._by_meaning(question, candidates)  # after abstaining: a refusal embeds no sentence
        candidates = _shaped(question, candidates)
        if article_chunks is not None:  # the passage and a yes/no definition may both read one article: once
            article_chunks = lru_cache(maxsize=None)(article_chunks)
        more = _article_candidates(article_chunks, chunks, weights, self._candidates)
        following = _next_chunk(article_chunks, candidates, weights, self._candidates)
        chosen = self._select(candidates, following, more)
        prefix, chosen = _yes_no(question, chosen, candidates, more, weights)
        chosen = _without_dangling_lead_ins(chosen)
        chosen = _with_command(question, chosen, candidates)
        chosen = _with_referenced_section(chosen, candidates, more, following)
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
        text = prefix + _render(sentences)
        # A definition read from the answering article's other chunks is listed as retrieved too, after the rest:
        # every citation points at a retrieved chunk (its article was retrieved already, so rankings do not move).
        seen = {r.chunk_id for r in retrieved}
        for cand in chosen:
            if str(cand.chunk.id) not in seen:
                seen.add(str(cand.chunk.id))
                retrieved.append(_retrieved(cand.chunk))
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
                if unit.kind != "code" and (
                    len(tokens) < _MIN_UNIT_TOKENS
                    or _LINK_ONLY.match(unit.text)
                    or _FILLER.match(unit.text)
                    or is_instruction(unit.text)  # text aimed at a model ("Ignore previous instructions…")
                ):
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

    def _by_meaning(self, question: str, candidates: list[_Candidate]) -> list[_Candidate]:
        """The ``_SEMANTIC_UNITS`` best prose candidates re-scored with their similarity to the question."""
        top = [c for c in candidates if c.unit.kind != "code"][:_SEMANTIC_UNITS]
        if self._similarity is None or len(top) < 2:
            return candidates
        for cand, sim in zip(top, self._similarity(question, [c.unit.text for c in top]), strict=True):
            cand.score *= _SEMANTIC_FLOOR + (1 - _SEMANTIC_FLOOR) * max(sim, 0.0)
        candidates.sort(key=lambda c: (c.unit.kind != "code", c.score), reverse=True)
        return candidates

    def _select(
        self,
        candidates: list[_Candidate],
        following: Callable[[Document], list[_Candidate]],
        more: Callable[[str], list[_Candidate]],
    ) -> list[_Candidate]:
        """One coherent passage around the best sentence (or, when that is a symptom, the symptom and then what its
        article gives as cause and fix), then greedy picks from elsewhere that add to it (maximal marginal
        relevance on terms) while the answer has room."""
        best = candidates[0]
        # A pasted error or log that an article quotes in an output block: the answer is what the article says
        # around that listing (what it means, how to fix it), so the passage starts at the listing.
        quoted = max((c for c in candidates if c.unit.kind == "code"), key=lambda c: c.coverage, default=None)
        chosen = None
        if quoted is not None and quoted.coverage > best.coverage and quoted.rank <= best.rank:
            from_listing = _passage(quoted, candidates, following)
            # A listing with nothing around it to say what it is, or with no sentence that introduces it (it opens
            # its section): not where an answer starts.
            if from_listing[0] is not quoted and any(c is quoted for c in from_listing):
                best, chosen = quoted, from_listing
        if chosen is None:
            chosen = _passage(best, candidates, following)
        remedy, variant = _cause_and_fix(best, candidates, more, following)
        if variant:  # the one variant of the error that matched, not its neighbours' listings
            chosen = [*_opening(best, candidates), *remedy]
        elif remedy and section_role(best.chunk.metadata["section"]) == "cause":  # the cause as it reads, its fix
            chosen = [*chosen, *(c for c in remedy if all(c is not o for o in chosen))]
        elif remedy:
            # The symptom as the article words it (the reader has it already), then its cause and fix. What follows
            # a quoted listing says what it means, so that passage stays whole.
            chosen = [*(chosen if best.unit.kind == "code" else _opening(best, candidates)), *remedy]
        size = sum(len(c.unit.text) for c in chosen if c.unit.kind != "code")
        taken = {(id(c.chunk), c.unit.position) for c in chosen}
        pool = [c for c in candidates[1:] if c.unit.kind != "code" and (id(c.chunk), c.unit.position) not in taken]
        extras: list[_Candidate] = []
        while pool and len(extras) < self.max_sentences - 1 and size < _ANSWER_CHARS:

            def gain(c: _Candidate) -> float:
                overlap = max(_jaccard(c.tokens, x.tokens) for x in chosen + extras)
                return c.score - _REDUNDANCY_PENALTY * best.score * overlap

            pick = max(pool, key=gain)
            if gain(pick) < _FOLLOW_UP_SHARE * best.score:
                break
            pool.remove(pick)
            if all(_jaccard(pick.tokens, c.tokens) <= _DUPLICATE_JACCARD for c in chosen + extras):
                extras.append(pick)
                size += len(pick.unit.text)
        extras.sort(key=lambda c: (c.rank, c.unit.position))
        return [*chosen, *_with_context(extras, candidates, taken)]

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
    # The chunks both retrievers agree on most: the article that leads the answer is not a reason to be surer.
    agreed = sorted(chunks, key=lambda c: c.metadata.get("agreement_rank", 0))  # stable: retrieval order otherwise
    if total:
        for chunk in agreed[:_CONFIDENCE_CHUNKS]:
            found = terms_of(chunk.page_content) & weights.keys()
            coverage = max(coverage, math.fsum(weights[t] for t in found) / total)
    return 0.5 * max(dense, 0.0) + 0.5 * coverage


def _passage(
    best: _Candidate, candidates: list[_Candidate], following: Callable[[Document], list[_Candidate]]
) -> list[_Candidate]:
    """The best sentence with the text around it that makes it an answer: the sentence it continues or the
    lead-in of its list before it, and what follows it (the rest of the explanation, the fix, the command) up to
    ``_PASSAGE_CHARS`` of prose, into the section's next chunk (or its first subsection's) when its own ends first.
    Articles explain in order, so the facts a question needs sit next to the sentence that matches it best more
    often than in another article's best sentence. ``following(chunk)`` gives the scored units of the chunk after
    ``chunk``."""
    out = _opening(best, candidates)
    size = len(best.unit.text) if best.unit.kind != "code" else 0
    rest = [c for c in candidates if c.chunk is best.chunk and c.unit.position > best.unit.position]
    done = False
    for part in (rest, None):
        if done:
            break
        if part is None:  # the chunk ended before the passage did: the section goes on in the next chunk
            part = following(best.chunk)
        places = {c.unit.position: c for c in part}
        position = best.unit.position + 1 if part is rest else 0
        end = len(_chunk_units(part[0])) if part else 0
        while position < end and size < _PASSAGE_CHARS:
            current = places.get(position)
            position += 1
            if current is None:  # filler, a bare link, a fragment: not worth a line
                continue
            if current.unit.text.endswith(":"):
                listed = _followers(current)
                if not listed:
                    done = True
                    break
                out.extend([current, *listed])
                size += sum(len(c.unit.text) for c in (current, *listed) if c.unit.kind != "code")
                position = listed[-1].unit.position + 1
                continue
            out.append(current)
            size += len(current.unit.text) if current.unit.kind != "code" else 0
        done = done or position < end or size >= _PASSAGE_CHARS
    while out and out[-1].unit.text.endswith(":"):  # a lead-in whose list the chunk cut off
        out.pop()
    return out or [best]


def _opening(best: _Candidate, candidates: list[_Candidate]) -> list[_Candidate]:
    """Where the passage starts: the best sentence with what it needs before it (its list's lead-in, the
    sentence it continues, the sentence that introduces a listing). A listing with no sentence before it is not
    where an answer starts (what follows it is), so it is left out."""
    previous = next(
        (c for c in candidates if c.chunk is best.chunk and c.unit.position == best.unit.position - 1), None
    )
    # An item with its list's lead-in: "AKS supports three GA minor versions:" says what "The two previous minor
    # versions" are.
    lead_in = _lead_in_of(best, continuing=False)
    if lead_in is not None:
        return [lead_in, best]
    if best.unit.kind == "code":
        # "You might see an error similar to the following:", "Restart the agents:" (too short to be scored)
        # A run of listings ("Typical errors:" and three of them) is introduced by the sentence before the first.
        units = _chunk_units(best)
        start = best.unit.position
        while start > 0 and units[start - 1][0].kind == "code":
            start -= 1
        if start == 0:
            return []
        before = units[start - 1]
        lead_in = previous if start == best.unit.position else None
        return [*_paragraph_before(best, before[0], candidates), lead_in or _as_candidate(best, *before), best]
    if previous is not None and best.unit.kind == "sentence" and _CONTINUATION.match(best.unit.text):
        if previous.unit.kind == "code":  # "This may be useful …" after a listing: the listing with what introduces
            listing = _opening(previous, candidates)  # it, or, when nothing in the chunk does, the sentence alone
            return [*listing, best] if listing else [best]
        return [previous, best]
    return [best]


def _cause_and_fix(
    best: _Candidate,
    candidates: list[_Candidate],
    more: Callable[[str], list[_Candidate]],
    following: Callable[[Document], list[_Candidate]],
) -> tuple[list[_Candidate], bool]:
    """When the best match is under a "Symptoms" heading, the reader has the symptom already: the answer is what the
    same article says under its cause and its fix headings (the Symptoms / Cause / Resolution layout of support
    KBs): the cause from its sentence that best matches the question, the fix from the first step of its best
    matching section, or the fix given for the symptom's variant (``_fix_for_variant``: then True). When it is
    under a "Cause" heading, the reader described the cause: its fix is the fix sentence that matches best, if it
    matches well enough to be an answer's follow-up."""
    matched = section_role(best.chunk.metadata["section"])
    if matched not in ("symptom", "cause"):
        return [], False
    article = best.chunk.metadata["article_id"]
    by_role: dict[str | None, list[_Candidate]] = {}
    lead_ins: list[_Candidate] = []  # of fix sections: "Run the az vm reapply command:" with what it introduces
    for c in (*candidates, *more(article)):
        if c.chunk.metadata["article_id"] != article or c.unit.kind == "code":
            continue
        role_of = section_role(c.chunk.metadata["section"])
        if not c.unit.text.endswith(":"):
            by_role.setdefault(role_of, []).append(c)
        elif role_of == "fix" and _followers(c):
            lead_ins.append(c)
    if matched == "cause":  # the reader described a cause: its fix is the fix sentence (or command) that matches too
        step = max((*by_role.get("fix", []), *lead_ins), key=lambda c: c.score, default=None)
        if step is None or step.score < _FOLLOW_UP_SHARE * best.score:
            return [], False
        introduced = _followers(step) if any(step is c for c in lead_ins) else []
        return [*_opening(step, by_role.get("fix", [])), *introduced], False
    out: list[_Candidate] = []
    variant = False
    for role in ("cause", "fix"):
        under = by_role.get(role, [])
        if not under:
            continue
        first = max(under, key=lambda c: (c.score, -int(c.chunk.metadata.get("position", 0)), -c.unit.position))
        own = [c for c in under if c.chunk is first.chunk]
        if role == "fix":
            fix = _fix_for_variant(best, under)
            if fix:
                out.extend(fix)
                variant = True
                continue
            first = min(own, key=lambda c: c.unit.position)  # a procedure is read from its first step
        out.extend(c for c in _passage(first, own, following) if all(c is not o for o in out))
    return out, variant


def _label_terms(lead_in: Unit) -> frozenset[str]:
    """The terms of a lead-in's label: "Azure RBAC model: no role assignment grants …:" is labelled "Azure RBAC
    model"; a lead-in with no label of its own ("Access policy model:") is all label."""
    if not lead_in.text.endswith(":"):
        return frozenset()
    return terms_of(lead_in.text[:-1].split(": ", 1)[0])


def _fix_for_variant(symptom: _Candidate, fixes: list[_Candidate]) -> list[_Candidate]:
    """Support articles often list the variants of an error under labels ("Access policy model: …:" and its
    listing, "Firewall: …:" and its listing) and give the fix of each under the same label in the resolution
    ("Access policy model:" and its command). When the pasted error matched a labelled listing, the fix is the
    resolution's lead-in whose label is the symptom's (most of its words are), with what it introduces."""
    units = _chunk_units(symptom)
    if symptom.unit.kind != "code" or symptom.unit.position == 0:
        return []
    lead = units[symptom.unit.position - 1][0]
    label = _label_terms(lead)
    if lead.kind == "code" or not label:
        return []
    match: tuple[float, _Candidate] | None = None
    for anchor, *_ in _per_chunk(fixes):
        for unit, tokens in _chunk_units(anchor):
            own = _label_terms(unit) if unit.kind != "code" else frozenset()
            share = len(own & label) / len(own) if own else 0.0
            if share >= _LABEL_SHARE and (match is None or share > match[0]):
                match = (share, _as_candidate(anchor, unit, tokens))
    if match is None:
        return []
    followers = _followers(match[1])
    return [match[1], *followers] if followers else []


def _shaped(question: str, candidates: list[_Candidate]) -> list[_Candidate]:
    """What the question asks for counts ``_SHAPE_BOOST`` times in a sentence that has it: for "how do I …" a
    sentence that introduces a command or a configuration ("Run:", "… with the following file:"); for "how many /
    what is the limit / default …" one that states a number; for "which flag / setting …" one that names a flag or
    an identifier in code spans."""
    if _HOW_TO.search(question):
        wanted: Callable[[_Candidate], bool] = _introduces_code
    elif _WHICH_SETTING.search(question):  # before quantities: "which flag sets the maximum …" asks for the flag
        wanted = lambda c: bool(_SETTING.search(c.unit.text))  # noqa: E731 - one-line predicates, side by side
    elif _QUANTITY.search(question):
        wanted = lambda c: bool(_NUMBER.search(c.unit.text))  # noqa: E731
    else:
        return candidates
    for cand in candidates:
        if cand.unit.kind != "code" and wanted(cand):
            cand.score *= _SHAPE_BOOST
    candidates.sort(key=lambda c: (c.unit.kind != "code", c.score), reverse=True)
    return candidates


def _with_command(question: str, chosen: list[_Candidate], candidates: list[_Candidate]) -> list[_Candidate]:
    """A "how do I …" answer that explains but shows no command or configuration gets the one its passage's chunk
    introduces ("Check that the agent pods run:" and the listing): the reader came for what to type. The listing
    whose introducing sentence matches the question best, else the first; never an output listing."""
    if not _HOW_TO.search(question) or not chosen or any(c.unit.kind == "code" for c in chosen):
        return chosen
    scores = {(id(c.chunk), c.unit.position): c.score for c in candidates}
    best: tuple[float, _Candidate, _Candidate] | None = None
    for anchor, *_ in _per_chunk(chosen):
        chunk_of = id(anchor.chunk)
        units = _chunk_units(anchor)
        for position in range(1, len(units)):
            (listing, tokens), (before, before_tokens) = units[position], units[position - 1]
            if listing.kind != "code" or not before.text.endswith(":") or _NOT_A_COMMAND.match(listing.text):
                continue
            score = scores.get((chunk_of, position - 1), 0.0)
            if best is None or score > best[0]:
                best = (score, _as_candidate(anchor, before, before_tokens), _as_candidate(anchor, listing, tokens))
        if best is not None:
            break
    if best is None:
        return chosen
    _, intro, code = best
    taken = {(id(c.chunk), c.unit.position) for c in chosen}
    if (id(intro.chunk), intro.unit.position) in taken:
        at = next(n for n, c in enumerate(chosen) if c.chunk is intro.chunk and c.unit.position == intro.unit.position)
        return [*chosen[: at + 1], code, *chosen[at + 1 :]]
    return [*chosen, intro, code]


def _with_referenced_section(
    chosen: list[_Candidate],
    candidates: list[_Candidate],
    more: Callable[[str], list[_Candidate]],
    following: Callable[[Document], list[_Candidate]],
) -> list[_Candidate]:
    """An answer that opens with a pointer to a section of its own article ("1058 - ERROR_SERVICE_DISABLED — See DHCP
    Client service is disabled.", an in-page link whose target ingest cannot keep) goes on with that section instead
    of the pointer's neighbours (the table's other rows)."""
    lead = next((c for c in chosen if c.unit.kind != "code"), None)
    target = _SEE_SECTION.search(lead.unit.text) if lead is not None else None
    if lead is None or target is None:
        return chosen
    wanted = _heading_key(target.group(1))
    article = lead.chunk.metadata["article_id"]
    pool = [c for c in (*candidates, *more(article)) if c.chunk.metadata["article_id"] == article]
    starts: list[tuple[int, int, _Candidate]] = []  # where the section starts: (chunk position, unit position, unit)
    for own in _per_chunk(pool):
        chunk = own[0].chunk
        if _heading_key(str(chunk.metadata["section"]).split(" > ")[-1]) == wanted:
            heading = -1  # the section's own chunk: from its start
        else:  # a deeper heading stays in the chunk text ("#### DHCP Client service is disabled")
            lines = chunk_body(chunk).split("\n")
            found = [n for n, line in enumerate(lines) if line.startswith("#") and _heading_key(line) == wanted]
            if not found:
                continue
            heading = found[0]
        after = [c for c in own if c.unit.block > heading]
        if after:
            first = min(after, key=lambda c: c.unit.position)
            starts.append((int(chunk.metadata.get("position", 0)), first.unit.position, first))
    if not starts:
        return chosen
    first = min(starts, key=lambda t: t[:2])[2]
    if first.chunk is lead.chunk and first.unit.position <= lead.unit.position:
        return chosen
    section = _until_next_heading(first, _passage(first, [c for c in pool if c.chunk is first.chunk], following))
    at = next(n for n, c in enumerate(chosen) if c is lead)
    neighbours = lead.chunk.metadata["section"]  # the pointer's table or list, in its chunk or the next
    rest = [c for c in chosen[at + 1 :] if c.chunk.metadata["section"] != neighbours]
    return [*chosen[: at + 1], *section, *rest]


def _until_next_heading(first: _Candidate, passage: list[_Candidate]) -> list[_Candidate]:
    """The passage up to the next heading that stayed in the chunk text (a sibling subsection's)."""
    out: list[_Candidate] = []
    previous = first
    for cand in passage:
        between = chunk_body(previous.chunk).split("\n")[previous.unit.block + 1 :]
        if cand.chunk is previous.chunk:
            between = between[: cand.unit.block - previous.unit.block - 1]
        else:  # the rest of the previous chunk, then the new one up to the unit
            between += chunk_body(cand.chunk).split("\n")[: cand.unit.block]
        if cand is not first and any(line.startswith("#") for line in between):
            break
        out.append(cand)
        previous = cand
    return out


def _heading_key(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def _introduces_code(cand: _Candidate) -> bool:
    units = _chunk_units(cand)
    return cand.unit.position + 1 < len(units) and units[cand.unit.position + 1][0].kind == "code"


def _paragraph_before(listing: _Candidate, lead: Unit, candidates: list[_Candidate]) -> list[_Candidate]:
    """The sentences of the paragraph that leads into a listing, before its last one: an article says why an error
    happens ("Cluster autoupgrade always upgrades the control plane and the node pools together.") in the sentences
    that end with "… raises the following error:". Up to ``_LEAD_CHARS``, nearest first; filler is not scored, so
    it never comes."""
    if lead.kind != "sentence":
        return []
    units = _chunk_units(listing)
    scored = {c.unit.position: c for c in candidates if c.chunk is listing.chunk}
    out: list[_Candidate] = []
    size = 0
    for unit, _ in reversed(units[: lead.position]):
        cand = scored.get(unit.position)
        if unit.block != lead.block or cand is None or size + len(unit.text) > _LEAD_CHARS:
            break
        out.insert(0, cand)
        size += len(unit.text)
    return out


def _with_context(
    chosen: list[_Candidate], candidates: list[_Candidate], taken: set[tuple[int, int]]
) -> list[_Candidate]:
    """Add what further sentences need to read right: a lead-in ("Run:", "Check these settings:") comes with
    the list or command it introduces, or not at all; a list item that continues its lead-in ("- be reachable
    from the nodes …") comes after it; a following sentence that continues one ("It ...", "This ...") comes
    with it."""
    by_place = {(id(c.chunk), c.unit.position): c for c in candidates}
    result: list[_Candidate] = []
    for cand in chosen:
        lead_in = _lead_in_of(cand)
        if lead_in is not None and (id(lead_in.chunk), lead_in.unit.position) not in taken:
            result.append(lead_in)
            taken.add((id(lead_in.chunk), lead_in.unit.position))
        if cand.unit.text.endswith(":"):
            listed = [f for f in _followers(cand) if (id(f.chunk), f.unit.position) not in taken]
            if listed:
                result.extend([cand, *listed])
                taken.update((id(f.chunk), f.unit.position) for f in listed)
            continue
        result.append(cand)
        taken.add((id(cand.chunk), cand.unit.position))
        current = cand
        for _ in range(_CONTEXT_UNITS):
            follower = by_place.get((id(current.chunk), current.unit.position + 1))
            if follower is None or (id(follower.chunk), follower.unit.position) in taken:
                break
            if not (follower.unit.kind == "sentence" and _CONTINUATION.match(follower.unit.text)):
                break
            result.append(follower)
            taken.add((id(follower.chunk), follower.unit.position))
            current = follower
    return result


def _without_dangling_lead_ins(chosen: list[_Candidate]) -> list[_Candidate]:
    """Drop a lead-in ("… the following:") that the answer does not follow with a list item or a command of
    its own chunk: a header with nothing under it reads as a cut answer."""
    kept: list[_Candidate] = []
    for cand in reversed(chosen):  # from the end, so a lead-in whose only follower was dropped goes too
        after = kept[-1] if kept else None
        if (
            cand.unit.kind != "code"
            and cand.unit.text.endswith(":")
            and (
                after is None
                or after.chunk is not cand.chunk
                or after.unit.kind == "sentence"
                or after.unit.position <= cand.unit.position
            )
        ):
            continue
        kept.append(cand)
    kept.reverse()
    return kept if kept else chosen[:1]


def _per_chunk(cands: list[_Candidate]) -> list[list[_Candidate]]:
    """The candidates grouped by their chunk, chunks in order of first appearance."""
    groups: dict[int, list[_Candidate]] = {}
    for c in cands:
        groups.setdefault(id(c.chunk), []).append(c)
    return list(groups.values())


def _chunk_units(cand: _Candidate) -> tuple[tuple[Unit, frozenset[str]], ...]:
    return _units(chunk_body(cand.chunk))


def _as_candidate(cand: _Candidate, unit: Unit, tokens: frozenset[str]) -> _Candidate:
    """A unit of the same chunk that comes along for form's sake (it was not scored on its own)."""
    return _Candidate(unit, cand.chunk, cand.rank, 0.0, 0.0, tokens, False)


def _followers(lead_in: _Candidate) -> list[_Candidate]:
    """The list items or command a lead-in introduces, in order."""
    out = []
    for unit, tokens in _chunk_units(lead_in)[lead_in.unit.position + 1 :][:_LIST_ITEMS]:
        if unit.kind == "sentence":
            break
        out.append(_as_candidate(lead_in, unit, tokens))
    while out and out[-1].unit.text.endswith(":"):  # a nested lead-in whose list the chunk cut off
        out.pop()
    return out


def _lead_in_of(item: _Candidate, continuing: bool = True) -> _Candidate | None:
    """For a list item that continues a sentence (it starts lower-case), or any item unless ``continuing``, the
    lead-in of its list."""
    if item.unit.kind != "item" or (continuing and not item.unit.text[:1].islower()):
        return None
    units = _chunk_units(item)
    for unit, tokens in reversed(units[: item.unit.position]):
        if unit.kind != "item":
            return _as_candidate(item, unit, tokens) if unit.text.endswith(":") else None
    return None


def _yes_no(
    question: str,
    chosen: list[_Candidate],
    candidates: list[_Candidate],
    more: Callable[[str], list[_Candidate]],
    weights: dict[str, float],
) -> tuple[str, list[_Candidate]]:
    """ "Yes."/"No." only when a chosen sentence states the relation the question asks about; that sentence
    then leads the answer. A sentence that merely shares the words (a neighbouring fact) gives no verdict."""
    asked = _YES_NO.match(question)
    if not asked or _NEGATION.search(question):
        return "", chosen
    asked_about = question[asked.end() :]
    terms = list(dict.fromkeys(tokenize(asked_about)))
    if len(terms) < 2:
        return "", chosen
    relation = _Relation(
        terms=terms,
        weights={t: weights.get(t, 1.0) for t in terms},
        subject=None if _PERSONAL.match(asked_about) else terms[0],  # "Can I …?" asks about an action, not a subject
        copula=asked.group(1).lower() in ("is", "are", "was", "were"),
    )
    stated = [(v, c) for c in chosen if c.unit.kind != "code" and (v := relation.verdict(c))]
    if not stated or len({v for v, _ in stated}) > 1:
        return "", chosen
    verdict, lead = stated[0]
    rest = [c for c in chosen if c is not lead]
    if relation.copula and relation.subject is not None:
        # "Is X a Y?": after the verdict, what X is and what Y is, when the retrieved text defines them.
        pool = [*candidates, *more(lead.chunk.metadata["article_id"])]
        defined = [d for term in (relation.subject, terms[-1]) if (d := _definition(term, pool, [lead, *rest]))]
        rest = [*(c for c in rest if c.chunk is lead.chunk and c.unit.position == lead.unit.position + 1), *defined]
    return ("No. " if verdict == "no" else "Yes. "), [lead, *rest]


def _article_candidates(
    article_chunks: Callable[[str], list[Document]] | None,
    retrieved: list[Document],
    weights: dict[str, float],
    score: Callable[[list[Document], dict[str, float]], list[_Candidate]],
) -> Callable[[str], list[_Candidate]]:
    """The units of an article's chunks that retrieval did not return, ranked after the retrieved ones; read only
    when asked for (one index read)."""

    def more(article_id: str) -> list[_Candidate]:
        if article_chunks is None:
            return []
        seen = {c.id for c in retrieved}
        extra = [c for c in article_chunks(article_id) if c.id not in seen]
        cands = score([*retrieved, *extra], weights)
        return [c for c in cands if c.chunk in extra]

    return more


def _next_chunk(
    article_chunks: Callable[[str], list[Document]] | None,
    candidates: list[_Candidate],
    weights: dict[str, float],
    score: Callable[[list[Document], dict[str, float]], list[_Candidate]],
) -> Callable[[Document], list[_Candidate]]:
    """The scored units of the chunk that follows a chunk in its section or opens one of its subsections (one index
    read, only when asked)."""

    def following(chunk: Document) -> list[_Candidate]:
        if article_chunks is None:
            return []
        position = int(chunk.metadata.get("position", 0)) + 1
        section = chunk.metadata.get("section")
        after = [
            c
            for c in article_chunks(chunk.metadata["article_id"])
            if int(c.metadata.get("position", 0)) == position and _within(str(c.metadata.get("section")), section)
        ]
        if not after:
            return []
        retrieved = [c for c in candidates if c.chunk.id == after[0].id]
        if retrieved:
            return retrieved
        rank = min((c.rank for c in candidates if c.chunk is chunk), default=0)
        return [replace(c, rank=rank) for c in score([after[0]], weights)]

    return following


def _within(section: str, parent: object) -> bool:
    """The same section, or one of its subsections: "Mitigate > Remove deprecated APIs" goes on with "Mitigate"."""
    return section == parent or section.startswith(f"{parent} > ")


def _definition(term: str, candidates: list[_Candidate], taken: list[_Candidate]) -> _Candidate | None:
    """The sentence that says what ``term`` is or does: it opens with the term (after a label such as "Role:"),
    preferably under a heading that names it."""
    opening = [
        c
        for c in candidates
        if c.unit.kind != "code"
        and not c.unit.text.endswith(":")  # a lead-in names the term but says nothing about it
        and all(c is not t for t in taken)
        and term in terms_of(" ".join(_LABEL.sub("", c.unit.text).split()[:3]))
    ]
    return max(opening, key=lambda c: (term in terms_of(c.chunk.metadata.get("section", "")), c.score), default=None)


@dataclass(frozen=True)
class _Relation:
    """What a yes/no question asks: its terms (IDF-weighted), its subject, and whether "is" joins them."""

    terms: list[str]
    weights: dict[str, float]
    subject: str | None
    copula: bool

    def verdict(self, cand: _Candidate) -> str | None:
        """ "yes" or "no" when the sentence itself asserts or denies the relation: it holds most of the question's
        weight, its last term and every number and identifier it names, the subject comes first, an "is"-question's
        verb joins subject and predicate, and a negation before the last question term decides. Otherwise None."""
        text = cand.unit.text
        if _HEDGED.match(text) or text.rstrip().endswith("?"):
            return None
        words = text.split()
        position: dict[str, int] = {}
        for i, word in enumerate(words):
            for token in terms_of(word):
                position.setdefault(token, i)
        # Numbers, versions, flags and codes must all be there, and so must the last term: the predicate's head
        # ("… a CNI plugin", "… include the Ingress kind") or the condition ("… on Windows").
        if self.terms[-1] not in position or any(t not in position for t in self.terms if not t.isalpha()):
            return None
        found = math.fsum(w for t, w in self.weights.items() if t in position)
        present = [position[t] for t in self.terms if t in position]
        if not present or found < _YES_NO_COVERAGE * math.fsum(self.weights.values()):
            return None
        start = min(present)
        if self.subject is not None:
            if self.subject not in position or position[self.subject] > start:
                return None
            start = position[self.subject]
        if self.copula and not _COPULA.search(" ".join(words[start + 1 : max(present)])):
            return None  # "the roles of kube-proxy and a CNI plugin" names both but states no relation
        return "no" if _NEGATION.search(" ".join(words[: max(present) + 1])) else "yes"


def _render(sentences: list[AnswerSentence]) -> str:
    """Prose sentences run on; list items and code blocks start their own lines. A code block is cited by the
    sentence that introduces it; one that follows text from another source gets its own marker after it."""
    out = ""
    previous = "sentence"
    shown = 0
    for sentence in sentences:
        if sentence.kind == "code":
            piece, sep = sentence.text, "\n"
            if sentence.citation != shown:
                piece += f"\n[{sentence.citation}]"
        elif sentence.kind == "item":
            piece, sep = f"- {sentence.text} [{sentence.citation}]", "\n"
        else:
            piece, sep = f"{sentence.text} [{sentence.citation}]", "\n" if previous != "sentence" else " "
        out = piece if not out else out + sep + piece
        previous = "item" if sentence.kind == "code" else sentence.kind  # text after a code block starts a line
        shown = sentence.citation
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
        source=meta.get("source", ""),
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
