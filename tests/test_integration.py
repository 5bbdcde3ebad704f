"""End to end on the real embedding model and a real persistent Chroma in a temp dir."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag import Pipeline, load_settings
from rag.errors import IndexNotFoundError, QuestionError

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_kube_proxy_question_answers_not_with_citation(kb: Pipeline) -> None:
    """The product's example question: answered 'No', saying it is not a CNI plugin, citing the seed article."""
    answer = kb.ask("Is kube-proxy a CNI plugin?")
    assert answer.verdict == "answered"
    assert answer.text.startswith("No.")
    assert "not" in answer.sentences[0].text
    first = answer.citations[answer.sentences[0].citation - 1]
    assert first.article_id == "kube-proxy-vs-cni-plugin"
    assert first.title == "KB: Kube-proxy vs CNI Plugin"
    assert first.source_path.endswith("corpus/kube-proxy-vs-cni-plugin.md")
    assert "[1]" in answer.text


@pytest.mark.parametrize(
    "question",
    [
        "How do I reset the admin password on a Cisco ASA firewall?",
        "what's the weather in Paris tomorrow",
        "Jamf Pro macOS enrollment fails with MDM profile installation failed",
    ],
)
def test_out_of_kb_questions_abstain(kb: Pipeline, question: str) -> None:
    """Questions the KB does not cover get the plain abstention with nearest articles, no citations."""
    answer = kb.ask(question)
    assert answer.verdict == "abstained", (answer.confidence, answer.text)
    assert answer.text.startswith("The KB has no article that answers this question.")
    assert answer.nearest and not answer.citations


@pytest.mark.parametrize(
    ("pasted", "article"),
    [
        (
            "AADSTS70021: No matching federated identity record found for presented assertion.",
            "aks-workload-identity-troubleshooting",
        ),
        ("Failed to pull image: 401 Unauthorized", "aks-acr-imagepullbackoff-401"),
        ("0x80180014", "intune-enrollment-errors"),
        (
            "The User Profile Service failed the sign-in. User profile cannot be loaded.",
            "windows-temporary-profile-user-profile-service",
        ),
    ],
)
def test_pasted_error_strings_find_their_article(kb: Pipeline, pasted: str, article: str) -> None:
    """Exact strings pasted from logs retrieve the article that quotes them first."""
    hits = kb.search(pasted, k=5)
    assert hits[0].article_id == article
    assert hits[0].matched_terms


def test_tag_filter_restricts_results(kb: Pipeline) -> None:
    """--tag keeps only articles with that tag, on both the dense and the keyword side."""
    hits = kb.search("profile fails to load at sign-in", k=10, tags=["fslogix"])
    assert hits and all("fslogix" in h.tags for h in hits)


def test_keyword_and_vector_index_hold_the_same_chunks(kb: Pipeline) -> None:
    """The BM25 index is built from exactly the chunk ids in Chroma."""
    chroma_ids = set(kb.index.collection.get(include=[])["ids"])
    assert chroma_ids == set(kb.index.keyword().ids)
    assert len(chroma_ids) == len(kb.index.keyword().ids)


def test_bad_questions_raise_clear_errors(kb: Pipeline) -> None:
    """Empty, punctuation-only and oversized questions are refused with what to do."""
    with pytest.raises(QuestionError, match="empty"):
        kb.ask("  \n\t ")
    with pytest.raises(QuestionError, match="no words"):
        kb.ask("?!? ...")
    with pytest.raises(QuestionError, match="limit"):
        kb.ask("word " * 5000)
    assert kb.ask("Is kube-proxy\x00 a CNI plugin?\x07").text.startswith("No.")


