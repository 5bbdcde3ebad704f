"""KB gaps over fakes: which logged questions count, how they group, and what to write for each group."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.embeddings import Embeddings

from rag.records.feedback import FeedbackRow
from rag.records.gaps import EXTEND_ABOVE, find_gaps, gap_questions

TOPICS = ("printer", "vpn", "kube")


class TopicEmbeddings(Embeddings):
    """One axis per topic word: questions about the same thing point the same way."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        vector = [float(topic in text.lower()) for topic in TOPICS] + [0.01]
        norm = sum(v * v for v in vector) ** 0.5
        return [v / norm for v in vector]


class Words:
    """The index as gaps sees it: word rarity and the nearest article (close only to kube questions)."""

    def idf(self, token: str) -> float:
        return 5.0 if token in ("zebra", "zd420") else 1.0

    def nearest_article(self, vector: Sequence[float]) -> tuple[str, float]:
        return ("KB: Kube-proxy vs CNI Plugin", 0.9) if vector[2] > 0.5 else ("KB: RMM vs DEX", 0.1)


def _row(row_id: int, question: str, verdict: str, kind: str = "ask") -> dict[str, object]:
    return {"id": row_id, "question": question, "query": question, "verdict": verdict, "kind": kind}


def test_only_weak_answers_and_thumbs_down_count_once_each() -> None:
    rows = [
        _row(1, "Zebra ZD420 printer prints blank labels", "abstained"),
        _row(2, "zebra zd420 PRINTER prints blank labels", "low_confidence"),  # the same question again
        _row(3, "Is kube-proxy a CNI plugin?", "answered"),
    ]
    feedback = [
        FeedbackRow(7, "2026-11-01", "down", "wrong article", "", "VPN drops every hour", "", "answered", [], [], {}),
        FeedbackRow(8, "2026-11-01", "up", "", "", "Fine answer", "", "answered", [], [], {}),
    ]
    questions = gap_questions(rows, feedback)  # type: ignore[arg-type]
    assert [(q.text, q.why, q.source) for q in questions] == [
        ("Zebra ZD420 printer prints blank labels", "not in the KB", "query #1"),
        ("VPN drops every hour", "thumbs down (wrong article)", "feedback #7"),
    ]


def test_similar_questions_group_and_each_group_says_what_to_write() -> None:
    rows = [
        _row(1, "Zebra ZD420 printer prints blank labels", "abstained"),
        _row(2, "printer driver update broke the Zebra ZD420", "abstained"),
        _row(3, "kube pods cannot reach the service", "low_confidence"),
    ]
    clusters = find_gaps(TopicEmbeddings(), Words(), gap_questions(rows, []), threshold=0.8)
    assert [c.size for c in clusters] == [2, 1]
    printer, kube = clusters
    assert printer.suggested_title == "KB: Zebra ZD420 printer prints blank labels"
    assert printer.suggestion.startswith("Write a new article") and "Zebra" in printer.key_terms
    assert kube.nearest_similarity >= EXTEND_ABOVE and kube.suggestion.startswith("Extend “KB: Kube-proxy vs CNI")
