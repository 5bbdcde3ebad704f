"""Extractive answering on fake chunks: sentence choice, citations, yes/no, abstention."""

from __future__ import annotations

from langchain_core.documents import Document

from rag.extractive import ExtractiveAnswerer


def chunk(chunk_id: str, article: str, section: str, body: str, dense: float) -> Document:
    meta = {
        "article_id": article,
        "title": f"KB: {article}",
        "section": section,
        "source_path": f"/kb/{article}.md",
        "source_url": "",
        "updated": "",
        "dense_score": dense,
        "score": 0.03,
        "keyword_score": 1.0,
    }
    return Document(id=chunk_id, page_content=f"KB: {article} — {section}\n{body}", metadata=meta)


KP = chunk(
    "kp#0",
    "kube-proxy",
    "Summary",
    "kube-proxy is not considered a CNI plugin in Kubernetes. It serves a different purpose.\n"
    "The weather is nice today and unrelated.",
    0.8,
)
CNI = chunk(
    "cni#0",
    "cni",
    "Role",
    "A CNI plugin assigns IP addresses to pods.\n"
    "To list the pods and their IP addresses, run:\n```bash\nkubectl get pods\n```",
    0.6,
)


def answerer(abstain: float = 0.3, low: float = 0.5) -> ExtractiveAnswerer:
    return ExtractiveAnswerer(lambda term: 1.0, abstain, low, max_sentences=4)


def test_yes_no_question_gets_no_when_the_cited_sentence_says_not() -> None:
    """'No.' comes first, the negating sentence is cited [1], and the unrelated sentence is left out."""
    answer = answerer().answer("Is kube-proxy a CNI plugin?", [KP, CNI])
    assert answer.verdict == "answered"
    assert answer.text.startswith("No. kube-proxy is not considered a CNI plugin")
    assert "[1]" in answer.text and "weather" not in answer.text
    assert answer.citations[0].article_id == "kube-proxy" and answer.citations[0].n == 1
    assert answer.citations[0].snippet.startswith("kube-proxy is not considered")


def test_no_yes_no_prefix_without_a_sentence_that_states_it() -> None:
    """A yes/no question whose terms no single sentence covers gets no Yes/No."""
    answer = answerer().answer("Is kube-proxy deprecated in Kubernetes 1.33 for eBPF dataplanes?", [KP, CNI])
    assert not answer.text.startswith(("Yes", "No"))


def test_every_sentence_is_cited_and_citations_resolve() -> None:
    """Each answer sentence carries a citation number that maps to a source."""
    answer = answerer().answer("what does a CNI plugin do for pod IP addresses", [CNI, KP])
    numbers = {c.n for c in answer.citations}
    assert answer.sentences and all(s.citation in numbers for s in answer.sentences)
    assert answer.citations[0].article_id == "cni"


def test_code_block_follows_the_sentence_that_introduces_it() -> None:
    """A command block is included after the line that introduces it, never on its own."""
    answer = answerer().answer("how do I list pods and their IP addresses", [CNI])
    kinds = [s.kind for s in answer.sentences]
    assert "code" in kinds and kinds[0] != "code"


def test_abstains_below_threshold_and_lists_nearest() -> None:
    """Weak evidence gives the abstention text and the nearest articles, no citations."""
    weak = chunk("x#0", "dns", "Summary", "CoreDNS forwards queries to the Azure DNS server.", 0.1)
    answer = answerer(abstain=0.5, low=0.6).answer("How do I configure Okta SAML?", [weak])
    assert answer.verdict == "abstained"
    assert "The KB has no article that answers this question" in answer.text
    assert [a.article_id for a in answer.nearest] == ["dns"] and not answer.citations


def test_low_confidence_band() -> None:
    """Between the two thresholds the answer is given but marked low confidence."""
    answer = answerer(abstain=0.1, low=0.99).answer("Is kube-proxy a CNI plugin?", [KP])
    assert answer.verdict == "low_confidence" and answer.notice


def test_no_chunks_abstains() -> None:
    """An empty index result abstains rather than failing."""
    answer = answerer().answer("anything", [])
    assert answer.abstained and answer.confidence == 0.0