def test_incremental_reingest(tmp_path: Path, corpus_copy: Path) -> None:
    """Unchanged corpus embeds nothing; a changed article is replaced; a deleted one is removed."""
    pipeline = Pipeline(load_settings(index_dir=tmp_path / "idx", corpus_dir=corpus_copy))
    first = pipeline.ingest()
    assert first.ok and first.chunks_embedded == first.chunks_total > 0

    again = pipeline.ingest()
    assert again.chunks_embedded == 0 and again.chunks_deleted == 0
    assert again.unchanged == first.articles

    rmm = corpus_copy / "rmm-vs-dex.md"
    rmm.write_text(rmm.read_text(encoding="utf-8") + "\n## Licensing\n\nZorblax licensing is per seat.\n")
    (corpus_copy / "intune-enrollment-errors.md").unlink()
    changed = pipeline.ingest()
    assert changed.updated == ["rmm-vs-dex"] and changed.removed == ["intune-enrollment-errors"]
    rmm_chunks = sum(1 for a in pipeline.index.articles() if a["article_id"] == "rmm-vs-dex")
    assert rmm_chunks == 1
    assert changed.chunks_embedded == next(
        a["chunks"] for a in pipeline.index.articles() if a["article_id"] == "rmm-vs-dex"
    )

    ids = set(pipeline.index.collection.get(include=[])["ids"])
    assert not any(i.startswith("intune-enrollment-errors#") for i in ids)
    assert ids == set(pipeline.index.keyword().ids)
    assert pipeline.search("Zorblax licensing")[0].article_id == "rmm-vs-dex"

    reopened = Pipeline(load_settings(index_dir=tmp_path / "idx", corpus_dir=corpus_copy))
    assert reopened.ask("Is kube-proxy a CNI plugin?").text.startswith("No.")
    assert len(reopened.index.articles()) == first.articles - 1


def test_broken_file_is_skipped_and_keeps_its_previous_version(tmp_path: Path, corpus_copy: Path) -> None:
    """A file that breaks is reported with path and reason; the rest is indexed; its old chunks stay."""
    pipeline = Pipeline(load_settings(index_dir=tmp_path / "idx", corpus_dir=corpus_copy))
    assert pipeline.ingest().ok
    (corpus_copy / "rmm-vs-dex.md").write_text("---\ntitle: [broken\n---\nbody\n", encoding="utf-8")
    (corpus_copy / "garbage.md").write_bytes(b"\x00\x01\x02binary")
    (corpus_copy / "new-article.md").write_text("---\nid: new-article\ntitle: New\n---\nQuixotic flag text.\n")
    report = pipeline.ingest()
    assert not report.ok
    reasons = {Path(f.path).name: f.reason for f in report.failures}
    assert "malformed YAML" in reasons["rmm-vs-dex.md"] and "binary" in reasons["garbage.md"]
    assert report.added == ["new-article"]
    assert "rmm-vs-dex" in {a["article_id"] for a in pipeline.index.articles()}
    assert pipeline.search("Quixotic flag")[0].article_id == "new-article"


def test_seed_blog_export_ingests_without_footer(tmp_path: Path) -> None:
    """The raw blog export (.txt, footer included) indexes as the article only and answers the question."""
    kb_dir = tmp_path / "kb"
    kb_dir.mkdir()
    shutil.copy(FIXTURES / "seed-blog-export.txt", kb_dir / "kube-proxy-vs-cni-plugin.txt")
    shutil.copy(FIXTURES / "blog-export.html", kb_dir / "calico-felix.html")
    pipeline = Pipeline(load_settings(index_dir=tmp_path / "idx", corpus_dir=kb_dir))
    assert pipeline.ingest().ok
    texts = pipeline.index.collection.get(include=["documents"])["documents"]
    joined = "\n".join(texts)
    for chrome in ("Popular posts", "Comments", "Electron Process Execution Failure", "Share to X", "Anonymous said"):
        assert chrome not in joined
    sections = {a["title"] for a in pipeline.index.articles()}
    assert sections == {"KB: Kube-proxy vs CNI Plugin", "KB: Calico felix readiness probe fails"}
    answer = pipeline.ask("Is kube-proxy a CNI plugin?")
    assert answer.text.startswith("No.") and answer.citations[0].article_id == "kube-proxy-vs-cni-plugin"


def test_no_index_yet(tmp_path: Path) -> None:
    """Asking before any ingest says to run `kbqa ingest`."""
    pipeline = Pipeline(load_settings(index_dir=tmp_path / "none"))
    with pytest.raises(IndexNotFoundError, match="kbqa ingest"):
        pipeline.ask("Is kube-proxy a CNI plugin?")


def test_lost_keyword_index_is_rebuilt_from_chroma(tmp_path: Path, corpus_copy: Path) -> None:
    """A deleted or stale keyword index is detected by fingerprint and rebuilt from Chroma's chunks."""
    settings = load_settings(index_dir=tmp_path / "idx", corpus_dir=corpus_copy)
    assert Pipeline(settings).ingest().ok
    shutil.rmtree(settings.keyword_dir)
    reopened = Pipeline(settings)
    assert reopened.search("AADSTS70021")[0].article_id == "aks-workload-identity-troubleshooting"
    assert set(reopened.index.keyword().ids) == set(reopened.index.collection.get(include=[])["ids"])
    shutil.rmtree(settings.keyword_dir)
    report = Pipeline(settings).ingest()
    assert report.chunks_embedded == 0 and settings.keyword_dir.is_dir()


