"""Start a local `chroma run` server and wait until it answers; used by the tests and benchmarks of server mode."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.errors import ChromaServerError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def chroma_server(path: Path, port: int | None = None, timeout_s: float = 60.0) -> Iterator[str]:
    """Run the `chroma` CLI that the chromadb package installs on ``path``; yield its URL, stop it on exit."""
    exe = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    if not Path(exe).exists():
        raise ChromaServerError("The `chroma` command is missing; it comes with `pip install chromadb`.")
    port = port or free_port()
    path.mkdir(parents=True, exist_ok=True)
    log = path.with_name(path.name + ".log")
    with log.open("wb") as out:
        server = subprocess.Popen(
            [exe, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if server.poll() is not None:
                raise ChromaServerError(f"`chroma run` exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(url + "/api/v2/heartbeat", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise ChromaServerError(f"`chroma run` did not answer on {url} within {timeout_s:.0f} s") from None
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
