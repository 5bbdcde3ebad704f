"""Retrieval and abstention metrics, by article id so re-chunking does not change what counts as a hit."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence


def dedupe(ids: Sequence[str]) -> list[str]:
    """Article ids in first-seen order (a ranked chunk list becomes a ranked article list)."""
    return list(dict.fromkeys(ids))


def hit_at(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    return 1.0 if relevant & set(ranked[:k]) else 0.0


def recall_at(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def reciprocal_rank(ranked: Sequence[str], relevant: set[str]) -> float:
    return next((1.0 / i for i, a in enumerate(ranked, 1) if a in relevant), 0.0)


def ndcg_at(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    dcg = sum(1.0 / math.log2(i + 1) for i, a in enumerate(ranked[:k], 1) if a in relevant)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(relevant), k) + 1))
    return dcg / ideal if ideal else 0.0


def best_threshold(answerable: Sequence[float], unanswerable: Sequence[float]) -> tuple[float, float]:
    """The confidence cut that maximises balanced accuracy: (threshold, balanced accuracy).

    Answerable questions should score at or above it, unanswerable ones below. When several cuts tie,
    the middle of the tied range is taken, so the cut does not sit next to one example.
    """
    scores = sorted(set(answerable) | set(unanswerable))
    cuts = [0.0] + [(a + b) / 2 for a, b in itertools.pairwise(scores)] + [1.0]
    results = [(cut, _balanced_accuracy(answerable, unanswerable, cut)) for cut in cuts]
    best = max(bal for _, bal in results)
    runs: list[list[float]] = []
    for (cut, bal), (_, prev) in zip(results, [(0.0, -1.0), *results], strict=False):
        if bal == best:
            if prev == best:
                runs[-1].append(cut)
            else:
                runs.append([cut])
    widest = max(runs, key=lambda run: run[-1] - run[0])
    return (widest[0] + widest[-1]) / 2, best


def _balanced_accuracy(answerable: Sequence[float], unanswerable: Sequence[float], cut: float) -> float:
    tpr = sum(s >= cut for s in answerable) / max(len(answerable), 1)
    tnr = sum(s < cut for s in unanswerable) / max(len(unanswerable), 1)
    return (tpr + tnr) / 2


def roc_auc(answerable: Sequence[float], unanswerable: Sequence[float]) -> float:
    """Probability that a random answerable question scores above a random unanswerable one."""
    if not answerable or not unanswerable:
        return float("nan")
    wins = sum((a > u) + 0.5 * (a == u) for a in answerable for u in unanswerable)
    return wins / (len(answerable) * len(unanswerable))
