"""The KB index: chunks in Chroma (dense) plus the BM25 keyword index, kept in step.

Ingest is incremental by article: an article whose chunks and metadata hash the same as what is
stored is not embedded again; a changed article's chunks are replaced; an article whose file is gone
is removed. A file that fails to load keeps whatever was indexed from it before.

Ingest never writes to the collection readers use. It prepares the next *generation* aside, then one
metadata write on a small pointer collection (``<collection>.live``) makes it live: a reader sees the old
generation or the new one, never a mix, and a killed ingest leaves the old one live. Chroma has no collection
aliases, and its ``fork`` raises NotImplementedError outside Chroma Cloud, hence the pointer.

Two collections take turns (issue 17: an edit costs what it changes). The generation before the live one is
kept, so a request that started on it can finish; it is also one change behind the live one, and that change
is recorded (``deltas/<collection>.json``: the chunk ids it added and deleted). The next ingest brings that
collection up to the live one by replaying the record (copying the added chunks with their stored
embeddings), applies its own change (embedding only new chunks), and makes it live. Its keyword index is built
from the live one's saved tokens plus the new chunks'. A collection is marked ``building`` while it changes;
one found so marked (an ingest was killed), or with no usable record (an index from before this layout, or a
first ingest), is not trusted: the next generation is then built in a new collection from a copy of every
live chunk, as every ingest did before. Leftovers of killed ingests are deleted by the next ingest.
"""

from __future__ import annotations

import errno
import json
import logging
import re
import secrets
import shutil
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from rag.errors import (
    ChromaServerError,
    CorpusPathError,
    IndexBusyError,
    IndexMismatchError,
    IndexNotFoundError,
    IndexWriteError,
    KbqaError,
    LoadError,
)
from rag.index.file_state import FileStates
from rag.index.keyword import KeywordIndex
from rag.ingest.chunking import chunk_article, chunk_tags
from rag.ingest.loaders import discover, load_article
from rag.settings import IndexSettings

