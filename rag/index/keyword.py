"""The BM25 keyword index (bm25s), derived from the chunks in Chroma and persisted beside it.

Chroma is the source of truth: the keyword index is rebuilt from the collection's chunks after an
ingest that changed anything, and carries the fingerprint of the chunk ids it was built from, so a
mismatch (an interrupted ingest) is detected on open and repaired. Chroma's own BM25 (sparse vector
indexes) exists only in Chroma Cloud / distributed Chroma, not in a local or single-server Chroma.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import shutil
from collections import Counter
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
_WORDS_FILE = "words.json"  # the KB's words as written, with their counts, for spelling correction
_ALPHA_WORD = re.compile(r"(?<![\w./-])[A-Za-z]{5,}(?![\w/-])")  # plain words: not parts of paths, flags, names
_MIN_TYPO_CHARS = 5  # shorter words are not corrected
_FINGERPRINT_FILE = "fingerprint"
_TOKENS_FILE = "tokens.npz"  # every chunk's tokens (ids into _VOCAB_FILE), so the next index reuses them
_VOCAB_FILE = "vocab.json"
_ARTICLES_FILE = "articles.json"  # the generation's articles: chunk ids, content hash, source (for the next ingest)


def _bm25s() -> Any:
    """bm25s, with its DEBUG lines ("Building index from tokens") kept out of kbqa's output."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


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


# Closed-class words of questions and chat (pronouns, auxiliaries, interrogatives, fillers) that bm25s' short English
# list keeps. In a KB that rarely writes "what", "does" or "we" they get a high IDF, so "what does agent mode turn
# off" was scored as if "what" and "does" were facts to find. Particles that carry meaning in docs ("off", "down",
# "out", "up", "before") and words that are commands ("get", "set") stay terms.
_QUESTION_WORDS = """
a about above am an any anyone anything are aren't arent be been being both can could couldn't d did didn't
didnt do does doesn't doesnt doing don't dont each either else etc even ever exactly every guys he her here
hers him his how however hi hello i i'd i'm i've im is isn't isnt it it's its itself just kind like ll lot
lots may me might mine more most much must my myself need needs neither nor now of ok okay one ones or other
our ours ourselves please pls re really s she should shouldn't so some someone something somehow sort still
such t than thank thanks that that's thats the their theirs them themselves then there there's these they
thing things this those thx too trying us ve very want wanted wants was wasn't way we we're were weren't what
what's whats whatever when where which while who whom whose why will with won't wont would wouldn't yeah yes
yet you you're your yours yourself
"""


@lru_cache(maxsize=1)
def _question_words() -> frozenset[str]:
    return frozenset(tokenize(_QUESTION_WORDS))


def question_terms(text: str) -> list[str]:
    """The terms of a question that it asks about: ``tokenize`` without the words every question has."""
    words = _question_words()
    return [t for t in tokenize(text) if t not in words]


@dataclass(frozen=True)
class KeywordHit:
    chunk_id: str
    score: float


