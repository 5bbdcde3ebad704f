"""`kbqa sync`: each source's mirror brought in step (rag/sources/git.py, web.py), then its articles ingested.

Each source is ingested on its own, so a source that fails leaves its articles (and every other source's) as
they were, with the same guarantee as `kbqa ingest`: readers see the old generation until the new one is
complete. A source's state (rag/sources/state.py) is saved only after its articles are live.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import SettingsError, SourceError
from rag.index.store import IngestReport, KnowledgeIndex, Progress
from rag.sources.config import FolderSource, GitSource, Source, WebSource
from rag.sources.state import Page, SyncState

SOURCES_DIR = "sources"


@dataclass
class SourceReport:
    """What one source's sync did."""

    name: str
    kind: str
    ok: bool
    revision: str = ""
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    chunks_embedded: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for people: what changed, or why the source failed."""
        if not self.ok:
            return f"{self.name} failed: {self.errors[0]}"
        at = f" at {self.revision[:10]}" if self.revision else ""
        embedded = f"{self.chunks_embedded} chunk{'s' if self.chunks_embedded != 1 else ''}"
        return (
            f"{self.name}{at}: {len(self.added)} new, {len(self.changed)} changed, {len(self.removed)} removed, "
            f"{self.unchanged} unchanged; {embedded} embedded in {self.seconds:.1f}s."
        )


def source_folder(index_dir: Path, name: str) -> Path:
    return index_dir / SOURCES_DIR / name


def select(sources: Sequence[Source], names: Sequence[str]) -> list[Source]:
    """The sources named (all when none are), in the configured order; an unknown name is a settings error."""
    known = {s.name: s for s in sources}
    if unknown := [n for n in names if n not in known]:
        raise SettingsError(
            f"No source named '{unknown[0]}'. Configured sources: {', '.join(known) or 'none'} (kbqa sources list)."
        )
    return [s for s in sources if not names or s.name in names]


def sync_source(
    source: Source,
    index: KnowledgeIndex,
    index_dir: Path,
    user_agent: str,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> SourceReport:
    """Sync one source. A SourceError (unreachable, not git, no sitemap...) is reported, not raised: the other
    sources go on. Cancellation (SyncCancelledError) and a busy index (IndexBusyError) are raised."""
    started = time.perf_counter()
    folder = source_folder(index_dir, source.name)
    state = SyncState.load(folder)
    report = SourceReport(source.name, source.kind, ok=True)
    try:
        if isinstance(source, FolderSource):
            if not source.path.exists():
                raise SourceError(source.name, f"folder {source.path} does not exist; fix path in kbqa.toml")
            ingested = index.ingest([source.path], progress, annotate=folder_sources([source]))
        else:
            # What decides the mirror's content (not politeness or timeouts): when it changes, start afresh.
            config = json.dumps(source.model_dump(mode="json", exclude={"delay_s", "timeout_s"}), sort_keys=True)
            if state.config != config:
                shutil.rmtree(folder / "files", ignore_errors=True)
                state = SyncState(config=config)
            if isinstance(source, GitSource):
                from rag.sources.git import mirror_git

                report.revision = mirror_git(source, folder, state, progress, cancel)
            elif isinstance(source, WebSource):
                from rag.sources.web import mirror_web

                report.errors = mirror_web(source, folder, state, progress, cancel, user_agent)
            ingested = index.ingest([folder / "files"], progress, annotate=_provenance(source, folder, state))
    except SourceError as exc:
        report.ok, report.errors = False, [str(exc)]
        failed = SyncState.load(folder)
        failed.errors, failed.failed_at = report.errors, _now()
        failed.save(folder)
        report.seconds = time.perf_counter() - started
        return report
    _count(report, ingested)
    state.revision = report.revision or state.revision
    state.synced_at, state.failed_at = _now(), ""
    state.added, state.changed, state.removed = len(report.added), len(report.changed), len(report.removed)
    state.errors = report.errors
    state.save(folder)
    report.seconds = time.perf_counter() - started
    return report


def folder_sources(sources: Sequence[Source]) -> Callable[[Path], dict[str, str]]:
    """A file's source when it lies in a folder source: `kbqa ingest`, uploads and `kbqa sync` name it alike (a
    name that came and went with the command would re-embed the article each time)."""
    folders = [(s.path.resolve(), s.name) for s in sources if isinstance(s, FolderSource)]

    def annotate(path: Path) -> dict[str, str]:
        resolved = path.resolve()
        return next(({"source": name} for folder, name in folders if resolved.is_relative_to(folder)), {})

    return annotate


def _provenance(source: Source, folder: Path, state: SyncState) -> Callable[[Path], dict[str, str]]:
    """Each mirrored file's source name, URL and revision, for its article's metadata and citations."""
    files = (folder / "files").resolve()
    by_file: dict[str, Page] = {page.file: page for page in state.pages.values()}

    def annotate(path: Path) -> dict[str, str]:
        page = by_file.get(path.resolve().relative_to(files).as_posix())
        if page is None:
            return {"source": source.name}
        return {"source": source.name, "source_url": page.url, "revision": page.revision}

    return annotate


def _count(report: SourceReport, ingested: IngestReport) -> None:
    report.added, report.changed, report.removed = ingested.added, ingested.updated, ingested.removed
    report.unchanged, report.chunks_embedded = ingested.unchanged, ingested.chunks_embedded
    report.errors = report.errors + [f"{f.path}: {f.reason}" for f in ingested.failures]


def describe(sources: Sequence[Source], index_dir: Path) -> list[dict[str, Any]]:
    """Each source with where it reads from and its last sync, for `kbqa sources list` and the web app."""
    rows = []
    for source in sources:
        state = SyncState.load(source_folder(index_dir, source.name))
        where = {
            "folder": lambda s: str(s.path),
            "git": lambda s: f"{s.url} @ {s.branch}" + (f" ({', '.join(s.paths)})" if s.paths else ""),
            "web": lambda s: s.sitemap or s.start_url,
        }[source.kind](source)
        rows.append(
            {
                "name": source.name,
                "kind": source.kind,
                "where": where,
                "synced_at": state.synced_at,
                "failed_at": state.failed_at,
                "revision": state.revision,
                "added": state.added,
                "changed": state.changed,
                "removed": state.removed,
                "errors": state.errors,
            }
        )
    return rows


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
