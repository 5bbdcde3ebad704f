"""Which corpus files changed since the last ingest, so an ingest reads and chunks only those (issue 17).

Each file indexed is remembered with its size, modification time and the article it held (id and content
hash). A file whose size and time are the same is not read again: its article is taken as indexed. The record
is valid only for the code and settings that made it (a hash of the ingest package's sources and the chunking
settings): after an upgrade or a settings change every file is read again. A file modified within a few
seconds of the ingest is not remembered (its next change could keep the same time stamp), the same care git
takes with its index. Written after the new generation is live, by replacing the file whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

_RACY_SECONDS = 3.0


@dataclass(frozen=True)
class KnownFile:
    article_id: str
    article_hash: str
    size: int
    mtime_ns: int


class FileStates:
    def __init__(self, path: Path, key: str, files: dict[str, KnownFile]) -> None:
        self.path, self.key = path, key
        self._known = files
        self._next: dict[str, KnownFile] = {}
        self._started = time.time()

    @classmethod
    def load(cls, path: Path, settings_key: str) -> FileStates:
        """The record in ``path`` if it was made by this code with these settings; else an empty one."""
        key = f"{_code_hash()}:{settings_key}"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            files = {p: KnownFile(**entry) for p, entry in data["files"].items()} if data.get("key") == key else {}
        except (OSError, ValueError, KeyError, TypeError):
            files = {}
        return cls(path, key, files)

    def unchanged(self, path: Path) -> KnownFile | None:
        """What ``path`` held at the last ingest, if it has not changed since; it is remembered again."""
        known = self._known.get(str(path))
        if known is None:
            return None
        try:
            stat = path.stat()
        except OSError:
            return None
        if (stat.st_size, stat.st_mtime_ns) != (known.size, known.mtime_ns):
            return None
        self._next[str(path)] = known
        return known

    def remember(self, path: Path, article_id: str, article_hash: str) -> None:
        try:
            stat = path.stat()
        except OSError:
            return
        if stat.st_mtime_ns / 1e9 > self._started - _RACY_SECONDS:
            return  # changed just now: it could change again within the same time stamp
        self._next[str(path)] = KnownFile(article_id, article_hash, stat.st_size, stat.st_mtime_ns)

    def save(self) -> None:
        """Keep what this ingest read or reused (files it failed on are read again next time)."""
        data: dict[str, Any] = {"key": self.key, "files": {p: vars(k) for p, k in self._next.items()}}
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, self.path)


@lru_cache(maxsize=1)
def _code_hash() -> str:
    """The ingest package's sources: a change to how files are parsed or chunked makes every file new again."""
    digest = hashlib.sha256()
    for source in sorted((Path(__file__).resolve().parent.parent / "ingest").glob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]
