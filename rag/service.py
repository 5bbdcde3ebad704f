"""kbqa's application API: what the CLI, the REST API and the web app do, in one place.

The three front ends call this object and nothing deeper, so a question asked anywhere is checked, answered
and logged the same way; the channel ("cli", "api", "ui") is the only difference. Parts load on first use:
`kbqa log list` or a refused question never loads Chroma or the model.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from rag.errors import IndexBusyError, IndexNotFoundError, KbqaError, QuestionError
from rag.settings import Settings
from rag.types import Answer, AnswerMode, AskOptions, final_answer

if TYPE_CHECKING:
    from rag.evaluation.calibration import Calibration
    from rag.evaluation.run import EvalItem, EvalRun
    from rag.index.store import IngestReport, Progress
    from rag.pipeline import Pipeline
    from rag.records.feedback import FeedbackRow, FeedbackStore, Rating
    from rag.records.gaps import GapCluster
    from rag.records.query_log import Channel, QueryLog
    from rag.sources.sync import SourceReport
    from rag.types import SearchHit, Triage

Counted = Callable[[int, int], None]
_LOG = logging.getLogger(__name__)


class KbService:
    """One KB behind one settings object; one ingest at a time."""

    def __init__(self, settings: Settings, pipeline: Pipeline | None = None) -> None:
        """``pipeline``: the parts to use (tests pass a fake); by default built from ``settings`` on first use."""
        self.settings = settings
        self._ingest_lock = threading.Lock()
        if pipeline is not None:
            self.pipeline = pipeline

    @cached_property
    def pipeline(self) -> Pipeline:
        from rag.pipeline import Pipeline

        return Pipeline(self.settings)

    @cached_property
    def feedback(self) -> FeedbackStore:
        """Opened on first use; `kbqa serve` opens it at start so a read-only index folder is said up front."""
        from rag.index.store import not_writable
        from rag.records.feedback import FeedbackStore

        try:
            return FeedbackStore(self.settings.feedback_path)
        except (sqlite3.Error, OSError) as exc:  # a read-only or full index folder: say so, no traceback
            said = not_writable(self.settings.feedback_path.parent, exc)
            if said is exc:
                raise
            raise said from exc

    @cached_property
    def query_log(self) -> QueryLog | None:
        from rag.records.query_log import QueryLog

        return QueryLog(self.settings.query_log_path) if self.settings.query_log else None

    # --- the index -------------------------------------------------------------------------------------------

    def ready(self) -> bool:
        return self.pipeline.index.exists()

    def ensure_index(self) -> None:
        """Index the KB on start-up when there is no index yet, so a first `kbqa serve` just works: the configured
        sources are synced, or else the corpus folder is ingested."""
        if self.ready():
            return
        if self.settings.sources:
            self.sync()
        elif self.settings.corpus_dir.is_dir():
            self.ingest()

    def ingest(
        self, paths: Sequence[Path] | None = None, progress: Progress | None = None, rebuild: bool = False
    ) -> IngestReport:
        with self._ingest_lock:
            return self.pipeline.ingest(paths, progress=progress, rebuild=rebuild)

    def upload(self, name: str, data: bytes) -> tuple[Path, IngestReport]:
        """Save the article into the corpus and index it; if indexing is refused (another ingest is running),
        the corpus is put back as it was, so "refused" means nothing changed."""
        from rag.ingest.uploads import safe_file_name, save_upload

        taken = {a["article_id"]: a["source_path"] for a in self.articles()} if self.ready() else {}
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

    def sources(self) -> list[dict[str, Any]]:
        """The configured sources with their last sync (time, articles added/changed/removed, errors)."""
        from rag.sources.sync import describe

        return describe(self.settings.kb_sources, self.settings.index_dir)

    def sync(
        self,
        names: Sequence[str] = (),
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
        reported: Callable[[SourceReport], None] | None = None,
    ) -> list[SourceReport]:
        """Sync the named sources (all by default), one after another; one sync at a time per index. A source
        that fails is reported and the others go on; ``reported`` hears of each source as it finishes."""
        from importlib.metadata import version

        from rag.sources.sync import select, sync_source

        chosen = select(self.settings.kb_sources, names)
        agent = f"kbqa/{version('kbqa')} (knowledge base sync)"  # says who is asking, as robots.txt etiquette asks
        if not self._ingest_lock.acquire(blocking=False):
            raise IndexBusyError(
                f"A sync or re-index of {self.settings.index_dir} is already running here; wait for it to finish "
                "(the index keeps answering meanwhile)."
            )
        try:
            reports = []
            for source in chosen:
                report = sync_source(source, self.pipeline.index, self.settings.index_dir, agent, progress, cancel)
                reports.append(report)
                if reported:
                    reported(report)
            return reports
        finally:
            self._ingest_lock.release()

    def articles(self) -> list[dict[str, Any]]:
        """Indexed articles: id, title, tags, updated, path, URL, chunks."""
        if not self.ready():
            raise IndexNotFoundError(self.pipeline.index.where)
        return self.pipeline.index.articles()

    def tags(self) -> list[str]:
        """Every tag in the index (none before the first ingest), for filters."""
        return sorted({t for a in self.articles() for t in a["tags"]}) if self.ready() else []

    def health(self) -> dict[str, Any]:
        from rag.index.embeddings import model_loads

        if not self.ready():
            return {"status": "no_index", "message": "No index yet; run `kbqa ingest`."}
        return {"status": "ok", "chunks": self.pipeline.index.count(), "embedding_model_loads": model_loads()}

    def stats(self) -> dict[str, Any]:
        index = self.pipeline.index
        articles = index.articles()
        tags: dict[str, int] = {}
        for a in articles:
            for t in a["tags"]:
                tags[t] = tags.get(t, 0) + 1
        s = self.settings
        sources = Counter(a["source"] or "(ingested files)" for a in articles)
        return {
            "index_dir": str(s.index_dir),
            "chroma": s.chroma_url or "embedded",
            "collection": s.collection,
            "embedding_model": s.embedding_model,
            "embedding_backend": s.embedding_backend,
            "articles": len(articles),
            "chunks": index.count(),
            "keyword_chunks": len(index.keyword()),
            "tags": dict(sorted(tags.items())),
            "sources": dict(sorted(sources.items())),
        }

    # --- questions, searches, tickets: logged once here, per channel ------------------------------------------

    def ask(self, question: str, channel: Channel | None = None, **options: Unpack[AskOptions]) -> Answer:
        return final_answer(self.ask_stream(question, channel, **options))

    def ask_stream(
        self, question: str, channel: Channel | None = None, **options: Unpack[AskOptions]
    ) -> Iterator[str | Answer]:
        """Generated text as it arrives (LLM mode), then the final Answer; with ``channel`` it is logged."""
        for event in self.pipeline.ask_stream(question, **options):
            if isinstance(event, Answer) and channel is not None and self.query_log is not None:
                tags = options.get("tags", ())
                self._logged(self.query_log.record_answer, event, channel, tags, self.settings.public())
            yield event

    def search(
        self, query: str, k: int = 10, tags: Sequence[str] = (), channel: Channel | None = None
    ) -> list[SearchHit]:
        from rag.pipeline import clean_text

        started = time.perf_counter()
        hits = self.pipeline.search(query, k=k, tags=tags)
        if channel is not None and self.query_log is not None:
            latency = (time.perf_counter() - started) * 1e3
            asked = clean_text(query)  # as logged: no lone surrogate can reach the query log
            self._logged(self.query_log.record_search, asked, hits, channel, tags, latency, self.settings.public())
        return hits

    def triage(self, ticket: str, tags: Sequence[str] = (), channel: Channel | None = None) -> Triage:
        """A pasted ticket, error message or log: the known issue with cause, fix, checks and a reply draft."""
        from rag.pipeline import clean_text
        from rag.triage.triage import triage

        ticket = clean_text(ticket)  # as logged too
        result = triage(self.pipeline, ticket, tuple(tags))
        if channel is not None and self.query_log is not None:
            self._logged(self.query_log.record_triage, ticket, result, channel, tags, self.settings.public())
        return result

    def _logged(self, record: Callable[..., int], *args: Any) -> None:
        """Write to the query log; a log that cannot be written costs the log entry, never the answer."""
        try:
            record(*args)
        except sqlite3.Error as exc:
            _LOG.warning("Query log %s not written: %s", self.settings.query_log_path, exc)

    # --- the query log and feedback ----------------------------------------------------------------------------

    def logged(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest logged questions, searches and triages, newest first."""
        return self._existing_log().rows(limit)

    def logged_row(self, row_id: int) -> dict[str, Any]:
        row = self._existing_log().get(row_id)
        if row is None:
            raise QuestionError(f"No row {row_id} in the query log. `kbqa log list` shows the ids.")
        return row

    def replay(self, row: dict[str, Any]) -> dict[str, Any]:
        """A logged question run again on the current index: verdict, retrieved ids, answer."""
        tags = row["tags"]
        if row["kind"] == "search":
            hits = self.search(row["question"], tags=tags)
            return {"verdict": "hits" if hits else "no_hits", "retrieved": [h.chunk_id for h in hits], "answer": ""}
        if row["kind"] == "triage":
            result = self.triage(row["question"], tags=tags)
            retrieved = [m.chunk_id for m in result.matches]
            return {"verdict": result.verdict, "retrieved": retrieved, "answer": result.reply}
        answer = self.ask(row["question"], tags=tags)
        return {"verdict": answer.verdict, "retrieved": [r.chunk_id for r in answer.retrieved], "answer": answer.text}

    def _existing_log(self) -> QueryLog:
        path = self.settings.query_log_path
        if not path.is_file():
            raise QuestionError(
                f"No query log at {path} yet: questions asked through the web app, API or CLI are "
                "logged there (unless KBQA_QUERY_LOG=false)."
            )
        from rag.records.query_log import QueryLog

        return QueryLog(path)

    def rate(self, answer: Answer, rating: Rating, reason: str = "", comment: str = "") -> int:
        """Store a thumbs up or down on an answer; the row id."""
        return self.feedback.record(answer, rating, reason, comment, self.settings.public())

    def feedback_rows(self, rating: Rating | None = None) -> list[FeedbackRow]:
        return self.feedback.rows(rating)

    def gaps(self, threshold: float = 0.6) -> list[GapCluster]:
        """Unanswered, low-confidence and thumbs-down questions from the query log and feedback, grouped."""
        from rag.records.feedback import FeedbackStore
        from rag.records.gaps import GAP_VERDICTS, find_gaps, gap_questions

        rows = self.query_log.with_verdicts(GAP_VERDICTS) if self.query_log is not None else []
        path = self.settings.feedback_path
        feedback = FeedbackStore(path).rows() if path.is_file() else []
        pipeline = self.pipeline
        return find_gaps(pipeline.embeddings(), pipeline.index, gap_questions(rows, feedback), threshold)

    # --- evaluation --------------------------------------------------------------------------------------------

    def evaluate(
        self, items: Sequence[EvalItem], progress: Counted | None = None, mode: AnswerMode | None = None
    ) -> EvalRun:
        from rag.evaluation.run import evaluate

        return evaluate(self.pipeline, items, progress, mode)

    def check_answers(self, items: Sequence[Any], progress: Counted | None = None) -> EvalRun:
        from rag.evaluation.answers import check_answers

        return check_answers(self.pipeline, items, progress)

    def evaluate_file(self, path: Path, progress: Counted | None = None) -> tuple[EvalRun, Path]:
        """Run an uploaded eval set or answers file; the run folder (and a zip of it) go under index_dir."""
        from rag.evaluation.files import run_file

        run = run_file(self.pipeline, path, progress)
        folder = run.write(self.settings.index_dir / "eval-runs" / datetime.now().strftime("%Y%m%d-%H%M%S-%f"))
        shutil.make_archive(str(folder), "zip", folder)
        return run, folder

    def calibrate(
        self, items: Sequence[EvalItem], min_refused: float | None = None, progress: Counted | None = None
    ) -> Calibration:
        """Abstention thresholds fitted to this KB from labelled questions."""
        from rag.evaluation.calibration import confidences, fit

        answerable, unanswerable = confidences(self.pipeline, items, progress)
        return fit(answerable, unanswerable, min_refused)
