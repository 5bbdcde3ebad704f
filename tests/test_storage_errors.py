"""An index folder that cannot be written: read-only, or on a full disk (issue 20). Real file systems: a tmpfs
mounted by the test (root only; skipped elsewhere), the real CLI, model and Chroma."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def _kbqa(index: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", "--index-dir", str(index), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "mnt"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount)]).returncode:
        pytest.skip("needs root to mount a small file system")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _remount(mount: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(mount)], check=True)


def test_read_only_index_says_what_to_do(tmpfs: Path) -> None:
    """Chroma opens its database for writing even to answer: on a read-only index, ask, stats and serve exit 2
    with what to do (they ended in Chroma's "attempt to write a readonly database" traceback)."""
    index = tmpfs / "idx"
    assert _kbqa(index, "--corpus-dir", str(CORPUS), "ingest").returncode == 0
    _remount(tmpfs, "ro")
    for args in (("stats",), ("ask", "Is kube-proxy a CNI plugin?"), ("serve", "--port", "1")):
        result = _kbqa(index, *args)
        assert result.returncode == 2, (args, result.stderr[-2000:])
        assert "cannot write to" in result.stderr and "KBQA_INDEX_DIR" in result.stderr
        assert "Traceback" not in result.stderr


def test_full_disk_stops_ingest_cleanly_and_the_index_keeps_answering(tmpfs: Path, tmp_path: Path) -> None:
    """A disk that fills up during ingest: exit 2 with "full" and what to free (was "Error in compaction" and a
    traceback); the index in use still answers; once space is freed, ingest completes."""
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    index = tmpfs / "idx"
    assert _kbqa(index, "--corpus-dir", str(corpus), "ingest").returncode == 0
    used = shutil.disk_usage(tmpfs).used
    _remount(tmpfs, f"size={used + 1_000_000}")
    for source in sorted(corpus.glob("*-*.md")):
        for n in range(3):
            text = source.read_text(encoding="utf-8")
            (corpus / f"{source.stem}-copy{n}.md").write_text(
                text.replace("\nid: ", f"\nid: copy{n}-", 1), encoding="utf-8"
            )
    full = _kbqa(index, "--corpus-dir", str(corpus), "ingest")
    assert full.returncode == 2 and "is full" in full.stderr and "Traceback" not in full.stderr, full.stderr[-2000:]
    answer = _kbqa(index, "ask", "Is kube-proxy a CNI plugin?")
    assert answer.returncode == 0 and "No. kube-proxy is not considered a CNI plugin" in answer.stdout
    _remount(tmpfs, "size=64m")
    again = _kbqa(index, "--corpus-dir", str(corpus), "ingest")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "88 articles" in again.stdout
