"""What the last sync of each source did, and what it needs to sync the next time only what changed.

One JSON file per source in ``<index_dir>/sources/<name>/state.json``, written (atomically) only after the
source's articles are live in the index: a sync that fails or is cancelled leaves the previous state, so the
next one starts again from the last synced revision and redoes the work.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATE_FILE = "state.json"


@dataclass
class Page:
    """One file of the source's mirror: where it came from and the revision its content is from."""

    file: str  # relative to the mirror folder
    url: str = ""
    revision: str = ""  # commit (git), ETag or Last-Modified (web)
    lastmod: str = ""  # the sitemap's lastmod when it was fetched (web)
    sha256: str = ""


@dataclass
class SyncState:
    config: str = ""  # the source's settings when it was synced: changed filters mean a fresh mirror
    revision: str = ""  # the commit synced (git)
    synced_at: str = ""  # ISO time of the last successful sync
    failed_at: str = ""  # ISO time of the last sync that failed (then ``errors`` says why)
    added: int = 0
    changed: int = 0
    removed: int = 0
    errors: list[str] = field(default_factory=list)
    pages: dict[str, Page] = field(default_factory=dict)  # key: path in the repository, or page URL

    @classmethod
    def load(cls, folder: Path) -> SyncState:
        try:
            raw: dict[str, Any] = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
            pages = {k: Page(**v) for k, v in raw.pop("pages", {}).items()}
            return cls(**raw, pages=pages)
        except (OSError, ValueError, TypeError):
            return cls()  # never synced, or a state this version cannot read: the next sync reads everything

    def save(self, folder: Path) -> None:
        write_atomic(folder / STATE_FILE, json.dumps(asdict(self), indent=1).encode("utf-8"))


def write_atomic(target: Path, data: bytes) -> None:
    """``target`` holds the old bytes or the new ones, never part of them (a mirror file, a sync state)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)