_LOG = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` during long work; the CLI and UI draw it."""
Annotate = Callable[[Path], dict[str, str]]
"""A file's article fields that come from where it was synced from, not from the file."""

SCHEMA_VERSION = 1
_KW_FINGERPRINT = "keyword_fingerprint"
_LIVE_SUFFIX = ".live"
_GENERATION_INFIX = ".gen-"
_REFRESH_SECONDS = 1.0
# A reader re-reads the pointer once a second, so the collection that was live until a switch may still be read
# for about that long: the next ingest waits this long after a switch before it changes that collection.
_SETTLE_SECONDS = 2 * _REFRESH_SECONDS + 0.5
_PAGE = 5000  # Chroma's local max batch is ~5,400 rows; one unbounded get() of 100k chunks is slow over HTTP
_DELTAS = "deltas"
_FILE_STATES = "files.json"


@dataclass
class FileFailure:
    path: str
    reason: str


@dataclass
class IngestReport:
    files: int = 0
    articles: int = 0
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    chunks_embedded: int = 0
    chunks_deleted: int = 0
    chunks_total: int = 0
    failures: list[FileFailure] = field(default_factory=list)
    seconds: float = 0.0
    generation: str = ""

    @property
    def ok(self) -> bool:
        return not self.failures


class IndexView:
    """One generation: a Chroma collection and its keyword index. Nothing writes chunks to it once it is
    live, so a request that holds a view sees one consistent chunk set however long it runs."""

    def __init__(self, name: str, store: Any, keyword_dir: Path) -> None:
        self.name = name
        self.store = store
        self.keyword_dir = keyword_dir
        self.generation = 0  # the pointer's number for it; set by KnowledgeIndex
        self._keyword: KeywordIndex | None = None
        self._lock = threading.Lock()

    @property
    def collection(self) -> Any:
        return self.store._collection

    def keyword(self) -> KeywordIndex:
        """Loaded once; rebuilt from Chroma when missing or out of step (e.g. this host did not build it)."""
        with self._lock:
            if self._keyword is None:
                loaded = KeywordIndex.load(self.keyword_dir)
                if loaded is None or loaded.fingerprint != (self.collection.metadata or {}).get(_KW_FINGERPRINT):
                    loaded = self.rebuild_keyword()
                self._keyword = loaded
            return self._keyword

    def check_keyword(self) -> None:
        """Rebuild the keyword index if the saved one is missing or out of step; reads one small file, not it."""
        expected = (self.collection.metadata or {}).get(_KW_FINGERPRINT)
        if expected is None or KeywordIndex.stored_fingerprint(self.keyword_dir) != expected:
            self.rebuild_keyword()

    def rebuild_keyword(self) -> KeywordIndex:
        got = self.read_all(["documents", "metadatas"])
        index = KeywordIndex.build(got["ids"], got["documents"], [m.get("tags", "") for m in got["metadatas"]])
        return self.use_keyword(index, _articles_of(got["ids"], got["metadatas"]))

    def use_keyword(self, index: KeywordIndex, articles: dict[str, _StoredArticle]) -> KeywordIndex:
        """Save ``index`` (and the ``articles`` it holds) as this generation's keyword index, and record its
        fingerprint with the collection."""
        index.articles = {
            a: {"ids": e.ids, "hashes": sorted(e.hashes), "source_path": e.source_path} for a, e in articles.items()
        }
        index.save(self.keyword_dir)
        meta = dict(self.collection.metadata or {})
        if meta.get(_KW_FINGERPRINT) != index.fingerprint:
            meta[_KW_FINGERPRINT] = index.fingerprint
            self.collection.modify(metadata=meta)
        self._keyword = index
        return index

    def count(self) -> int:
        return int(self.collection.count())

    def get(self, ids: Sequence[str], similarity_to: Sequence[float] | None = None) -> dict[str, Document]:
        """Chunks by id; with ``similarity_to``, each gets its cosine to that vector as ``dense_score``
        (read in the same call, from the stored embeddings)."""
        if not ids:
            return {}
        include = ["documents", "metadatas"] + (["embeddings"] if similarity_to is not None else [])
        got = self.collection.get(ids=list(ids), include=include)
        docs = {
            i: Document(id=i, page_content=doc, metadata=meta)
            for i, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        }
        if similarity_to is not None:
            query = np.asarray(similarity_to)
            for i, vector in zip(got["ids"], got["embeddings"], strict=True):
                docs[i].metadata["dense_score"] = float(np.dot(np.asarray(vector), query))
        return docs

    def article_chunks(self, article_id: str) -> list[Document]:
        """Every chunk of one article, in article order."""
        got = self.collection.get(where={"article_id": article_id}, include=["documents", "metadatas"])
        chunks = [
            Document(id=i, page_content=d, metadata=m)
            for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        ]
        return sorted(chunks, key=lambda c: int(c.metadata.get("position", 0)))

    def pages(self, include: list[str]) -> Iterable[dict[str, Any]]:
        """Every chunk, a page at a time."""
        for offset in range(0, self.count(), _PAGE):
            yield self.collection.get(include=include, limit=_PAGE, offset=offset)

    def read_all(self, include: list[str]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {"ids": [], **{k: [] for k in include}}
        for got in self.pages(include):
            for key in out:
                out[key].extend(got[key])
        return out

    def articles(self) -> list[dict[str, Any]]:
        """One row per indexed article: id, title, tags, updated, path, chunk count."""
        rows: dict[str, dict[str, Any]] = {}
        for meta in self.read_all(["metadatas"])["metadatas"]:
            row = rows.setdefault(
                meta["article_id"],
                {
                    "article_id": meta["article_id"],
                    "title": meta["title"],
                    "tags": chunk_tags(meta),
                    "updated": meta.get("updated", ""),
                    "source_path": meta["source_path"],
                    "source_url": meta.get("source_url", ""),
                    "source": meta.get("source", ""),
                    "revision": meta.get("revision", ""),
                    "chunks": 0,
                },
            )
            row["chunks"] += 1
        return sorted(rows.values(), key=lambda r: r["article_id"])

    def idf(self, token: str) -> float:
        """How rare ``token`` is in this generation (BM25's IDF; 0 for a word the KB does not have)."""
        return self.keyword().idf(token)

    def nearest_article(self, vector: Sequence[float]) -> tuple[str, float]:
        """The title of the article whose chunk is closest to ``vector``, and its cosine similarity."""
        found = self.store.similarity_search_by_vector_with_relevance_scores(list(vector), k=1)
        if not found:
            return "", 0.0
        doc, distance = found[0]
        return str(doc.metadata["title"]), 1.0 - float(distance)

    def stored_articles(self) -> dict[str, _StoredArticle]:
        """Each article's chunk ids, content hashes and source: saved with the keyword index, or read from Chroma
        (every chunk's metadata: seconds at 100k chunks) when that file is missing or out of step."""
        fingerprint = (self.collection.metadata or {}).get(_KW_FINGERPRINT)
        saved = KeywordIndex.stored_articles(self.keyword_dir, fingerprint) if fingerprint else None
        if saved is not None:
            return {a: _StoredArticle(e["ids"], set(e["hashes"]), e["source_path"]) for a, e in saved.items()}
        got = self.read_all(["metadatas"])
        return _articles_of(got["ids"], got["metadatas"])


class KnowledgeIndex:
    """The live generation of the index for one configuration, and the ingest that replaces it."""

    def __init__(self, config: IndexSettings, embeddings: Callable[[], Embeddings]) -> None:
        self.config = config
        self._embeddings = embeddings
        self._client_cache: Any = None
        self._view: IndexView | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    # -- opening ---------------------------------------------------------------------------
    def exists(self) -> bool:
        """Whether a live generation exists (asks the server in server mode)."""
        if not self.config.chroma_url and not (self.config.chroma_dir / "chroma.sqlite3").is_file():
            return False
        return self._live_name() is not None

    def client(self) -> Any:
        if self._client_cache is None:
            import chromadb
            from chromadb.config import Settings as ChromaSettings

            chroma_settings = ChromaSettings(anonymized_telemetry=False)
            if self.config.chroma_url:
                self._client_cache = _http_client(self.config.chroma_url, chroma_settings)
            else:
                try:
                    self.config.chroma_dir.mkdir(parents=True, exist_ok=True)
                    self._client_cache = chromadb.PersistentClient(
                        path=str(self.config.chroma_dir), settings=chroma_settings
                    )
                except Exception as exc:  # chromadb raises InternalError, sqlite or OS errors
                    said = not_writable(self.config.chroma_dir, exc)
                    if said is exc:
                        raise
                    raise said from exc
        return self._client_cache

    def view(self, refresh: bool = False) -> IndexView:
        """The live generation. The pointer is re-read at most once a second, so an ingest run by another
        process (or host, in server mode) is picked up without a restart."""
        with self._lock:
            now = time.monotonic()
            if self._view is None or refresh or now - self._checked >= _REFRESH_SECONDS:
                if self._view is None and not self.config.chroma_url and not self.exists():
                    raise IndexNotFoundError(self.where)
                name, generation = self._live()
                if name is None:
                    raise IndexNotFoundError(self.where)
                # By name and number: the two collections take turns, so a name comes back two ingests later.
                if self._view is None or (self._view.name, self._view.generation) != (name, generation):
                    self._view = self._open(name)
                    self._view.generation = generation
                    _LOG.info("Reading index generation %d (%s) in %s", generation, name, self.where)
                self._checked = now
            return self._view

    def _live_name(self) -> str | None:
        return self._live()[0]

    def _live(self) -> tuple[str | None, int]:
        """The live collection's name and generation number (0 for indexes from before the numbers)."""
        meta = self._pointer_meta()
        if meta:
            return str(meta["active"]), int(meta.get("generation", 0))
        # No pointer: an index from before generations is its collection itself.
        names = {c.name for c in self.client().list_collections()}
        return (self.config.collection if self.config.collection in names else None), 0

    @property
    def _pointer(self) -> str:
        return self.config.collection + _LIVE_SUFFIX

    def _open(self, name: str, create: bool = False) -> IndexView:
        from langchain_chroma import Chroma

        store = Chroma(
            client=self.client(),
            collection_name=name,
            embedding_function=_LazyEmbeddings(self._embeddings),
            collection_configuration={"hnsw": {"space": "cosine", "ef_search": self.config.hnsw_ef_search}},
            collection_metadata={
                "embedding_model": self.config.embedding_model,
                "embedding_backend": self.config.embedding_backend,
                "schema": SCHEMA_VERSION,
            },
            create_collection_if_not_exists=create,
        )
        _search_depth(store._collection, self.config.hnsw_ef_search)
        meta = store._collection.metadata or {}
        for key in ("embedding_model", "embedding_backend"):
            # Indexes from before backends were selectable were all built with torch.
            built_with = meta.get(key, "torch" if key == "embedding_backend" else None)
            wanted = getattr(self.config, key)
            if built_with and built_with != wanted:
                raise IndexMismatchError(
                    f"The index in {self.where} was built with {key.replace('_', ' ')} '{built_with}', but the "
                    f"settings say '{wanted}'. Run `kbqa ingest --rebuild` to re-embed the corpus, or set "
                    f"KBQA_{key.upper()}={built_with}."
                )
        return IndexView(name, store, self.config.keyword_dir / name)

    @property
    def where(self) -> str:
        """The index's location as a user would name it: a folder or a Chroma server URL."""
        return self.config.chroma_url or str(self.config.index_dir)

    # -- reading (the live generation) ---------------------------------------------------------
    def store(self) -> Any:
        """The live generation's langchain Chroma store; raises IndexNotFoundError when there is none."""
        return self.view().store

    @property
    def collection(self) -> Any:
        return self.view().collection

    def keyword(self) -> KeywordIndex:
        return self.view().keyword()

    def count(self) -> int:
        return self.view().count()

    def get(self, ids: Sequence[str], similarity_to: Sequence[float] | None = None) -> dict[str, Document]:
        return self.view().get(ids, similarity_to)

    def articles(self) -> list[dict[str, Any]]:
        return self.view().articles()

    def idf(self, token: str) -> float:
        return self.view().idf(token)

    def nearest_article(self, vector: Sequence[float]) -> tuple[str, float]:
        return self.view().nearest_article(vector)

    # -- ingest ----------------------------------------------------------------------------
    def ingest(
        self,
        paths: Iterable[Path],
        progress: Progress | None = None,
        rebuild: bool = False,
        annotate: Annotate | None = None,
    ) -> IngestReport:
        """Bring the index in step with the corpus files under ``paths``; with ``rebuild``, re-embed all.

        ``annotate(path)`` gives article fields a file does not carry itself (a synced source's name, URL and
        revision: rag/sources/sync.py); they are part of the article, so a change re-embeds it.
        """
        started = time.perf_counter()
        roots = [Path(p) for p in paths]
        for root in roots:
            if not root.exists():
                raise CorpusPathError(f"{root}: no such file or folder; pass a corpus folder or file that exists.")
        with self._ingest_lock():
            report = IngestReport()
            files = list(discover(roots))
            report.files = len(files)
            states = self._file_states(fresh=rebuild)
            articles, loaded_paths = self._load(files, report, progress, states, annotate)
            report.articles = len(articles)

            live = self._live_name()
            current = self.view(refresh=True) if live and not rebuild else None
            generation = self._pointer_meta().get("generation", 0) + 1
            self._prune(keep={live, self._previous_name()})  # leftovers of killed ingests
            existing = current.stored_articles() if current else {}
            to_add, to_delete = self._plan(existing, articles, loaded_paths, roots, report, annotate)
            report.chunks_embedded = len(to_add)
            report.chunks_deleted = len(set(to_delete) - {c.id for c in to_add})
            if current is not None and not to_add and not to_delete:
                current.check_keyword()  # nothing to build; a missing or stale keyword index is still repaired
                target = current
            else:
                try:
                    target = self._build(current, existing, to_add, set(to_delete), progress)
                    self._set_meta(target, generation=generation, building=False)
                    self._record(target.name, current, generation, to_add, set(to_delete))
                except Exception as exc:
                    if not _out_of_space(self.config.index_dir, exc):
                        raise
                    raise IndexWriteError(
                        f"Ingest stopped: the disk holding {self.config.index_dir} is full ({exc}). The index in use "
                        "is unchanged and still answers. Free some space (this ingest needed about "
                        f"{_megabytes(len(to_add) + (current.count() if current else 0))} MB), then run `kbqa ingest` "
                        "again; its half-built copy is removed then."
                    ) from exc
                self._switch(target, previous=live, generation=generation)
                _LOG.info(
                    "Generation %s is live: %d chunks embedded, %d dropped, built beside %s",
                    target.name,
                    report.chunks_embedded,
                    report.chunks_deleted,
                    live or "nothing",
                )
            report.generation = target.name
            report.chunks_total = target.count()
            states.save()
        report.seconds = time.perf_counter() - started
        return report

    def _ingest_lock(self) -> Any:
        """One ingest per index folder at a time, across processes; the OS drops the lock of a killed one."""
        from filelock import FileLock, Timeout

        self.config.index_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.config.index_dir / "ingest.lock", timeout=0)
        try:
            return lock.acquire()
        except Timeout:
            raise IndexBusyError(
                f"Another ingest is running on {self.config.index_dir}. Wait for it to finish, then run this "
                "one again (the index keeps answering meanwhile)."
            ) from None

    def _build(
        self,
        current: IndexView | None,
        existing: dict[str, _StoredArticle],
        to_add: list[Document],
        drop: set[str],
        progress: Progress | None,
    ) -> IndexView:
        """The next generation: ``current``'s chunks (its ``existing`` articles) minus ``drop``, plus ``to_add``
        embedded. In the collection one change behind ``current`` when it can be trusted (the cost follows the
        change), else in a new one."""
        standby = self._standby(current, progress) if current is not None else None
        if standby is None or current is None:
            return self._build_aside(current, to_add, drop, progress)
        _delete(standby, sorted(drop | {str(c.id) for c in to_add}))
        self._embed_into(standby, to_add, progress)
        if progress:
            progress("keyword index", 0, 1)
        self._next_keyword(current, existing, standby, to_add, drop)
        if progress:
            progress("keyword index", 1, 1)
        return standby

    def _next_keyword(
        self,
        current: IndexView,
        existing: dict[str, _StoredArticle],
        target: IndexView,
        to_add: list[Document],
        drop: set[str],
    ) -> None:
        """``target``'s BM25 index and article list: ``current``'s (``existing``), minus ``drop``, plus ``to_add``."""
        dropped = [d for page in _paged(sorted(drop)) for d in current.collection.get(ids=page)["documents"]]
        keyword = KeywordIndex.updated(
            current.keyword_dir,
            drop,
            dropped,
            [str(c.id) for c in to_add],
            [c.page_content for c in to_add],
            [str(c.metadata.get("tags", "")) for c in to_add],
        )
        if keyword is None:  # the live keyword index kept no tokens (built before they were): build it whole
            target.rebuild_keyword()
            return
        kept = {a: e for a, e in existing.items() if drop.isdisjoint(e.ids)}
        added = _articles_of([str(c.id) for c in to_add], [c.metadata for c in to_add])
        target.use_keyword(keyword, kept | added)

    def _standby(self, current: IndexView, progress: Progress | None) -> IndexView | None:
        """The collection of the generation before ``current``, brought up to ``current`` by replaying the
        recorded change between them; None when there is none or it cannot be trusted (see the module doc)."""
        previous = self._previous_name()
        record = self._recorded(current.name)
        if previous is None or previous == current.name or record is None or record.get("base") != previous:
            return None
        try:
            standby = self._open(previous)
        except (KbqaError, ValueError):  # gone, or another model: not worth repairing
            return None
        meta = standby.collection.metadata or {}
        if meta.get("building", True) or meta.get("generation") != record.get("base_generation"):
            return None
        self._settle()
        self._set_meta(standby, building=True)  # from here a crash leaves it marked, and the next ingest skips it
        added, deleted = list(record["added"]), list(record["deleted"])
        _delete(standby, deleted + added)
        for done, page in enumerate(_paged(added), 1):
            got = current.collection.get(ids=page, include=["documents", "metadatas", "embeddings"])
            if got["ids"]:
                standby.collection.add(
                    ids=got["ids"], embeddings=got["embeddings"], documents=got["documents"], metadatas=got["metadatas"]
                )
            if progress:
                progress("catching up", min(done * _PAGE, len(added)), len(added))
        return standby

    def _settle(self) -> None:
        """Wait until no reader can still be on the collection that was live before the last switch."""
        switched = float(self._pointer_meta().get("switched_at", 0.0))
        wait = switched + _SETTLE_SECONDS - time.time()
        if 0 < wait <= _SETTLE_SECONDS:
            time.sleep(wait)

    def _record(
        self, name: str, current: IndexView | None, generation: int, to_add: list[Document], drop: set[str]
    ) -> None:
        """Write down how generation ``name`` differs from ``current``: the next ingest replays it onto that
        collection instead of copying every chunk."""
        folder = self.config.index_dir / _DELTAS
        folder.mkdir(parents=True, exist_ok=True)
        base_generation = (current.collection.metadata or {}).get("generation") if current else None
        record = {
            "generation": generation,
            "base": current.name if current else None,
            "base_generation": base_generation,
            "added": [str(c.id) for c in to_add],
            "deleted": sorted(drop),
        }
        tmp = folder / f"{name}.json.tmp"
        tmp.write_text(json.dumps(record), encoding="utf-8")
        tmp.replace(folder / f"{name}.json")

    def _recorded(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(json.loads((self.config.index_dir / _DELTAS / f"{name}.json").read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None

    def _set_meta(self, view: IndexView, **changes: Any) -> None:
        meta = dict(view.collection.metadata or {})
        meta.update(changes)
        view.collection.modify(metadata=meta)

    def _pointer_meta(self) -> dict[str, Any]:
        """The pointer collection's metadata (active, previous, generation, switched_at); {} when there is none."""
        from chromadb.errors import NotFoundError

        try:
            return dict(self.client().get_collection(self._pointer, embedding_function=None).metadata or {})
        except NotFoundError:
            return {}

    def _build_aside(
        self, current: IndexView | None, to_add: list[Document], drop: set[str], progress: Progress | None
    ) -> IndexView:
        """A new collection: ``current``'s chunks minus ``drop`` (stored embeddings), plus ``to_add`` embedded."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        view = self._open(f"{self.config.collection}{_GENERATION_INFIX}{stamp}-{secrets.token_hex(3)}", create=True)
        if current is not None:
            total, done = current.count(), 0
            for got in current.pages(["documents", "metadatas", "embeddings"]):
                keep = [n for n, chunk_id in enumerate(got["ids"]) if chunk_id not in drop]
                if keep:
                    view.collection.add(
                        ids=[got["ids"][n] for n in keep],
                        embeddings=[got["embeddings"][n] for n in keep],
                        documents=[got["documents"][n] for n in keep],
                        metadatas=[got["metadatas"][n] for n in keep],
                    )
                done += len(got["ids"])
                if progress:
                    progress("copying unchanged", done, total)
        self._embed_into(view, to_add, progress)
        if progress:
            progress("keyword index", 0, 1)
        view.rebuild_keyword()
        if progress:
            progress("keyword index", 1, 1)
        return view

    def _embed_into(self, view: IndexView, chunks: list[Document], progress: Progress | None) -> None:
        if chunks and progress:  # shown while the model loads (the first run also exports it to ONNX)
            progress("embedding model", 0, 1)
            self._embeddings()
            progress("embedding model", 1, 1)
        self._add(view.store, chunks, progress)

    def _switch(self, view: IndexView, previous: str | None, generation: int) -> None:
        """Make ``view`` live in one write, then drop generations older than ``previous``."""
        meta = {"active": view.name, "previous": previous or "", "generation": generation, "switched_at": time.time()}
        pointer = self.client().get_or_create_collection(self._pointer, metadata=meta, embedding_function=None)
        pointer.modify(metadata=meta)
        view.generation = generation
        with self._lock:
            self._view, self._checked = view, time.monotonic()
        self._prune(keep={view.name, previous})
        for record in (self.config.index_dir / _DELTAS).glob("*.json"):
            if record.name != f"{view.name}.json":  # only the live generation's change is replayed
                record.unlink(missing_ok=True)

    def _previous_name(self) -> str | None:
        return str(self._pointer_meta().get("previous") or "") or None

    def _prune(self, keep: set[str | None]) -> None:
        """Delete this index's generations (and their keyword indexes) not in ``keep``."""
        client = self.client()
        base = self.config.collection
        for name in [c.name for c in client.list_collections()]:
            ours = name == base or name.startswith(base + _GENERATION_INFIX)
            if ours and name not in keep:
                client.delete_collection(name)
        if not self.config.chroma_url:
            _remove_orphan_segments(self.config.chroma_dir)
        keyword_root = self.config.keyword_dir
        if keyword_root.is_dir():
            for entry in keyword_root.iterdir():
                # Also the files of the single keyword index from before generations; a save in progress
                # (its .tmp/.old sibling folders) of a kept generation is left alone.
                if entry.name.removesuffix(".tmp").removesuffix(".old") not in keep:
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()

    def _plan(
        self,
        existing: dict[str, _StoredArticle],
        articles: dict[str, _ReadArticle],
        loaded_paths: set[str],
        roots: list[Path],
        report: IngestReport,
        annotate: Annotate | None,
    ) -> tuple[list[Document], list[str]]:
        """Decide what to embed and what to drop by comparing article hashes with the stored ones."""
        existing = dict(existing)
        to_add: list[Document] = []
        to_delete: list[str] = []
        resolved_roots = [r.resolve() for r in roots]
        for article_id, article in articles.items():
            old = existing.pop(article_id, None)
            if old and _claimed_elsewhere(old.source_path, article.path, resolved_roots):
                report.failures.append(
                    FileFailure(
                        str(article.path),
                        f"duplicate article id '{article_id}' (also used by {old.source_path}, indexed from another "
                        "folder or source); give each article its own id",
                    )
                )
                continue  # the article indexed from the other file stays
            if old and old.hashes == {article.article_hash}:
                report.unchanged += 1
                continue
            try:  # a file not read again whose article is not the stored one (e.g. the index was replaced)
                chunks = article.chunks if article.chunks is not None else self._chunks(article.path, annotate)
            except LoadError as exc:
                report.failures.append(FileFailure(str(exc.path), exc.reason))
                continue  # what was indexed from it stays
            (report.updated if old else report.added).append(article_id)
            to_add.extend(chunks)
            if old:
                to_delete.extend(old.ids)
        # Left in `existing`: articles this run did not produce. Remove those whose file is gone from an
        # ingested folder, or whose file now holds another id; keep those whose file failed to load.
        for article_id, old in existing.items():
            source = Path(old.source_path)
            gone = not source.exists() and any(source.is_relative_to(r) for r in resolved_roots)
            if gone or str(source) in loaded_paths:
                report.removed.append(article_id)
                to_delete.extend(old.ids)
        return to_add, to_delete

    def _load(
        self,
        files: list[Path],
        report: IngestReport,
        progress: Progress | None,
        states: FileStates,
        annotate: Annotate | None,
    ) -> tuple[dict[str, _ReadArticle], set[str]]:
        """Every file's article; a file unchanged since the last ingest is not read again (rag/index/file_state.py)."""
        articles: dict[str, _ReadArticle] = {}
        owner: dict[str, str] = {}
        loaded_paths: set[str] = set()
        for done, path in enumerate(files, 1):
            resolved = path.resolve()
            try:
                known = states.unchanged(resolved)
                if known is not None:
                    article = _ReadArticle(known.article_id, known.article_hash, resolved)
                else:
                    chunks = self._chunks(path, annotate)
                    meta = chunks[0].metadata
                    article = _ReadArticle(meta["article_id"], meta["article_hash"], resolved, chunks)
                if article.article_id in owner:
                    raise LoadError(
                        path,
                        f"duplicate article id '{article.article_id}' (also used by {owner[article.article_id]}); "
                        "give each article its own id",
                    )
            except LoadError as exc:
                report.failures.append(FileFailure(str(exc.path), exc.reason))
            else:
                owner[article.article_id] = str(path)
                articles[article.article_id] = article
                loaded_paths.add(str(resolved))
                if known is None:
                    states.remember(resolved, article.article_id, article.article_hash)
            if progress:
                progress("reading", done, len(files))
        return articles, loaded_paths

    def _chunks(self, path: Path, annotate: Annotate | None = None) -> list[Document]:
        article = load_article(path, self.config.max_file_bytes)
        if annotate is not None:
            article.metadata.update({k: v for k, v in annotate(path).items() if v})
        chunks = chunk_article(article, self.config.chunk_size, self.config.chunk_overlap)
        if not chunks:
            raise LoadError(path, "no article text left after removing headings and chrome")
        return chunks

    def _file_states(self, fresh: bool) -> FileStates:
        c = self.config
        key = f"{c.chunk_size}:{c.chunk_overlap}:{c.max_file_bytes}"
        states = FileStates.load(c.index_dir / _FILE_STATES, key)
        return FileStates(states.path, states.key, {}) if fresh else states

    def _add(self, store: Any, chunks: list[Document], progress: Progress | None) -> None:
        batch = max(self.config.embedding_batch_size, 1) * 4
        for start in range(0, len(chunks), batch):
            part = chunks[start : start + batch]
            store.add_documents(part, ids=[c.id for c in part])
            if progress:
                progress("embedding", min(start + batch, len(chunks)), len(chunks))
        if not chunks and progress:
            progress("embedding", 0, 0)


def _claimed_elsewhere(indexed_from: str, path: Path, roots: list[Path]) -> bool:
    """Another file, outside what this ingest reads and still there, holds the article: two sources (or folders)
    would otherwise replace each other's article at every sync."""
    other = Path(indexed_from)
    return other != path and other.exists() and not any(other.is_relative_to(r) for r in roots)


def _articles_of(ids: list[str], metadatas: list[dict[str, Any]]) -> dict[str, _StoredArticle]:
    stored: dict[str, _StoredArticle] = defaultdict(_StoredArticle)
    for chunk_id, meta in zip(ids, metadatas, strict=True):
        entry = stored[meta["article_id"]]
        entry.ids.append(chunk_id)
        entry.hashes.add(meta["article_hash"])
        entry.source_path = meta["source_path"]
    return dict(stored)


def _paged(ids: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), _PAGE):
        yield ids[start : start + _PAGE]


def _delete(view: IndexView, ids: list[str]) -> None:
    for page in _paged(sorted(set(ids))):  # Chroma refuses a delete that names an id twice
        view.collection.delete(ids=page)


def not_writable(folder: Path, exc: Exception) -> Exception:
    """What to say when a store under ``folder`` cannot be opened; unrelated errors are returned unchanged."""
    text = str(exc).lower()
    if isinstance(exc, PermissionError) or "readonly" in text or "read-only" in text or "unable to open" in text:
        return IndexWriteError(
            f"kbqa cannot write to {folder} (a read-only file system, or a folder owned by another user): Chroma and "
            "kbqa's logs open their files for writing even to answer. Run kbqa as the folder's owner, make it "
            "writable, or copy the index somewhere writable and point KBQA_INDEX_DIR there."
        )
    if _out_of_space(folder, exc):
        return IndexWriteError(f"The disk holding {folder} is full ({exc}). Free some space and try again.")
    return exc


def _out_of_space(folder: Path, exc: Exception) -> bool:
    text = str(exc).lower()
    if (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "disk is full" in text or "no space" in text:
        return True
    try:
        free = shutil.disk_usage(folder if folder.exists() else folder.parent).free
    except OSError:
        return False
    return free < 64 * 1024 * 1024 and ("compaction" in text or "disk" in text or "write" in text)


def _megabytes(chunks: int) -> int:
    return max(1, round(chunks * 6 / 1000))  # measured: about 6 MB a thousand chunks on disk, with the copy aside


_SEGMENT_DIR = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _remove_orphan_segments(chroma_dir: Path) -> None:
    """Delete vector-segment folders that Chroma's own catalogue no longer lists.

    An ingest killed while Chroma wrote a new collection's HNSW files leaves a segment folder (5-9 MB) that
    deleting the collection later does not remove. Chroma has no API for this; its catalogue (the ``segments``
    table of chroma.sqlite3) is read, never written, and nothing is deleted if it cannot be read. Runs under the
    ingest lock, so no collection is being created meanwhile.
    """
    import sqlite3

    try:
        with closing(sqlite3.connect(f"file:{chroma_dir / 'chroma.sqlite3'}?mode=ro", uri=True)) as db:
            known = {str(row[0]) for row in db.execute("SELECT id FROM segments")}
    except sqlite3.Error as exc:
        _LOG.warning("Orphan segment check skipped: cannot read Chroma's catalogue (%s).", exc)
        return
    for entry in chroma_dir.iterdir():
        if entry.is_dir() and _SEGMENT_DIR.match(entry.name) and entry.name not in known:
            shutil.rmtree(entry, ignore_errors=True)


def _http_client(url: str, chroma_settings: Any) -> Any:
    """A client for a Chroma server; fails with what to do when nothing answers at ``url``."""
    import chromadb

    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChromaServerError(f"KBQA_CHROMA_URL '{url}' is not an http(s) URL; use e.g. http://localhost:8000.")
    try:
        return chromadb.HttpClient(
            host=parts.hostname,
            port=parts.port or (443 if parts.scheme == "https" else 80),
            ssl=parts.scheme == "https",
            settings=chroma_settings,
        )
    except Exception as exc:
        raise ChromaServerError(
            f"Cannot reach the Chroma server at {url}: {exc}. Start it (`chroma run --path DIR --port PORT`) "
            "or unset KBQA_CHROMA_URL to use the embedded index."
        ) from exc


@dataclass
class _ReadArticle:
    """An article of the corpus as this ingest found it; ``chunks`` is None when its file was not read again."""

    article_id: str
    article_hash: str
    path: Path
    chunks: list[Document] | None = None


@dataclass
class _StoredArticle:
    ids: list[str] = field(default_factory=list)
    hashes: set[str] = field(default_factory=set)
    source_path: str = ""


class _LazyEmbeddings(Embeddings):
    """Defers loading the model until something is embedded, so `stats` and listing stay fast."""

    def __init__(self, factory: Callable[[], Embeddings]) -> None:
        self._factory = factory

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._factory().embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._factory().embed_query(text)


def _search_depth(collection: Any, ef_search: int) -> None:
    """Set the HNSW search depth of a collection made with another one (Chroma's default, or an earlier setting).
    Before its first query: the index keeps the value it was loaded with."""
    hnsw = (collection.configuration_json or {}).get("hnsw") or {}
    if hnsw.get("ef_search") != ef_search:
        collection.modify(configuration={"hnsw": {"ef_search": ef_search}})
