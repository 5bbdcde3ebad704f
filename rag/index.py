"""The KB index: chunks in Chroma (dense) plus the BM25 keyword index, kept in step.

Ingest is incremental by article: an article whose chunks and metadata hash the same as what is
stored is not embedded again; a changed article's chunks are replaced; an article whose file is gone
is removed. A file that fails to load keeps whatever was indexed from it before.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from rag.chunking import chunk_article, chunk_tags
from rag.errors import ChromaServerError, IndexMismatchError, IndexNotFoundError, LoadError
from rag.keyword_index import KeywordIndex, ids_fingerprint
from rag.loaders import discover, load_article
from rag.settings import Settings

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` during long work; the CLI and UI draw it."""

SCHEMA_VERSION = 1
_KW_FINGERPRINT = "keyword_fingerprint"


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

    @property
    def ok(self) -> bool:
        return not self.failures


class KnowledgeIndex:
    """Chroma collection + keyword index for one settings object."""

    def __init__(self, settings: Settings, embeddings: Callable[[], Embeddings]) -> None:
        self.settings = settings
        self._embeddings = embeddings
        self._store: Any = None
        self._keyword: KeywordIndex | None = None

    # -- opening ---------------------------------------------------------------------------
    def exists(self) -> bool:
        if self.settings.chroma_url:
            return True  # a server: whether the collection is there is asked in store()
        return (self.settings.chroma_dir / "chroma.sqlite3").is_file()

    def _client(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if self.settings.chroma_url:
            return _http_client(self.settings.chroma_url, chroma_settings)
        self.settings.chroma_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(self.settings.chroma_dir), settings=chroma_settings)

    def store(self, create: bool = False) -> Any:
        """The langchain Chroma store; raises IndexNotFoundError unless ``create``."""
        if self._store is not None:
            return self._store
        if not create and not self.exists():
            raise IndexNotFoundError(self.where)
        from langchain_chroma import Chroma

        client = self._client()
        names = {c.name for c in client.list_collections()}
        if not create and self.settings.collection not in names:
            raise IndexNotFoundError(self.where)
        store = Chroma(
            client=client,
            collection_name=self.settings.collection,
            embedding_function=_LazyEmbeddings(self._embeddings),
            collection_configuration={"hnsw": {"space": "cosine"}},
            collection_metadata={
                "embedding_model": self.settings.embedding_model,
                "embedding_backend": self.settings.embedding_backend,
                "schema": SCHEMA_VERSION,
            },
        )
        meta = store._collection.metadata or {}
        for key in ("embedding_model", "embedding_backend"):
            # Indexes from before backends were selectable were all built with torch.
            built_with = meta.get(key, "torch" if key == "embedding_backend" else None)
            wanted = getattr(self.settings, key)
            if built_with and built_with != wanted:
                raise IndexMismatchError(
                    f"The index in {self.where} was built with {key.replace('_', ' ')} '{built_with}', but the "
                    f"settings say '{wanted}'. Run `kbqa ingest --rebuild` to re-embed the corpus, or set "
                    f"KBQA_{key.upper()}={built_with}."
                )
        self._store = store
        return store

    @property
    def where(self) -> str:
        """The index's location as a user would name it: a folder or a Chroma server URL."""
        return self.settings.chroma_url or str(self.settings.index_dir)

    @property
    def collection(self) -> Any:
        return self.store()._collection

    def keyword(self) -> KeywordIndex:
        """The keyword index, loaded once; rebuilt from Chroma if missing or out of step."""
        if self._keyword is None:
            expected = (self.collection.metadata or {}).get(_KW_FINGERPRINT)
            loaded = KeywordIndex.load(self.settings.keyword_dir)
            if loaded is None or loaded.fingerprint != expected:
                loaded = self._rebuild_keyword()
            self._keyword = loaded
        return self._keyword

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

    def articles(self) -> list[dict[str, Any]]:
        """One row per indexed article: id, title, tags, updated, path, chunk count."""
        rows: dict[str, dict[str, Any]] = {}
        for meta in self._read_all(["metadatas"])["metadatas"]:
            row = rows.setdefault(
                meta["article_id"],
                {
                    "article_id": meta["article_id"],
                    "title": meta["title"],
                    "tags": chunk_tags(meta),
                    "updated": meta.get("updated", ""),
                    "source_path": meta["source_path"],
                    "source_url": meta.get("source_url", ""),
                    "chunks": 0,
                },
            )
            row["chunks"] += 1
        return sorted(rows.values(), key=lambda r: r["article_id"])

    # -- ingest ----------------------------------------------------------------------------
    def ingest(self, paths: Iterable[Path], progress: Progress | None = None, rebuild: bool = False) -> IngestReport:
        started = time.perf_counter()
        roots = [Path(p) for p in paths]
        for root in roots:
            if not root.exists():
                raise LoadError(root, "no such file or folder; pass a corpus folder or file that exists")
        if rebuild:
            self._drop()
        report = IngestReport()
        files = list(discover(roots))
        report.files = len(files)
        chunks_by_article, loaded_paths = self._load(files, report, progress)
        report.articles = len(chunks_by_article)

        store = self.store(create=True)
        to_add, to_delete = self._plan(chunks_by_article, loaded_paths, roots, report)
        new_ids = {c.id for c in to_add}
        stale = [i for i in to_delete if i not in new_ids]
        if to_add or stale:
            # Intent first: an ingest killed from here on leaves the keyword index marked out of step, and the
            # next open rebuilds it from Chroma (the fingerprint alone would still match the old chunk set).
            self._set_keyword_fingerprint("pending")
        if to_add and progress:  # shown while the model loads (the first run also exports it to ONNX)
            progress("embedding model", 0, 1)
            self._embeddings()
            progress("embedding model", 1, 1)
        self._add(store, to_add, progress)
        for start in range(0, len(stale), 5000):
            store.delete(ids=stale[start : start + 5000])
        report.chunks_embedded = len(to_add)
        report.chunks_deleted = len(stale)

        expected = (self.collection.metadata or {}).get(_KW_FINGERPRINT)
        in_step = expected is not None and KeywordIndex.stored_fingerprint(self.settings.keyword_dir) == expected
        if to_add or stale or not in_step:
            if progress:
                progress("keyword index", 0, 1)
            self._keyword = self._rebuild_keyword()
            if progress:
                progress("keyword index", 1, 1)
        report.chunks_total = self.count()
        report.seconds = time.perf_counter() - started
        return report

    def _plan(
        self,
        chunks_by_article: dict[str, list[Document]],
        loaded_paths: set[str],
        roots: list[Path],
        report: IngestReport,
    ) -> tuple[list[Document], list[str]]:
        """Decide what to embed and what to delete by comparing article hashes with the stored ones."""
        existing = self._existing()
        to_add: list[Document] = []
        to_delete: list[str] = []
        for article_id, chunks in chunks_by_article.items():
            old = existing.pop(article_id, None)
            if old and old.hashes == {chunks[0].metadata["article_hash"]}:
                report.unchanged += 1
                continue
            (report.updated if old else report.added).append(article_id)
            to_add.extend(chunks)
            if old:
                to_delete.extend(old.ids)
        # Left in `existing`: articles this run did not produce. Remove those whose file is gone from an
        # ingested folder, or whose file now holds another id; keep those whose file failed to load.
        resolved_roots = [r.resolve() for r in roots]
        for article_id, old in existing.items():
            source = Path(old.source_path)
            gone = not source.exists() and any(source.is_relative_to(r) for r in resolved_roots)
            if gone or str(source) in loaded_paths:
                report.removed.append(article_id)
                to_delete.extend(old.ids)
        return to_add, to_delete

    def _load(
        self, files: list[Path], report: IngestReport, progress: Progress | None
    ) -> tuple[dict[str, list[Document]], set[str]]:
        chunks_by_article: dict[str, list[Document]] = {}
        owner: dict[str, str] = {}
        loaded_paths: set[str] = set()
        for done, path in enumerate(files, 1):
            try:
                article = load_article(path, self.settings.max_file_bytes)
                article_id = article.metadata["article_id"]
                if article_id in owner:
                    raise LoadError(
                        path,
                        f"duplicate article id '{article_id}' (also used by {owner[article_id]}); "
                        "give each article its own id",
                    )
                chunks = chunk_article(article, self.settings.chunk_size, self.settings.chunk_overlap)
                if not chunks:
                    raise LoadError(path, "no article text left after removing headings and chrome")
            except LoadError as exc:
                report.failures.append(FileFailure(str(exc.path), exc.reason))
            else:
                owner[article_id] = str(path)
                chunks_by_article[article_id] = chunks
                loaded_paths.add(str(path.resolve()))
            if progress:
                progress("reading", done, len(files))
        return chunks_by_article, loaded_paths

    def _add(self, store: Any, chunks: list[Document], progress: Progress | None) -> None:
        batch = max(self.settings.embedding_batch_size, 1) * 4
        for start in range(0, len(chunks), batch):
            part = chunks[start : start + batch]
            store.add_documents(part, ids=[c.id for c in part])
            if progress:
                progress("embedding", min(start + batch, len(chunks)), len(chunks))
        if not chunks and progress:
            progress("embedding", 0, 0)

    def _existing(self) -> dict[str, _StoredArticle]:
        stored: dict[str, _StoredArticle] = defaultdict(_StoredArticle)
        got = self._read_all(["metadatas"])
        for chunk_id, meta in zip(got["ids"], got["metadatas"], strict=True):
            entry = stored[meta["article_id"]]
            entry.ids.append(chunk_id)
            entry.hashes.add(meta["article_hash"])
            entry.source_path = meta["source_path"]
        return dict(stored)

    def _read_all(self, include: list[str], page: int = 5000) -> dict[str, list[Any]]:
        """Every chunk, read in pages: one unbounded get() of 100k chunks is slow and heavy over HTTP."""
        out: dict[str, list[Any]] = {"ids": [], **{k: [] for k in include}}
        total = self.count()
        for offset in range(0, total, page):
            got = self.collection.get(include=include, limit=page, offset=offset)
            for key in out:
                out[key].extend(got[key])
        return out

    def _rebuild_keyword(self) -> KeywordIndex:
        got = self._read_all(["documents", "metadatas"])
        index = KeywordIndex.build(got["ids"], got["documents"], [m.get("tags", "") for m in got["metadatas"]])
        index.save(self.settings.keyword_dir)
        self._set_keyword_fingerprint(ids_fingerprint(got["ids"]))
        return index

    def _set_keyword_fingerprint(self, value: str) -> None:
        meta = dict(self.collection.metadata or {})
        meta[_KW_FINGERPRINT] = value
        self.collection.modify(metadata=meta)

    def _drop(self) -> None:
        if self.exists():
            client = self._client()
            if self.settings.collection in {c.name for c in client.list_collections()}:
                client.delete_collection(self.settings.collection)
        self._store = None
        self._keyword = None


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