class KeywordIndex:
    """BM25 over chunk texts with tag filtering and per-term IDF for sentence scoring."""

    def __init__(  # type: ignore[no-untyped-def]
        self, retriever, ids: list[str], tags: list[str], fingerprint: str, words: dict[str, int] | None = None
    ) -> None:
        self._bm25 = retriever
        self.ids = ids
        self._tags = tags
        self.fingerprint = fingerprint
        self._masks: dict[str, np.ndarray] = {}
        # An empty KB (every article removed) has no BM25 model: bm25s cannot index zero documents.
        csc: dict[str, Any] = retriever.scores if retriever is not None else {"indptr": [0], "num_docs": 0}
        self._df = np.diff(np.asarray(csc["indptr"]))
        self._n_docs = int(csc["num_docs"])
        self._words = words or {}
        self._spellings: list[str] | None = None
        self._tokens: _Tokens | None = None  # kept after a build, until saved
        self.articles: dict[str, Any] | None = None  # saved with the index when set

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str], tags: Sequence[str]) -> KeywordIndex:
        return cls._from_tokens(list(ids), _Tokens.of([tokenize(t) for t in texts]), list(tags), _words_of(texts))

    @classmethod
    def _from_tokens(cls, ids: list[str], tokens: _Tokens, tags: list[str], words: Counter[str]) -> KeywordIndex:
        retriever = None
        if ids:
            retriever = _bm25s().BM25()
            # bm25s scores a corpus chunk by chunk in Python (4 s at 100k chunks); the same Lucene BM25 in numpy
            # takes a fraction, and an edit rebuilds it (tests/index/test_keyword_index.py compares the two).
            vocab = tokens.vocab_dict()
            retriever.scores = tokens.bm25(retriever.k1, retriever.b)
            retriever.vocab_dict = vocab | ({} if "" in vocab else {"": len(vocab)})  # bm25s' empty-query token
            retriever.unique_token_ids_set = set(retriever.vocab_dict.values())
            retriever.nonoccurrence_array = None  # only BM25L and BM25+ use it
        index = cls(retriever, ids, tags, ids_fingerprint(ids), {w: n for w, n in words.items() if n > 0})
        index._tokens = tokens
        return index

    @classmethod
    def updated(
        cls,
        directory: Path,
        drop: set[str],
        dropped_texts: Sequence[str],
        ids: Sequence[str],
        texts: Sequence[str],
        tags: Sequence[str],
    ) -> KeywordIndex | None:
        """The index saved in ``directory`` without the chunks ``drop`` (whose texts are ``dropped_texts``) and
        with the chunks ``ids``: only the new texts are tokenized, so the cost follows the change (BM25's
        statistics are recomputed from the kept tokens). None when ``directory`` has no saved tokens (an index
        from before they were kept): the caller builds anew."""
        try:
            data = json.loads((directory / _IDS_FILE).read_text(encoding="utf-8"))
            words = Counter(json.loads((directory / _WORDS_FILE).read_text(encoding="utf-8")))
            saved = _Tokens.load(directory)
        except (OSError, ValueError, KeyError):
            return None
        if saved is None or len(saved.offsets) != len(data["ids"]) + 1:
            return None
        kept = [n for n, chunk_id in enumerate(data["ids"]) if chunk_id not in drop]
        words.subtract(_words_of(dropped_texts))
        words.update(_words_of(texts))
        return cls._from_tokens(
            [data["ids"][n] for n in kept] + list(ids),
            saved.select(kept).extended([tokenize(t) for t in texts]),
            [data["tags"][n] for n in kept] + list(tags),
            words,
        )

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
        (tmp / _WORDS_FILE).write_text(json.dumps(self._words), encoding="utf-8")
        if self.articles is not None:
            (tmp / _ARTICLES_FILE).write_text(json.dumps(self.articles), encoding="utf-8")
        if self._tokens is not None:
            self._tokens.save(tmp)
            self._tokens = None  # a reader does not need them; the next ingest reads them from disk
        old = directory.with_name(directory.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if directory.exists():
            directory.rename(old)
        tmp.rename(directory)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path) -> KeywordIndex | None:
        """The saved index, or None if there is none or it is unreadable (the caller rebuilds it)."""
        bm25s = _bm25s()

        try:
            data = json.loads((directory / _IDS_FILE).read_text(encoding="utf-8"))
            retriever = bm25s.BM25.load(str(directory), mmap=False, show_progress=False) if data["ids"] else None
        except (OSError, ValueError, KeyError):
            return None
        try:  # indexes written before spelling correction have no word list: they work without it
            words = json.loads((directory / _WORDS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            words = {}
        return cls(retriever, data["ids"], data["tags"], data["fingerprint"], words)

    @staticmethod
    def stored_articles(directory: Path, fingerprint: str) -> dict[str, Any] | None:
        """The article list saved with the index in ``directory``, if that index has ``fingerprint``."""
        if KeywordIndex.stored_fingerprint(directory) != fingerprint:
            return None
        try:
            return dict(json.loads((directory / _ARTICLES_FILE).read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None

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

    def known(self, token: str) -> bool:
        return self._bm25 is not None and token in self._bm25.vocab_dict

    def weights(self, question: str, narrative: bool = False) -> dict[str, float]:
        """IDF weights of the terms a question asks about, for judging how well a passage covers them.

        Misspelt words count as the KB's spelling (``corrected``). Another term the KB never uses is either a value
        of the asker's own system (an ID, an IP, a path, a timestamp in a pasted log: in no article, so it weighs
        nothing) or a word the KB does not know (the highest weight: a product or feature the KB may not cover). In a
        ``narrative`` (a ticket: "since Monday my colleague hmuller …") such words are the customer's own story and
        weigh nothing too; the problem is named by what the KB does know.
        """
        terms = question_terms(self.corrected(question))
        return {t: self.idf(t) for t in dict.fromkeys(terms) if self.known(t) or (t.isalpha() and not narrative)}

    def corrected(self, text: str) -> str:
        """``text`` with words the KB never uses but nearly spells ("promethues", "clsuter", "retenion") written as
        the KB spells them: one edit away (a swap of two letters is one), the most used of the candidates. Short
        words are left alone, as one edit makes another word ("eks" is not "aks"), and so is a word two edits from
        the KB's ("permitted" is not "persisted")."""
        if not self._words:
            return text

        def fix(match: re.Match[str]) -> str:
            word = match.group(0)
            lower = word.lower()
            if len(lower) < _MIN_TYPO_CHARS or lower in self._words or all(self.known(t) for t in tokenize(lower)):
                return word
            return self._closest(lower) or word

        return _ALPHA_WORD.sub(fix, text)

    def _closest(self, word: str) -> str | None:
        from rapidfuzz.distance import OSA
        from rapidfuzz.process import extract

        if self._spellings is None:  # built once, on the first misspelt word
            self._spellings = list(self._words)
        found = extract(word, self._spellings, scorer=OSA.distance, score_cutoff=1, limit=None)
        return max((w for w, _, _ in found), key=lambda w: (self._words[w], w), default=None)

    def idf(self, token: str) -> float:
        """Inverse document frequency; a token the KB never uses gets the highest weight."""
        token_id = self._bm25.vocab_dict.get(token) if self._bm25 is not None else None
        df = int(self._df[token_id]) if token_id is not None and token_id < len(self._df) else 0
        return math.log(1 + (self._n_docs - df + 0.5) / (df + 0.5))


def _words_of(texts: Sequence[str]) -> Counter[str]:
    return Counter(w.lower() for t in texts for w in _ALPHA_WORD.findall(t))


@dataclass
class _Tokens:
    """Every chunk's tokens as ids into ``vocab`` (one flat array, cut at ``offsets``): what BM25 is built from,
    saved beside the index so the next one reuses them instead of tokenizing every chunk again."""

    flat: np.ndarray  # int32 token ids, chunk after chunk
    offsets: np.ndarray  # int64, len = chunks + 1
    vocab: list[str]

    @classmethod
    def of(cls, docs: list[list[str]]) -> _Tokens:
        return cls(np.zeros(0, np.int32), np.zeros(1, np.int64), []).extended(docs)

    def vocab_dict(self) -> dict[str, int]:
        return {t: n for n, t in enumerate(self.vocab)}

    def select(self, rows: list[int]) -> _Tokens:
        """The chunks ``rows`` (ascending), with the vocabulary cut down to the tokens they use (so IDF and "known word"
        answers are those of a fresh build)."""
        lengths = np.diff(self.offsets)
        keep = np.zeros(len(lengths), bool)
        keep[rows] = True
        flat = self.flat[np.repeat(keep, lengths)]  # O(tokens): no per-chunk slices, no sort
        used = np.flatnonzero(np.bincount(flat, minlength=len(self.vocab)))
        renumber = np.zeros(len(self.vocab), np.int32)
        renumber[used] = np.arange(len(used), dtype=np.int32)
        offsets = np.zeros(len(rows) + 1, np.int64)
        np.cumsum(lengths[rows], out=offsets[1:])
        return _Tokens(renumber[flat], offsets, [self.vocab[t] for t in used])

    def extended(self, docs: list[list[str]]) -> _Tokens:
        vocab = self.vocab_dict()
        added = np.fromiter((vocab.setdefault(t, len(vocab)) for doc in docs for t in doc), dtype=np.int32)
        lengths = np.cumsum([len(doc) for doc in docs], dtype=np.int64) + self.offsets[-1]
        return _Tokens(np.concatenate([self.flat, added]), np.concatenate([self.offsets, lengths]), list(vocab))

    def bm25(self, k1: float, b: float) -> dict[str, Any]:
        """Lucene BM25 scores as bm25s keeps them: a chunk x token CSC matrix (data, indices, indptr)."""
        n_docs = len(self.offsets) - 1
        lengths = np.diff(self.offsets)
        doc_of = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
        order = np.argsort(self.flat, kind="stable")  # by token, chunks ascending within a token
        token, doc = self.flat[order].astype(np.int64), doc_of[order]
        key = token * n_docs + doc
        starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
        tf = np.diff(np.concatenate([starts, [len(key)]])).astype(np.float64)
        token, doc = token[starts], doc[starts]
        df = np.bincount(token, minlength=len(self.vocab))
        idf = np.log(1 + (n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        tfc = tf / (tf + k1 * (1 - b + b * lengths[doc] / max(float(lengths.mean()), 1e-9)))
        return {
            "data": (idf[token] * tfc).astype(np.float32),
            "indices": doc.astype(np.int32),
            "indptr": np.concatenate([[0], np.cumsum(df)]).astype(np.int64),
            "num_docs": n_docs,
        }

    def save(self, directory: Path) -> None:
        np.savez(directory / _TOKENS_FILE, flat=self.flat, offsets=self.offsets)
        (directory / _VOCAB_FILE).write_text(json.dumps(self.vocab), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> _Tokens | None:
        if not (directory / _TOKENS_FILE).is_file():
            return None
        with np.load(directory / _TOKENS_FILE) as saved:
            flat, offsets = saved["flat"], saved["offsets"]
        return cls(flat, offsets, json.loads((directory / _VOCAB_FILE).read_text(encoding="utf-8")))


def ids_fingerprint(ids: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for chunk_id in sorted(ids):
        digest.update(chunk_id.encode() + b"\0")
    return digest.hexdigest()[:24]