def test_long_pasted_log_finds_the_article(kb: Pipeline) -> None:
    """A ~10 KB log excerpt with the real error buried in noise still finds the article that quotes it."""
    noise = "\n".join(
        f"2025-03-0{i % 9 + 1}T10:{i % 60:02d}:00Z INFO request id={i:08x} path=/healthz status=200 duration=3ms"
        for i in range(64)
    )
    error = "ERROR azure.identity: AADSTS70021: No matching federated identity record found for presented assertion."
    log = f"{noise}\n{error}\n{noise}"
    assert len(log) > 10_000
    assert kb.search(log, k=5)[0].article_id == "aks-workload-identity-troubleshooting"


def test_duplicate_article_id_is_reported_and_the_first_file_kept(tmp_path: Path, corpus_copy: Path) -> None:
    """Two files claiming one id: the second is skipped with both paths named; nothing else is lost."""
    (corpus_copy / "zz-copy.md").write_text("---\nid: rmm-vs-dex\ntitle: Impostor\n---\nOther text.\n")
    pipeline = Pipeline(load_settings(index_dir=tmp_path / "idx", corpus_dir=corpus_copy))
    report = pipeline.ingest()
    reasons = {Path(f.path).name: f.reason for f in report.failures}
    assert "duplicate article id 'rmm-vs-dex'" in reasons["zz-copy.md"] and "rmm-vs-dex.md" in reasons["zz-copy.md"]
    assert report.articles == 22
    titles = {a["article_id"]: a["title"] for a in pipeline.index.articles()}
    assert titles["rmm-vs-dex"] != "Impostor"


def test_a_5_mb_article_is_indexed(tmp_path: Path) -> None:
    """A 5 MB article goes through (chunk_size at its maximum keeps the test short: ~650 chunks)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    paragraph = "Routine notes about cluster upkeep, node pools and patch windows for the support team. " * 6
    sections = [f"## Section {i}\n\n" + "\n\n".join([paragraph] * 95) for i in range(100)]
    text = "---\nid: big\ntitle: Big article\n---\n" + "\n\n".join(sections) + "\n\nError XQZ-4242 is the needle.\n"
    (corpus / "big.md").write_text(text, encoding="utf-8")
    assert 4_500_000 < (corpus / "big.md").stat().st_size <= 5_000_000
    pipeline = Pipeline(load_settings(index_dir=tmp_path / "idx", corpus_dir=corpus, chunk_size=8000))
    report = pipeline.ingest()
    assert report.ok and report.articles == 1 and report.chunks_total > 500
    assert pipeline.search("XQZ-4242")[0].article_id == "big"


@pytest.mark.parametrize(
    "question", ["kube-proxy ist ein CNI-Plugin?", "kube-proxy は CNI プラグインですか？", "¿Qué es kube-proxy?"]
)
def test_non_english_questions_get_an_answer_or_a_plain_abstention(kb: Pipeline, question: str) -> None:
    """No crash and no invented support: either cited answer or the abstention with nearest articles."""
    answer = kb.ask(question)
    assert answer.verdict in ("answered", "low_confidence", "abstained")
    if answer.verdict == "abstained":
        assert answer.text.startswith("The KB has no article") and not answer.citations
    else:
        assert answer.citations and answer.citations[0].article_id == "kube-proxy-vs-cni-plugin"


def test_empty_corpus_and_removing_the_last_article(tmp_path: Path) -> None:
    """`kbqa ingest emptydir` indexes nothing without a crash, and the last article can be removed (bm25s cannot
    index zero documents; issue 20)."""
    corpus = tmp_path / "kb"
    corpus.mkdir()
    pipeline = Pipeline(load_settings(index_dir=tmp_path / "idx", corpus_dir=corpus, query_log=False))
    assert pipeline.ingest().articles == 0
    (corpus / "one.md").write_text("# One\n\nkube-proxy maintains network rules on nodes.\n", encoding="utf-8")
    assert pipeline.ingest().articles == 1 and pipeline.search("kube-proxy network rules")[0].article_id == "one"
    (corpus / "one.md").unlink()
    report = pipeline.ingest()
    assert report.removed == ["one"] and report.chunks_total == 0
    assert pipeline.search("kube-proxy network rules") == [] and pipeline.ask("what does kube-proxy do?").abstained
