"""Core benchmark: ingest throughput and ask latency, each against its bare-library baseline.

    python eval/bench/core.py                                  # corpus/ and ../shared/corpora if present
    python eval/bench/core.py --corpus corpus --questions 20

Ingest: end-to-end `Pipeline.ingest` chunks/s (read, clean, chunk, embed, Chroma add, BM25 build) vs
`SentenceTransformer.encode` alone on the same chunk texts. Ask: warm-process `Pipeline.ask` latency
vs bare query embedding + Chroma query for the same questions. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

from rag import Pipeline, load_settings
from rag.chunking import chunk_article
from rag.errors import LoadError
from rag.loaders import discover, load_article

ROOT = Path(__file__).resolve().parents[2]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def chunk_texts(corpus: Path, settings) -> list[str]:  # type: ignore[no-untyped-def]
    texts: list[str] = []
    for path in discover([corpus]):
        try:
            article = load_article(path, settings.max_file_bytes)
        except LoadError:
            continue
        texts.extend(c.page_content for c in chunk_article(article, settings.chunk_size, settings.chunk_overlap))
    return texts


def bench(corpus: Path, questions: list[str]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = Pipeline(load_settings(index_dir=Path(tmp)))
        s = pipeline.settings
        model = pipeline.embeddings()._client  # the SentenceTransformer inside HuggingFaceEmbeddings
        model.encode(["warm up"], normalize_embeddings=True)
        texts = chunk_texts(corpus, s)

        t = time.perf_counter()
        model.encode(texts, batch_size=s.embedding_batch_size, normalize_embeddings=True)
        encode_s = time.perf_counter() - t

        t = time.perf_counter()
        report = pipeline.ingest([corpus])
        ingest_s = time.perf_counter() - t

        pipeline.ask(questions[0])  # warm: keyword index and answerer load once per process
        ask_ms, bare_ms = [], []
        collection = pipeline.index.collection
        for question in questions:
            t = time.perf_counter()
            pipeline.ask(question)
            ask_ms.append((time.perf_counter() - t) * 1e3)
            t = time.perf_counter()
            vector = pipeline.embeddings().embed_query(question)
            collection.query(query_embeddings=[vector], n_results=s.candidates)
            bare_ms.append((time.perf_counter() - t) * 1e3)
    return {
        "articles": report.articles,
        "chunks": report.chunks_total,
        "encode_chunks_per_s": len(texts) / encode_s,
        "ingest_chunks_per_s": report.chunks_total / ingest_s,
        "ingest_ratio": (report.chunks_total / ingest_s) / (len(texts) / encode_s),
        "ask_p50_ms": statistics.median(ask_ms),
        "ask_p95_ms": percentile(ask_ms, 0.95),
        "bare_p50_ms": statistics.median(bare_ms),
        "bare_p95_ms": percentile(bare_ms, 0.95),
        "ask_ratio_p50": statistics.median(ask_ms) / statistics.median(bare_ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, action="append", help="corpus folder (repeatable)")
    parser.add_argument("--questions", type=int, default=20)
    args = parser.parse_args()
    corpora = args.corpus or [ROOT / "corpus"] + [p for p in [ROOT.parent / "shared" / "corpora"] if p.is_dir()]
    sets = {
        ROOT / "corpus": ROOT / "eval" / "kb_eval.jsonl",
        ROOT.parent / "shared" / "corpora": ROOT / "eval" / "shared_corpora_eval.jsonl",
    }
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M')}\n")
    rows = []
    for corpus in corpora:
        qfile = sets.get(corpus.resolve(), ROOT / "eval" / "kb_eval.jsonl")
        qs = [json.loads(line)["question"] for line in qfile.read_text(encoding="utf-8").splitlines() if line.strip()]
        rows.append((corpus, bench(corpus, qs[: args.questions])))
    keys = list(rows[0][1])
    print("| corpus | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for corpus, result in rows:
        cells = [f"{v:.0f}" if isinstance(v, int) else f"{v:.2f}" for v in result.values()]
        print(f"| {corpus.name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
