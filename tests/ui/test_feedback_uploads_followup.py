"""Feedback store and export, upload validation, follow-up questions."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from rag.errors import FeedbackError, UploadError
from rag.ingest.uploads import safe_file_name, save_upload
from rag.records.feedback import FeedbackStore, to_eval_item
from rag.text.followup import standalone_question
from rag.types import Answer, Citation


def answer() -> Answer:
    cite = Citation(
        1, "kp#0000-abc", "kube-proxy-vs-cni-plugin", "KB: Kube-proxy", "Summary", "/c/kp.md", "", "", 0.1, 0.8, ""
    )
    return Answer("Is kube-proxy a CNI plugin?", "No. It is not. [1]", "answered", 0.9, citations=[cite])


def test_feedback_is_durable_and_exports_as_eval_items(tmp_path: Path) -> None:
    """A vote is in the SQLite file (WAL) as soon as it is recorded; export gives eval-set lines."""
    db = tmp_path / "fb.sqlite3"
    store = FeedbackStore(db)
    down = store.record(answer(), "down", "wrong answer", "cites the wrong section", {"top_k": 5})
    store.record(answer(), "up")
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        row = raw.execute(
            "SELECT rating, reason, question, cited_chunk_ids FROM feedback WHERE id=?", (down,)
        ).fetchone()
    assert row == ("down", "wrong answer", "Is kube-proxy a CNI plugin?", '["kp#0000-abc"]')
    items = [to_eval_item(r) for r in FeedbackStore(db).rows("down")]
    assert len(items) == 1
    item = items[0]
    assert {"id", "question", "reference_answer", "source_ids", "must_include", "answerable", "type", "tags"} <= set(
        item
    )
    assert item["source_ids"] == [] and "fill in" in item["review"] and "wrong answer" in item["tags"]
    up = to_eval_item(FeedbackStore(db).rows("up")[0])
    assert up["source_ids"] == ["kube-proxy-vs-cni-plugin"] and up["reference_answer"].startswith("No.")
    json.dumps(items)


def test_feedback_rejects_unknown_reason(tmp_path: Path) -> None:
    """Reasons come from the fixed list."""
    with pytest.raises(FeedbackError, match="Unknown reason"):
        FeedbackStore(tmp_path / "fb.sqlite3").record(answer(), "down", "because")


@pytest.mark.parametrize(
    ("name", "expected"),
    [("../../etc/passwd.md", "passwd.md"), ("C:\\kb\\note.md", "note.md"), ("my article (v2).md", "my-article-v2-.md")],
)
def test_safe_file_names(name: str, expected: str) -> None:
    """Directory parts and odd characters are removed, so an upload cannot escape the corpus."""
    assert safe_file_name(name) == expected


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("..", b"x", "not usable"),
        (".hidden", b"x", "not usable"),
        ("tool.exe", b"MZ\x00", "not accepted"),
        ("big.md", b"x" * 200, "limit"),
        ("binary.md", b"\x00\x01\x02", "binary"),
        ("broken.md", b"---\ntitle: [x\n---\nbody", "malformed YAML"),
    ],
)
def test_uploads_are_validated(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    """Wrong type, oversize, binary or broken content is refused with the reason; nothing is written."""
    corpus = tmp_path / "corpus"
    with pytest.raises(UploadError, match=reason):
        save_upload(name, data, corpus, max_bytes=100)
    assert not any(corpus.iterdir()) if corpus.exists() else True


def test_upload_saves_and_refuses_taken_ids(tmp_path: Path) -> None:
    """A good upload lands in the corpus; one reusing another file's article id is refused."""
    corpus = tmp_path / "corpus"
    saved = save_upload("../new-note.md", b"# New note\n\nText about the frobnicator.\n", corpus, 10_000)
    assert saved == corpus / "new-note.md" and saved.read_text().startswith("# New note")
    with pytest.raises(UploadError, match="already used"):
        save_upload(
            "other.md",
            b"---\nid: kube-proxy-vs-cni-plugin\n---\nText\n",
            corpus,
            10_000,
            {"kube-proxy-vs-cni-plugin": "/corpus/kube-proxy-vs-cni-plugin.md"},
        )
    assert sorted(p.name for p in corpus.iterdir()) == ["new-note.md"]


