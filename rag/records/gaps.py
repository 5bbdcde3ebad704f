"""KB gaps: what people asked that the KB could not answer well, grouped, counted, with the article to write.

Sources: query-log rows that abstained or found no known issue, low-confidence answers and possible
matches, and answers rated thumbs-down. The questions (for tickets: the extracted query) are embedded with
the pipeline's model and grouped by sentence-transformers' ``community_detection`` (groups of questions
similar to a central one); a question in no group stands alone. Each group gets its most central question
as the suggested title, the words that set it apart, and the nearest existing article: close enough, and
the advice is to extend that article rather than write a new one.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from rag.index.keyword import tokenize

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from rag.records.feedback import FeedbackRow

WEAK_VERDICTS = {"abstained": "not in the KB", "no_known_issue": "not in the KB"}
LOW_VERDICTS = {"low_confidence": "low confidence", "possible_match": "low confidence"}
GAP_VERDICTS = frozenset(WEAK_VERDICTS) | frozenset(LOW_VERDICTS)  # the query-log rows worth looking at
_WORD = re.compile(r"[A-Za-z][\w.-]*[A-Za-z0-9]|[A-Za-z]")
EXTEND_ABOVE = 0.55  # dense similarity of a cluster's central question to an article: extend it, not write anew


@dataclass
class GapQuestion:
    text: str
    why: str  # "not in the KB", "low confidence", "thumbs down"
    source: str  # "query #12", "feedback #3"


@dataclass
class GapCluster:
    size: int
    why: dict[str, int]
    examples: list[str]
    key_terms: list[str]
    suggested_title: str
    nearest_article: str = ""
    nearest_similarity: float = 0.0
    suggestion: str = ""
    sources: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def gap_questions(log_rows: list[dict[str, Any]], feedback: list[FeedbackRow]) -> list[GapQuestion]:
    """The questions worth looking at, one per distinct text, from the query log and the feedback."""
    out: list[GapQuestion] = []
    for row in log_rows:
        why = WEAK_VERDICTS.get(row["verdict"]) or LOW_VERDICTS.get(row["verdict"])
        if why:
            text = row["query"] if row["kind"] == "triage" else row["question"]
            out.append(GapQuestion(text.strip()[:500], why, f"query #{row['id']}"))
    for fb in feedback:
        if fb.rating == "down":
            reason = f" ({fb.reason})" if fb.reason else ""
            out.append(GapQuestion(fb.question.strip()[:500], f"thumbs down{reason}", f"feedback #{fb.id}"))
    seen: set[str] = set()
    unique = []
    for q in out:
        key = " ".join(q.text.lower().split())
        if key and key not in seen:
            seen.add(key)
            unique.append(q)
    return unique


class KbWords(Protocol):
    """What gaps reads of the index (``rag.index.store.KnowledgeIndex`` has both): no Chroma, no pipeline."""

    def idf(self, token: str) -> float: ...

    def nearest_article(self, vector: Sequence[float]) -> tuple[str, float]: ...


def find_gaps(
    embeddings: Embeddings, index: KbWords, questions: list[GapQuestion], threshold: float = 0.6
) -> list[GapCluster]:
    """Group ``questions`` and describe each group; biggest first."""
    if not questions:
        return []
    from sentence_transformers.util import community_detection

    vectors = np.asarray(embeddings.embed_documents([q.text for q in questions]), dtype=np.float32)
    groups = community_detection(vectors, threshold=threshold, min_community_size=1)
    placed = {i for g in groups for i in g}
    groups += [[i] for i in range(len(questions)) if i not in placed]
    clusters = [_describe(index, [questions[i] for i in g], vectors[g[0]]) for g in groups]
    return sorted(clusters, key=lambda c: (-c.size, c.suggested_title))


def _describe(index: KbWords, members: list[GapQuestion], centre: np.ndarray) -> GapCluster:
    why = Counter(m.why.split(" (")[0] for m in members)
    title = _title(members[0].text)  # community_detection puts the central question first
    terms = _key_terms([m.text for m in members], index.idf)
    nearest, similarity = index.nearest_article(centre.tolist())
    if nearest and similarity >= EXTEND_ABOVE:
        suggestion = f"Extend “{nearest}”: it is the closest article ({similarity:.2f}) but does not answer these."
    else:
        suggestion = f"Write a new article, e.g. “KB: {title}”" + (
            f", covering {', '.join(terms[:4])}." if terms else "."
        )
    return GapCluster(
        size=len(members),
        why=dict(why),
        examples=[m.text.splitlines()[0][:200] for m in members[:5]],
        key_terms=terms,
        suggested_title=f"KB: {title}",
        nearest_article=nearest,
        nearest_similarity=round(similarity, 3),
        suggestion=suggestion,
        sources=[m.source for m in members],
    )


def _title(question: str) -> str:
    first = question.strip().splitlines()[0] if question.strip() else ""
    first = first.rstrip("?.! ")
    return (first[:1].upper() + first[1:])[:90]


def _key_terms(texts: list[str], idf: Callable[[str], float]) -> list[str]:
    """Words the group shares, rarest in the KB first: what the KB lacks shows up as rare or unknown words."""
    counts: Counter[str] = Counter()
    shown: dict[str, str] = {}
    for text in texts:
        for word in {w for w in _WORD.findall(text) if tokenize(w)}:
            key = word.lower()
            counts[key] += 1
            shown.setdefault(key, word)
    min_count = 2 if len(texts) > 2 else 1
    ranked = sorted(
        (k for k, n in counts.items() if n >= min_count),
        key=lambda k: (-counts[k], -max((idf(t) for t in tokenize(k)), default=0.0), k),
    )
    return [shown[k] for k in ranked[:6]]
