"""Retrieval and abstention metrics."""

from __future__ import annotations

import pytest

from rag.evaluation.metrics import best_threshold, dedupe, hit_at, ndcg_at, recall_at, reciprocal_rank, roc_auc


def test_ranking_metrics() -> None:
    """hit@k, recall@k, MRR and nDCG on a hand-checked ranking."""
    ranked = dedupe(["b", "b", "a", "c"])
    assert ranked == ["b", "a", "c"]
    assert hit_at(ranked, {"a"}, 1) == 0 and hit_at(ranked, {"a"}, 2) == 1
    assert recall_at(ranked, {"a", "z"}, 3) == 0.5
    assert reciprocal_rank(ranked, {"a"}) == 0.5 and reciprocal_rank(ranked, {"z"}) == 0
    assert ndcg_at(ranked, {"b"}, 3) == 1.0
    assert ndcg_at(ranked, {"a"}, 3) == pytest.approx(0.6309, abs=1e-4)


def test_threshold_separates_and_sits_between_examples() -> None:
    """The chosen cut lies midway between the classes and gives perfect balance when they separate."""
    cut, bal = best_threshold([0.7, 0.8, 0.9], [0.2, 0.3, 0.5])
    assert cut == pytest.approx(0.6) and bal == 1.0
    assert roc_auc([0.7, 0.8], [0.2, 0.75]) == 0.75
    cut, bal = best_threshold([0.6, 0.9], [0.1, 0.2])  # the cut lies between the classes
    assert 0.2 < cut < 0.6 and bal == 1.0
