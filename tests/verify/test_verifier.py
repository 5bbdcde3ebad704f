"""The answer verifier (issue 19): pairs made from the KB, training, and where a contradiction is reported."""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rag.verify.claims import CONTRADICTED, LABELS, contradict, make_pairs, support

ROOT = Path(__file__).resolve().parents[2]
ARTICLE = "kube-proxy-vs-cni-plugin"


def test_contradicting_rewrites_change_what_the_sentence_says() -> None:
    rng = random.Random(0)
    negated = contradict("kube-proxy is not considered a CNI plugin.", rng)
    assert negated == ("kube-proxy is considered a CNI plugin.", "negation")
    number = contradict("You can specify up to 200 authorized IP ranges.", random.Random(3), ())
    assert number is not None and number[0] != "You can specify up to 200 authorized IP ranges."
    assert contradict("Hello there friend of mine.", rng) is None
    claim, kind = support("In AKS, kube-proxy runs as a DaemonSet.", random.Random(1))
    assert kind in ("copy", "reword", "drop_words", "drop_parenthesis", "main_clause") and "DaemonSet" in claim


def test_the_shipped_written_pairs_are_whole_and_balanced() -> None:
    """The hand-written pairs the default recipe adds: every label, as many supported claims as contradicted
    ones of each passage, and no claim that merely copies its passage."""
    from collections import Counter

    from rag.verify.training import written_pairs

    pairs = written_pairs()
    counts = Counter(p.label for p in pairs)
    assert len(pairs) >= 1800 and set(counts) == set(LABELS)
    assert counts["supported"] == counts[CONTRADICTED]
    assert not [p for p in pairs if p.claim.strip() == p.passage.strip()]
    assert len({p.kind for p in pairs if p.label == CONTRADICTED}) == 6


def test_pairs_are_reproducible_and_cover_the_three_labels() -> None:
    articles = {
        "a": ["kube-proxy is not a CNI plugin in AKS.", "It runs as a DaemonSet on every node.", "Use port 443."],
        "b": ["Azure CNI assigns VNet IPs to pods directly.", "Kubenet uses a route table with 400 routes."],
    }
    first, again = make_pairs(articles, seed=5), make_pairs(articles, seed=5)
    assert first == again
    assert {p.label for p in first} == set(LABELS)
    assert all(p.claim != p.passage for p in first if p.label == CONTRADICTED)
    assert all(p.article_id in articles for p in first)


@pytest.mark.integration
def test_eval_answers_says_contradicted_by_with_the_article_sentence(kb: Any, tmp_path: Path) -> None:
    """`kbqa eval answers`: a sentence the KB contradicts is judged "contradicted", with the article's sentence as
    the evidence, counted apart from sentences the KB does not support; the report says "contradicted by"."""
    answers = tmp_path / "answers.csv"
    with answers.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "question", "answer"])
        # The example: "indeed" (emphasis, not content) once kept it from meeting the source sentence.
        writer.writerow(["a1", "Is kube-proxy a CNI plugin?", "Kube-proxy is indeed a CNI plugin."])
        writer.writerow(["a2", "What does kube-proxy do?", "kube-proxy listens on port 9999 on every node."])
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "rag.cli", "--index-dir", str(kb.settings.index_dir), "eval", "answers"]
    result = subprocess.run(
        [*command, str(answers), "--out", str(tmp_path / "run"), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    rows = {r["id"]: r for r in map(json.loads, (tmp_path / "run" / "results.jsonl").read_text().splitlines())}
    (judged,) = rows["a1"]["sentences"]
    assert judged["judgement"] == "contradicted" and judged["article_id"] == ARTICLE
    assert "not considered a CNI plugin" in judged["evidence"] and rows["a1"]["contradicted"]
    assert rows["a2"]["sentences"][0]["judgement"] == "not in the KB" and not rows["a2"]["contradicted"]
    assert json.loads(result.stdout)["contradicted_sentences"] == 1
    assert "contradicted by" in (tmp_path / "run" / "report.html").read_text()


@pytest.mark.integration
def test_kbqa_verifier_train_makes_a_model_kbqa_can_load(tmp_path: Path) -> None:
    """The training command end to end on one article (a few pairs): pairs, recipe and an ONNX model that loads."""
    corpus = tmp_path / "kb"
    corpus.mkdir()
    (corpus / f"{ARTICLE}.md").write_text((ROOT / "corpus" / f"{ARTICLE}.md").read_text(), encoding="utf-8")
    (corpus / "azure-cni-vs-kubenet.md").write_text(
        (ROOT / "corpus" / "azure-cni-vs-kubenet.md").read_text(), encoding="utf-8"
    )
    out = tmp_path / "model"
    command = [sys.executable, "-m", "rag.cli", "verifier", "train", "--corpus", str(corpus), "--out", str(out)]
    result = subprocess.run(
        [*command, "--sentences-per-article", "4", "--epochs", "1", "--no-written"],  # small: the recipe is tested
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    recipe = json.loads((out / "recipe.json").read_text())
    assert recipe["pairs"] == len((out / "pairs.jsonl").read_text().splitlines()) > 10
    from rag.verify.verifier import load_verifier

    judged = load_verifier(out).judge("kube-proxy is a CNI plugin.", ["kube-proxy is not a CNI plugin."])
    assert judged.label in LABELS and 0 <= judged.contradicted <= 1
    from rag import Pipeline, load_settings  # and the answer check takes it when asked to

    settings = load_settings(index_dir=tmp_path / "idx", corpus_dir=corpus, verifier=True, verifier_model=out)
    assert Pipeline(settings).grounding.verifier is not None