def test_upload_never_replaces_another_article_or_adds_a_readme(tmp_path: Path) -> None:
    """An upload named like an existing file but with another id would drop that article; a README is never
    indexed by a full ingest, so it is not accepted either (issue 20)."""
    corpus = tmp_path / "corpus"
    saved = save_upload("note.md", b"# Note\n\nOriginal text.\n", corpus, 10_000)
    taken = {"note": str(saved)}
    with pytest.raises(UploadError, match="holds article 'note'"):
        save_upload("note.md", b"---\nid: something-else\n---\nOther text.\n", corpus, 10_000, taken)
    assert saved.read_text() == "# Note\n\nOriginal text.\n"
    assert save_upload("note.md", b"# Note\n\nNew text.\n", corpus, 10_000, taken) == saved  # same id: replaced
    with pytest.raises(UploadError, match="never indexed"):
        save_upload("README.md", b"# Readme\n\nAbout the corpus.\n", corpus, 10_000)
    assert sorted(p.name for p in corpus.iterdir()) == ["note.md"]


@pytest.mark.integration
def test_upload_refused_while_another_ingest_runs_changes_nothing(tmp_path: Path) -> None:
    """An upload during a `kbqa ingest --rebuild` said "refused" but left the file in the corpus (issue 20)."""
    from filelock import FileLock

    from rag import KbService, load_settings
    from rag.errors import IndexBusyError

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "kept.md").write_text("# Kept\n\nThe original.\n", encoding="utf-8")
    service = KbService(load_settings(index_dir=tmp_path / "idx", corpus_dir=corpus, query_log=False))
    service.ingest()
    with FileLock(tmp_path / "idx" / "ingest.lock"):  # what a running `kbqa ingest` holds
        for name, body in (("fresh.md", b"# Fresh\n\nNew.\n"), ("kept.md", b"# Kept\n\nChanged.\n")):
            with pytest.raises(IndexBusyError):
                service.upload(name, body)
    assert sorted(p.name for p in corpus.iterdir()) == ["kept.md"]
    assert (corpus / "kept.md").read_text() == "# Kept\n\nThe original.\n"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("and in AKS?", "Is kube-proxy a CNI plugin? and in AKS?"),
        ("how do I check it?", "Is kube-proxy a CNI plugin? how do I check it?"),
        ("What is the default NodePort range in Kubernetes?", "What is the default NodePort range in Kubernetes?"),
    ],
)
def test_follow_ups_lean_on_the_previous_question(question: str, expected: str) -> None:
    """Short or referring follow-ups are searched with the previous question; standalone ones alone."""
    assert standalone_question(question, ["Is kube-proxy a CNI plugin?"]) == expected
    assert standalone_question(question, []) == question


def test_condense_keeps_errors_and_drops_repeated_noise() -> None:
    """A long log becomes its distinct lines, error-like ones first, within the limit; short text is untouched."""
    from rag.text.condense import condense

    noise = "\n".join(f"2025-01-01T00:00:{i:02d}Z INFO GET /healthz 200 {i}ms" for i in range(60))
    log = f"{noise}\nERROR pull failed: 401 Unauthorized from myacr.azurecr.io\n{noise}"
    out = condense(log, limit=300)
    assert out.splitlines()[0] == "ERROR pull failed: 401 Unauthorized from myacr.azurecr.io"
    assert len(out) <= 300 and out.count("/healthz") == 1
    assert condense("Is kube-proxy a CNI plugin?") == "Is kube-proxy a CNI plugin?"
