"""Test helpers: a real `kbqa serve` in a subprocess (browser, live re-index, load tests) and corpus edits."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from rag.index.chroma_server import free_port

STARTUP_TIMEOUT_S = 180


@dataclass
class Server:
    base_url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def server_env(**extra: str) -> dict[str, str]:
    """The test's environment without user KBQA_* settings, offline, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KBQA_")}
    env.update(
        HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False", GRADIO_ANALYTICS_ENABLED="False"
    )
    env.update(extra)
    return env


def kbqa_command(index_dir: Path, corpus: Path) -> list[str]:
    return [sys.executable, "-m", "rag.cli", "--index-dir", str(index_dir), "--corpus-dir", str(corpus)]


def kbqa_ingest(work: Path, corpus: Path, index_dir: Path) -> subprocess.CompletedProcess[str]:
    """`kbqa ingest` in its own process, as a cron job or a second terminal would run it."""
    return subprocess.run(
        [*kbqa_command(index_dir, corpus), "ingest"],
        cwd=work,
        env=server_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )


@contextmanager
def kbqa_serve(work: Path, corpus: Path, index_dir: Path, **env: str) -> Iterator[Server]:
    """`kbqa serve` on a free port, healthy (index built) before it is yielded; stopped on exit."""
    port = free_port()
    log = work / f"server-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*kbqa_command(index_dir, corpus), "serve", "--port", str(port)],
            cwd=work,
            env=server_env(**env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_healthy(server, env.get("KBQA_AUTH"))
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_healthy(server: Server, auth: str | None) -> None:
    request = urllib.request.Request(server.base_url + "/api/health")
    if auth:  # KBQA_AUTH is on: health needs the login too
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"kbqa serve exited with {server.process.returncode}:\n{server.output()[-3000:]}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    pytest.fail(f"kbqa serve not healthy after {STARTUP_TIMEOUT_S} s:\n{server.output()[-3000:]}")


def add_article_copies(corpus: Path, copies: int) -> list[Path]:
    """Copies of every article under new ids, so the next ingest has a few hundred chunks to embed."""
    written = []
    for source in sorted(corpus.glob("*.md")):
        lines = source.read_text(encoding="utf-8").splitlines()
        if lines[0] != "---":
            continue  # corpus/README.md
        body = [line for line in lines[1:] if not line.startswith("id:")]
        for n in range(copies):
            target = corpus / f"{source.stem}-copy-{n}.md"
            target.write_text("\n".join(["---", f"id: {source.stem}-copy-{n}", *body]) + "\n", encoding="utf-8")
            written.append(target)
    return written


# --- git sources: a real repository made with dulwich (no git binary needed) ---------------------------------

CORPUS_DIR = Path(__file__).resolve().parent.parent / "corpus"
ARTICLES = [p for p in sorted(CORPUS_DIR.glob("*.md")) if p.name != "README.md"][:4]


def article_id(path: Path) -> str:
    from rag.ingest.loaders import load_article

    return str(load_article(path, 10_000_000).metadata["article_id"])


def commit_all(repo: Path, message: str) -> str:
    from dulwich import porcelain

    porcelain.add(str(repo), paths=[str(p) for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts])
    return porcelain.commit(
        str(repo), message=message.encode(), author=b"kb <kb@example.org>", committer=b"kb <kb@example.org>"
    ).decode()


def git_remove(repo: Path, relative: str) -> None:
    from dulwich import porcelain

    porcelain.remove(str(repo), paths=[str(repo / relative)])


def docs_repo(root: Path) -> Path:
    """A docs repository on branch main: four KB articles under articles/, a README, and drafts/ (not synced)."""
    import shutil

    from dulwich import porcelain
    from dulwich.refs import Ref

    with porcelain.init(str(root)) as made:
        made.refs.set_symbolic_ref(Ref(b"HEAD"), Ref(b"refs/heads/main"))
    (root / "articles").mkdir()
    for path in ARTICLES:
        shutil.copy(path, root / "articles" / path.name)
    (root / "README.md").write_text("# The docs repository\n\nNot an article.\n")
    (root / "drafts").mkdir()
    (root / "drafts" / "wip.md").write_text("# Work in progress\n\nNot published yet.\n")
    commit_all(root, "four articles")
    return root
