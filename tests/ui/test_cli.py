"""The `kbqa` command as a user runs it: real subprocesses, real model, real Chroma."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
KBQA = [sys.executable, "-m", "rag.cli"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KBQA, *args], capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})}
    )


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corpus copy with one broken file, ingested once through the CLI; returns the index folder."""
    root = tmp_path_factory.mktemp("cli")
    corpus = root / "corpus"
    shutil.copytree(Path(__file__).resolve().parents[2] / "corpus", corpus)
    (corpus / "broken.md").write_text("---\ntitle: [oops\n---\ntext\n", encoding="utf-8")
    result = run("--index-dir", str(root / "idx"), "ingest", str(corpus))
    assert result.returncode == 1, result.stderr
    assert "broken.md" in result.stderr and "malformed YAML" in result.stderr
    assert "Indexed 22 articles" in result.stdout
    return root / "idx"


def test_ask_json_schema(indexed: Path) -> None:
    """`kbqa ask --json` prints the documented schema, with citations resolving [n]."""
    result = run("--index-dir", str(indexed), "ask", "Is kube-proxy a CNI plugin?", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["schema_version"] == 1
    assert set(data) >= {"question", "text", "verdict", "confidence", "sentences", "citations", "nearest", "timings"}
    assert data["verdict"] == "answered" and data["text"].startswith("No.")
    cite = data["citations"][0]
    assert set(cite) >= {"n", "chunk_id", "article_id", "title", "section", "source_path", "score", "snippet"}
    assert cite["article_id"] == "kube-proxy-vs-cni-plugin"


def test_ask_human_output_and_tag(indexed: Path) -> None:
    """Human output shows the verdict, the answer and a Sources list mapping [n] to article and section."""
    result = run("--index-dir", str(indexed), "ask", "Is kube-proxy a CNI plugin?", "--tag", "kubernetes")
    assert result.returncode == 0, result.stderr
    assert "answered" in result.stdout and "Sources" in result.stdout
    assert "[1] KB: Kube-proxy vs CNI Plugin" in result.stdout


def test_abstention_in_cli(indexed: Path) -> None:
    """An out-of-KB question says so and lists nearest articles."""
    result = run("--index-dir", str(indexed), "ask", "How do I reset the admin password on a Cisco ASA firewall?")
    assert result.returncode == 0
    assert "not in the KB" in result.stdout and "Nearest articles" in result.stdout


def test_search_and_stats(indexed: Path) -> None:
    """search lists articles with matched terms; stats counts what is indexed."""
    result = run("--index-dir", str(indexed), "search", "AADSTS70021", "--json")
    shown = json.loads(result.stdout)
    assert shown["schema_version"] == 1
    hits = shown["hits"]
    assert hits[0]["article_id"] == "aks-workload-identity-troubleshooting"
    assert "AADSTS70021" in hits[0]["matched_terms"]
    stats = json.loads(run("--index-dir", str(indexed), "stats", "--json").stdout)
    assert stats["articles"] == 22 and stats["chunks"] == stats["keyword_chunks"] > 22


def test_errors_are_messages_with_exit_codes(tmp_path: Path, indexed: Path) -> None:
    """No index → exit 3 and 'kbqa ingest'; unknown setting → exit 2 naming it; empty question, missing corpus
    path → exit 2; which hosts count as loopback for the serve warning."""
    missing = run("--index-dir", str(tmp_path / "nothing"), "ask", "hello")
    assert missing.returncode == 3 and "kbqa ingest" in missing.stderr and "Traceback" not in missing.stderr
    unknown = run("stats", env={"KBQA_TOPK": "3"})
    assert unknown.returncode == 2 and "KBQA_TOPK" in unknown.stderr and "KBQA_TOP_K" in unknown.stderr
    empty = run("--index-dir", str(indexed), "ask", "   ")
    assert empty.returncode == 2 and "empty" in empty.stderr
    nowhere = run("--index-dir", str(tmp_path / "idx"), "ingest", str(tmp_path / "no-such-folder"))
    assert nowhere.returncode == 2 and "no such file or folder" in nowhere.stderr
    from ui.cli import _loopback  # `kbqa serve` warns when it listens beyond loopback without a login

    assert _loopback("127.0.0.1") and _loopback("::1") and _loopback("localhost")
    assert not _loopback("0.0.0.0") and not _loopback("10.1.2.3") and not _loopback("kb.example.com")


def test_help_lists_commands() -> None:
    """--help documents every command."""
    result = run("--help")
    assert result.returncode == 0
    for command in ("ingest", "ask", "search", "stats"):
        assert command in result.stdout


def test_feedback_export_cli(tmp_path: Path) -> None:
    """`kbqa feedback export` writes eval-set JSONL of the stored downvotes."""
    from rag.records.feedback import FeedbackStore
    from rag.types import Answer

    store = FeedbackStore(tmp_path / "idx" / "feedback.sqlite3")
    store.record(Answer("why is dns slow", "Because. [1]", "answered", 0.7), "down", "incomplete")
    store.record(Answer("is kube-proxy a cni plugin", "No. [1]", "answered", 0.9), "up")
    out = tmp_path / "fb.jsonl"
    result = run("--index-dir", str(tmp_path / "idx"), "feedback", "export", "-o", str(out))
    assert result.returncode == 0, result.stderr
    items = [json.loads(line) for line in out.read_text().splitlines()]
    assert [i["question"] for i in items] == ["why is dns slow"] and items[0]["tags"][-1] == "incomplete"


def test_eval_command_and_gate(indexed: Path, tmp_path: Path) -> None:
    """`kbqa eval` writes a run folder; a gate above the measured value exits 1; an unknown metric exits 2."""
    evalset = Path(__file__).resolve().parents[2] / "eval" / "kb_eval.jsonl"
    ok = run("--index-dir", str(indexed), "eval", str(evalset), "--out", str(tmp_path / "r"), "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["questions"] == 86 and (tmp_path / "r" / "summary.json").is_file()
    gated = run(
        "--index-dir", str(indexed), "eval", str(evalset), "--out", str(tmp_path / "g"), "--fail-under", "hit@1=1.01"
    )
    assert gated.returncode == 1 and "hit@1" in gated.stderr
    unknown = run("--index-dir", str(indexed), "eval", str(evalset), "--fail-under", "nope=1")
    assert unknown.returncode == 2 and "Unknown metric" in unknown.stderr


def test_help_version_and_the_command_table_load_no_heavy_library() -> None:
    """`kbqa --help`, `--version` and argument errors answer without importing Chroma, LangChain, ONNX Runtime
    or the models, nor pydantic-settings (issue 17: they cost ~1 s on two cores; the timing is in the benchmark)."""
    probe = (
        "import sys; from typer.testing import CliRunner; from ui.cli import app; r = CliRunner();"
        "assert r.invoke(app, ['--help']).exit_code == 0; v = r.invoke(app, ['--version']);"
        "assert v.exit_code == 0 and v.stdout.startswith('kbqa '), v.stdout;"
        "assert r.invoke(app, ['no-such-command']).exit_code == 2;"
        "heavy = ('chromadb', 'langchain_core', 'onnxruntime', 'torch', 'gradio', 'pydantic_settings');"
        "heavy = sorted(m for m in heavy if m in sys.modules);"
        "assert heavy == [], heavy"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_first_ingest_is_quiet_and_counts_read_right(tmp_path: Path) -> None:
    """A first ingest on a fresh machine (the ONNX model exported and quantized into an empty cache) prints the
    report and nothing else: no third-party warnings, debug lines or progress bars (issue 17), and "1 article"."""
    corpus = tmp_path / "kb"
    corpus.mkdir()
    (corpus / "kube-proxy-vs-cni-plugin.md").write_text(
        (Path(__file__).resolve().parents[2] / "corpus" / "kube-proxy-vs-cni-plugin.md").read_text("utf-8"),
        encoding="utf-8",
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "KBQA_MODEL_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run(
        [sys.executable, "-m", "rag.cli", "--index-dir", str(tmp_path / "index"), "ingest", str(corpus)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Indexed 1 article from 1 file in "), result.stdout
    assert result.stderr == "", result.stderr
    assert "WARNING" not in result.stdout and "DEBUG" not in result.stdout and "%|" not in result.stdout
    assert (tmp_path / "cache").is_dir()  # the export really ran in this test


def test_verbose_shows_log_lines_in_kbqa_format_and_normal_use_does_not(indexed: Path) -> None:
    """-v: kbqa's info lines on stderr in its own format; -vv: libraries' debug lines too; default: neither."""
    quiet = run("--index-dir", str(indexed), "search", "kube-proxy")
    verbose = run("-v", "--index-dir", str(indexed), "search", "kube-proxy")
    debug = run("-vv", "--index-dir", str(indexed), "search", "kube-proxy")
    assert quiet.returncode == verbose.returncode == debug.returncode == 0
    assert quiet.stdout == verbose.stdout and quiet.stderr == ""
    assert "kbqa: INFO rag.index.store: Reading index generation" in verbose.stderr
    assert "kbqa: INFO rag.index.embeddings: Embedding model" in verbose.stderr
    assert "DEBUG" not in verbose.stderr and "kbqa: DEBUG chromadb" in debug.stderr
