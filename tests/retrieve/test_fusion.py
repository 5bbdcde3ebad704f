"""How the dense and BM25 candidates are merged: reciprocal rank, led by the article score fusion puts first."""

from __future__ import annotations

import pytest

from rag.answer.extractive import confidence_score
from rag.index.keyword import question_terms
from rag.retrieve.hybrid import _led_by_score, _rank_fusion, _score_fusion
from tests.fakes import chunk

# A question that names a flag: BM25 finds the one page that has it (far ahead of the rest); the dense side ranks
# that page fourth, behind pages that are about the topic in general.
DENSE = {"topic#0": 0.70, "other#0": 0.69, "near#0": 0.68, "flag#0": 0.67}
KEYWORD = {"flag#0": 12.0, "other#0": 5.0, "topic#0": 4.0}


def article(chunk_id: str) -> str:
    return chunk_id.split("#", 1)[0]


def test_rank_fusion_lets_a_chunk_second_on_both_sides_overtake_one_far_ahead_on_one() -> None:
    fused = _rank_fusion([(list(DENSE), 1.0), (list(KEYWORD), 1.0)], k=60)
    ranked = sorted(fused, key=fused.__getitem__, reverse=True)
    assert ranked[0] != "flag#0"


def test_score_fusion_keeps_how_far_ahead_a_chunk_is() -> None:
    by_score = _score_fusion([(DENSE, 1.0), (KEYWORD, 1.0)])
    assert max(by_score, key=by_score.__getitem__) == "flag#0"
    # Each side as a share of its best, averaged; a chunk one side did not return gets that side's lowest share.
    assert by_score["flag#0"] == pytest.approx(0.5 * 0.67 / 0.70 + 0.5 * 1.0)
    assert by_score["near#0"] == pytest.approx(0.5 * 0.68 / 0.70 + 0.5 * 4.0 / 12.0)


def test_score_fusion_weights_the_sides() -> None:
    dense_only = _score_fusion([(DENSE, 1.0), (KEYWORD, 0.0)])
    assert max(dense_only, key=dense_only.__getitem__) == "topic#0"


def test_the_rank_order_is_led_by_the_best_chunk_of_the_article_score_fusion_puts_first() -> None:
    ranked = ["topic#0", "other#0", "flag#1", "near#0", "flag#0"]
    by_score = {"flag#0": 0.9, "topic#0": 0.8}  # the article's best-scored chunk is not its best-ranked one
    led = _led_by_score(ranked, by_score, article)
    assert led == ["flag#1", "topic#0", "other#0", "near#0", "flag#0"]


def test_the_order_is_unchanged_when_both_fusions_agree_or_there_is_nothing_to_lead() -> None:
    ranked = ["topic#0", "flag#0"]
    assert _led_by_score(ranked, {"topic#0": 0.9, "flag#0": 0.1}, article) == ranked
    assert _led_by_score([], {}, article) == []


def test_confidence_reads_the_chunks_both_retrievers_agree_on_not_the_promoted_lead() -> None:
    """Leading with another article changes what is read first, not how sure kbqa is that the KB answers."""
    weights = dict.fromkeys(question_terms("fargate profile pods pending"), 1.0)
    lead = chunk("lead#0", "lead", "S", "A fargate profile keeps pods pending.", 0.5)
    agreed = [chunk(f"c{i}#0", f"c{i}", "S", "Pods stay pending.", 0.5) for i in range(3)]
    for n, c in enumerate([*agreed, lead]):
        c.metadata["agreement_rank"] = n
    assert confidence_score([lead, *agreed], weights) == pytest.approx(confidence_score(agreed, weights))
    assert confidence_score([lead, *agreed], weights) < confidence_score([lead], weights)
