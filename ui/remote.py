"""`kbqa ask/search/triage` through a running `kbqa serve`: the answer in a few milliseconds instead of loading
Chroma, LangChain and the model in every process (issue 17).

`kbqa serve` writes where it listens to ``<index_dir>/server.json`` and removes it on exit; the CLI uses that
server when its process is alive and it answers, or the server ``KBQA_SERVER_URL`` names. Same JSON, same
output, same exit codes as in-process (errors come back as {error, message} and keep their exit code); the
query log records the CLI as the channel. Hand-written over urllib: one JSON POST does not need an HTTP client
library's import time.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag import KbqaError, exit_code_of

if TYPE_CHECKING:
    from rag import Settings

SERVER_FILE = "server.json"
CHANNEL_HEADER = "X-Kbqa-Channel"
_TIMEOUT_S = 600  # an LLM answer on 2 cores can take minutes; the health probe has its own short timeout
_PROBE_S = 0.5


class RemoteError(KbqaError):
    """An error the server reported: its message, with the exit code the same error has in-process."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code_of(name)


def announce(settings: Settings) -> Path:
    """Written by `kbqa serve` before it listens: the URL and process of the server for this index. An index
    folder it cannot write to (read-only, full) just means the CLI answers in-process."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    path = settings.index_dir / SERVER_FILE
    with contextlib.suppress(OSError):
        path.write_text(json.dumps({"url": f"http://{host}:{settings.port}", "pid": os.getpid()}), encoding="utf-8")
    return path


def find_server(settings: Settings) -> str | None:
    """The URL of a server answering for this index, or None (then the CLI works in-process)."""
    if settings.server_url:
        return settings.server_url.rstrip("/")
    try:
        announced = json.loads((settings.index_dir / SERVER_FILE).read_text(encoding="utf-8"))
        url, pid = str(announced["url"]), int(announced["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _alive(pid):
        return None
    try:
        with urllib.request.urlopen(_request(url + "/api/health", None, settings), timeout=_PROBE_S) as response:
            return url if response.status == 200 else None
    except (OSError, urllib.error.URLError):
        return None  # still starting, or gone: answer in-process


def call(url: str, path: str, body: dict[str, Any], settings: Settings) -> Any:
    """POST ``body`` as JSON; the parsed JSON reply, or the server's error raised as a RemoteError."""
    try:
        with urllib.request.urlopen(_request(url + path, body, settings), timeout=_TIMEOUT_S) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            problem = json.loads(exc.read())
            raise RemoteError(str(problem["error"]), str(problem["message"])) from None
        except (ValueError, KeyError, TypeError):
            raise RemoteError("Error", f"The kbqa server at {url} answered {exc.code} {exc.reason}.") from None
    except (OSError, urllib.error.URLError) as exc:
        raise RemoteError(
            "Error", f"Cannot reach the kbqa server at {url}: {exc}. Start it, unset KBQA_SERVER_URL, or pass --local."
        ) from exc


def _request(url: str, body: dict[str, Any] | None, settings: Settings) -> urllib.request.Request:
    data = json.dumps(body).encode("utf-8") if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if body is not None else "GET")
    request.add_header("Content-Type", "application/json")
    request.add_header(CHANNEL_HEADER, "cli")
    if settings.auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(settings.auth.encode("utf-8")).decode())
    return request


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True
