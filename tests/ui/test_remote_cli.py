"""`kbqa ask/search/triage` through a running `kbqa serve` (issue 17): same output and exit codes as in-process,
logged as the CLI, and in-process again when the server is gone. Real server, real index, real model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

from tests.support import kbqa_command, kbqa_serve, server_env

QUESTION = "Is kube-proxy a CNI plugin?"


def _kbqa(index_dir: Path, corpus: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*kbqa_command(index_dir, corpus), *args],
        capture_output=True,
        text=True,
        env=server_env(**env),
        timeout=600,
    )


def test_the_cli_answers_through_a_running_server(tmp_path: Path, corpus_copy: Path) -> None:
    index = tmp_path / "index"
    ticket = tmp_path / "ticket.txt"
    ticket.write_text("Error syncing load balancer: failed to ensure load balancer: AuthorizationFailed", "utf-8")
    with kbqa_serve(tmp_path, corpus_copy, index) as server:
        announced = json.loads((index / "server.json").read_text())
        assert announced["url"] == server.base_url and announced["pid"] == server.process.pid

        # Same output, through the server and in-process.
        for args in (["ask", QUESTION], ["search", "kube-proxy"], ["triage", str(ticket)]):
            remote, local = _kbqa(index, corpus_copy, *args), _kbqa(index, corpus_copy, *args, "--local")
            assert remote.returncode == local.returncode == 0, remote.stderr + local.stderr
            assert remote.stdout == local.stdout, args
        remote = json.loads(_kbqa(index, corpus_copy, "ask", QUESTION, "--json").stdout)
        local = json.loads(_kbqa(index, corpus_copy, "ask", QUESTION, "--json", "--local").stdout)
        assert {k: v for k, v in remote.items() if k != "timings"} == {k: v for k, v in local.items() if k != "timings"}
        remote = json.loads(_kbqa(index, corpus_copy, "search", "kube-proxy", "--json").stdout)
        local = json.loads(_kbqa(index, corpus_copy, "search", "kube-proxy", "--json", "--local").stdout)
        assert remote == local and remote["schema_version"] == 1 and remote["hits"]  # one shape, CLI and API

        # Errors keep their message and exit code.
        remote, local = _kbqa(index, corpus_copy, "ask", "   "), _kbqa(index, corpus_copy, "ask", "   ", "--local")
        assert remote.returncode == local.returncode == 2 and remote.stderr == local.stderr != ""

        # It really is the server answering: a folder with no index, only KBQA_SERVER_URL, gets the answer.
        empty = tmp_path / "no-index"
        proof = _kbqa(empty, corpus_copy, "ask", QUESTION, KBQA_SERVER_URL=server.base_url)
        assert proof.returncode == 0 and "CNI plugin" in proof.stdout, proof.stderr
        assert _kbqa(empty, corpus_copy, "ask", QUESTION, "--local").returncode == 3  # no index here

        # The server logged those questions as the CLI's.
        log = _kbqa(index, corpus_copy, "log", "list", "-n", "50").stdout
        assert " cli " in log and " api " not in log
    # Stopped: the announcement is gone, and the CLI answers in-process again.
    assert not (index / "server.json").exists()
    again = _kbqa(index, corpus_copy, "ask", QUESTION)
    assert again.returncode == 0 and "CNI plugin" in again.stdout


def test_a_stale_announcement_is_ignored(tmp_path: Path, corpus_copy: Path) -> None:
    """A server killed with -9 leaves server.json behind: the CLI sees its process is gone and answers itself."""
    index = tmp_path / "index"
    with kbqa_serve(tmp_path, corpus_copy, index) as server:
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
    assert (index / "server.json").exists()
    result = _kbqa(index, corpus_copy, "ask", QUESTION)
    assert result.returncode == 0 and "CNI plugin" in result.stdout, result.stderr
