"""What the web app and the API share: one pipeline, one feedback store, one ingest at a time."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from rag.errors import KbqaError
from rag.evaluation.files import run_file
from rag.evaluation.run import EvalRun
from rag.index.store import IngestReport, Progress, not_writable
from rag.ingest.uploads import safe_file_name, save_upload
from rag.pipeline import Pipeline
from rag.records.feedback import FeedbackStore
from rag.settings import Settings


class KbService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pipeline = Pipeline(settings)
        try:
            self.feedback = FeedbackStore(settings.feedback_path)
        except (sqlite3.Error, OSError) as exc:  # a read-only or full index folder: say so, no traceback
            said = not_writable(settings.feedback_path.parent, exc)
            if said is exc:
                raise
            raise said from exc
        self._ingest_lock = threading.Lock()

    def ingest(self, paths: list[Path] | None = None, progress: Progress | None = None) -> IngestReport:
        with self._ingest_lock:
            return self.pipeline.ingest(paths, progress=progress)

    def upload(self, name: str, data: bytes) -> tuple[Path, IngestReport]:
        """Save the article into the corpus and index it; if indexing is refused (another ingest is running),
        the corpus is put back as it was, so "refused" means nothing changed."""
        taken = {a["article_id"]: a["source_path"] for a in self.pipeline.index.articles()} if self.ready() else {}
        target = self.settings.corpus_dir / safe_file_name(name)
        before = target.read_bytes() if target.is_file() else None
        path = save_upload(name, data, self.settings.corpus_dir, self.settings.max_upload_bytes, taken)
        try:
            return path, self.ingest([path])
        except KbqaError:
            if before is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(before)
            raise

    def evaluate(self, path: Path, progress: Callable[[int, int], None] | None = None) -> tuple[EvalRun, Path]:
        """Run an uploaded eval set or answers file; the run folder (and a zip of it) go under index_dir."""
        run = run_file(self.pipeline, path, progress)
        folder = run.write(self.settings.index_dir / "eval-runs" / datetime.now().strftime("%Y%m%d-%H%M%S-%f"))
        shutil.make_archive(str(folder), "zip", folder)
        return run, folder

    def ready(self) -> bool:
        return self.pipeline.index.exists()

    def ensure_index(self) -> None:
        """Index the corpus on start-up when there is no index yet, so a first `kbqa serve` just works."""
        if not self.pipeline.index.exists() and self.settings.corpus_dir.is_dir():
            self.ingest()
