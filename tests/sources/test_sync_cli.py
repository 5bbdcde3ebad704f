"""`kbqa sources list`, `kbqa sync` and `kbqa serve --sync-every` as a user runs them: real processes, a kbqa.toml
naming a real git repository, the real model and Chroma."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support import commit_all, docs_repo, kbqa_serve

pytestmark = pytest.mark.integration


def _kbqa(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KBQA_")}
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def work(tmp_path: Path) -> Path:
    repo = docs_repo(tmp_path / "docs-repo")
    (tmp_path / "kbqa.toml").write_text(
        f'index_dir = "idx"\n\n[[sources]]\nname = "docs"\nkind = "git"\nurl = "{repo.as_uri()}"\n'
        'branch = "main"\npaths = ["articles"]\n',
        encoding="utf-8",
    )
    return tmp_path


def test_sources_list_and_sync_from_the_cli(work: Path) -> None:
    listed = _kbqa(work, "sources", "list")
    assert listed.returncode == 0, listed.stderr
    assert "docs" in listed.stdout and "never" in listed.stdout

    synced = _kbqa(work, "sync")
    assert synced.returncode == 0, synced.stderr
    assert "docs at " in synced.stdout and "4 new" in synced.stdout
    assert synced.stderr == ""  # quiet: no library noise, no progress bar off a terminal

    again = _kbqa(work, "sync", "docs", "--json")
    assert again.returncode == 0, again.stderr
    [report] = json.loads(again.stdout)
    assert report["ok"] and report["unchanged"] == 4 and report["chunks_embedded"] == 0

    rows = json.loads(_kbqa(work, "sources", "list", "--json").stdout)
    assert rows[0]["name"] == "docs" and rows[0]["synced_at"] and rows[0]["revision"] == report["revision"]
    stats = json.loads(_kbqa(work, "stats", "--json").stdout)
    assert stats["sources"] == {"docs": 4}

    unknown = _kbqa(work, "sync", "nope")
    assert unknown.returncode == 2 and "No source named 'nope'" in unknown.stderr


def test_serve_syncs_in_the_background(work: Path) -> None:
    """A first `kbqa serve` syncs the sources to build its index, then every --sync-every; a new commit
    upstream shows up in /api/articles without anyone running a command."""
    repo = work / "docs-repo"
    with kbqa_serve(work, work / "no-corpus", work / "idx", KBQA_SYNC_EVERY="2s") as server:
        articles = httpx.get(f"{server.base_url}/api/articles", timeout=30).json()["articles"]
        assert len(articles) == 4 and {a["source"] for a in articles} == {"docs"}
        (repo / "articles" / "rotate-secrets.md").write_text(
            "# Rotate the storage account keys\n\nRegenerate key2, switch the apps to it, then regenerate key1.\n"
        )
        commit_all(repo, "a fifth article")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            ids = {a["article_id"] for a in httpx.get(f"{server.base_url}/api/articles", timeout=30).json()["articles"]}
            if "rotate-secrets" in ids:
                break
            time.sleep(1)
        assert "rotate-secrets" in ids, server.output()
        [row] = httpx.get(f"{server.base_url}/api/sources", timeout=30).json()["sources"]
        assert row["name"] == "docs" and row["added"] == 1 and not row["errors"]
