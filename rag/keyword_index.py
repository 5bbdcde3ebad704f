"""The BM25 keyword index (bm25s), derived from the chunks in Chroma and persisted beside it.

Chroma is the source of truth: the keyword index is rebuilt from the collection's chunks after an
ingest that changed anything, and carries the fingerprint of the chunk ids it was built from, so a
mismatch (an interrupted ingest) is detected on open and repaired. Chroma's own BM25 (sparse vector
indexes) exists only in Chroma Cloud / distributed Chroma, not in a local or single-server Chroma.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

_WORD = re.compile(r"[a-z0-9]+(?:[._:/\\-][a-z0-9]+)*", re.IGNORECASE)
_PART = re.compile(r"[a-z]+|[0-9]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_IDS_FILE = "chunks.json"
_FINGERPRINT_FILE = "fingerprint"


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(text: str) -> list[str]:
    """Stemmed word tokens plus exact compound tokens.

    ``kube-proxy`` gives ``kube-proxy``, ``kube`` and ``proxy``; ``SubnetIsFull`` also gives
    ``subnet`` and ``full``; codes like ``0x80180014`` or ``10.0.0.10:53`` stay whole, so a string
    pasted from a log matches exactly while paraphrases still match word by word.
    """
    stop = _stopwords()
    out: list[str] = []
    for word in _WORD.findall(text):
        token = word.lower()
        if word.isalpha() and (word[1:].islower() or word.isupper()):
            # A plain word (most of them): no compound or camel-case parts, so skip the regexes below.
            if len(token) > 1 and token not in stop:
                out.append(token)
            continue
        parts = _PART.findall(_CAMEL.sub(" ", word).lower())
        if len(parts) > 1 or not token.isalpha():
            out.append(token)
        out.extend(p for p in parts if p not in stop and len(p) > 1)
    words = [t for t in out if t.isalpha()]
    stems = dict(zip(words, _stemmer().stemWords(words), strict=True))
    return [stems.get(t, t) for t in out]


@dataclass(frozen=True)
class KeywordHit:
    chunk_id: str
    score: float


class KeywordIndex:
    """BM25 over chunk texts with tag filtering and per-term IDF for sentence scoring."""

    def __init__(self, retriever, ids: list[str], tags: list[str], fingerprint: str) -> None:  # type: ignore[no-untyped-def]
        self._bm25 = retriever
        self.ids = ids
        self._tags = tags
        self.fingerprint = fingerprint
        self._masks: dict[str, np.ndarray] = {}
        # An empty KB (every article removed) has no BM25 model: bm25s cannot index zero documents.
        csc: dict[str, Any] = retriever.scores if retriever is not None else {"indptr": [0], "num_docs": 0}
        self._df = np.diff(np.asarray(csc["indptr"]))
        self._n_docs = int(csc["num_docs"])

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str], tags: Sequence[str]) -> KeywordIndex:
        import bm25s

        retriever = None
        if texts:
            retriever = bm25s.BM25()
            retriever.index([tokenize(t) for t in texts], show_progress=False)
        return cls(retriever, list(ids), list(tags), ids_fingerprint(ids))

    def save(self, directory: Path) -> None:
        """Write beside the old index, then swap, so readers never see half a file set."""
        tmp = directory.with_name(directory.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self._bm25 is not None:
            self._bm25.save(str(tmp), show_progress=False)
        (tmp / _IDS_FILE).write_text(
            json.dumps({"fingerprint": self.fingerprint, "ids": self.ids, "tags": self._tags}), encoding="utf-8"
        )
        (tmp / _FINGERPRINT_FILE).write_text(self.fingerprint, encoding="utf-8")
        old = directory.with_name(directory.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if directory.exists():
            directory.rename(old)
        tmp.rename(directory)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path) -> KeywordIndex | None:
        """The saved index, or None if there is none or it is unreadable (the caller rebuilds it)."""
        import bm25s

        try:
            data = json.loads((directory / _IDS_FILE).read_text(encoding="utf-8"))
            retriever = bm25s.BM25.load(str(directory), mmap=False, show_progress=False) if data["ids"] else None
        except (OSError, ValueError, KeyError):
            return None
        return cls(retriever, data["ids"], data["tags"], data["fingerprint"])

    @staticmethod
    def stored_fingerprint(directory: Path) -> str | None:
        """The fingerprint of the saved index without loading it (a cheap consistency check)."""
        try:
            return (directory / _FINGERPRINT_FILE).read_text(encoding="utf-8").strip()
        except OSError:
            return None

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query_tokens: list[str], k: int, tags: Sequence[str] = ()) -> list[KeywordHit]:
        if not self.ids or not query_tokens:
            return []
        scores = self._bm25.get_scores(list(dict.fromkeys(query_tokens)))  # a word pasted 100 times counts once
        if tags:
            mask = np.zeros(len(self.ids), bool)
            for tag in tags:
                mask |= self._tag_mask(tag)
            scores = np.where(mask, scores, 0.0)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [KeywordHit(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def _tag_mask(self, tag: str) -> np.ndarray:
        """Chunks carrying ``tag``, computed once per tag (a Python pass over 100k chunks per query was slow)."""
        mask = self._masks.get(tag)
        if mask is None:
            mask = np.fromiter((tag in t.split(",") for t in self._tags), bool, len(self._tags))
            self._masks[tag] = mask
        return mask

    def idf(self, token: str) -> float:
        """Inverse document frequency; a token the KB never uses gets the highest weight."""
        token_id = self._bm25.vocab_dict.get(token) if self._bm25 is not None else None
        df = int(self._df[token_id]) if token_id is not None and token_id < len(self._df) else 0
        return math.log(1 + (self._n_docs - df + 0.5) / (df + 0.5))


def ids_fingerprint(ids: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for chunk_id in sorted(ids):
        digest.update(chunk_id.encode() + b"\0")
    return digest.hexdigest()[:24]
