"""Every performance benchmark in one run: a Markdown table, a JSON file and a latency plot.

    python eval/bench/perf.py                       # all sections, sizes 1k/10k/100k (~1 h on 2 cores)
    python eval/bench/perf.py --sizes 1000,10000    # quicker
    python eval/bench/perf.py --only backends       # one section

Sections (docs/PERFORMANCE.md explains each figure):
  backends     per embedding backend: encode-only and end-to-end ingest chunks/s on the same chunks, and
               retrieval quality on eval/kb_eval.jsonl;
  scale        a scale corpus per size, built from ../shared/corpora (originals, then perturbed copies);
               full ingest, re-ingest of the unchanged corpus, ask latency p50/p95 in a warm process vs
               bare query embedding + Chroma query, keyword search time, peak RSS (each in its own process);
  cold start   `kbqa ask` from process start to answer on the persisted index;
  server       the same asks against `chroma run` serving a copy of the index (KBQA_CHROMA_URL);
  concurrency  8 and 50 API clients and 50 web-app (Gradio queue) clients on `kbqa serve`: requests/s,
               p50/p95, errors, embedding model loads.

Built indexes are kept in --work and reused by the next run (re-ingest of the unchanged corpus is one of the
measurements); delete it to start over.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "corpora"
BACKENDS = ("torch", "onnx", "onnx-int8")
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def questions(limit: int) -> list[str]:
    files = [ROOT / "eval" / "shared_corpora_eval.jsonl", ROOT / "eval" / "kb_eval.jsonl"]
    qs = [json.loads(line)["question"] for f in files for line in f.read_text().splitlines() if line.strip()]
    return (qs * (limit // len(qs) + 1))[:limit]


def worker(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one measurement in a fresh process (peak RSS and cold caches are per process); return its JSON."""
    out = subprocess.run(
        [sys.executable, __file__, *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"worker {args} failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


# -- workers (run in their own process) ----------------------------------------------------------------------
def w_ingest(index: Path, corpus: Path) -> dict[str, Any]:
    from rag import Pipeline, load_settings

    pipeline = Pipeline(load_settings(index_dir=index))
    t = time.perf_counter()
    report = pipeline.ingest([corpus])
    seconds = time.perf_counter() - t
    return {
        "seconds": seconds,
        "chunks": report.chunks_total,
        "embedded": report.chunks_embedded,
        "failures": len(report.failures),
        "peak_rss_mb": peak_rss_mb(),
    }


def w_ask(index: Path, n: int, chroma_url: str | None) -> dict[str, Any]:
    from rag import Pipeline, load_settings

    pipeline = Pipeline(load_settings(index_dir=index, chroma_url=chroma_url))
    qs = questions(n)
    collection, embeddings, k = pipeline.index.collection, pipeline.embeddings(), pipeline.settings.candidates

    def bare_query(q: str) -> None:
        collection.query(query_embeddings=[embeddings.embed_query(q)], n_results=k)

    # A warm pass first (model, keyword index, Chroma segments and the chunks' pages), then one pass each:
    # timing ask and bare query back to back per question would hand the second one the first one's cache.
    for q in qs:
        pipeline.ask(q)
        bare_query(q)
    from rag.answer import extractive

    extractive.terms_of.cache_clear()  # conservative: kbqa's own per-chunk caches start empty again
    extractive._units.cache_clear()
    ask, bare, keyword, dense, embed, compose = [], [], [], [], [], []
    for q in qs:
        t = time.perf_counter()
        answer = pipeline.ask(q)
        ask.append((time.perf_counter() - t) * 1e3)
        keyword.append(answer.timings["keyword_ms"])
        dense.append(answer.timings["dense_ms"])
        embed.append(answer.timings["embed_ms"])
        compose.append(answer.timings["answer_ms"])
    for q in qs:
        t = time.perf_counter()
        bare_query(q)
        bare.append((time.perf_counter() - t) * 1e3)
    return {
        "chunks": pipeline.index.count(),
        "ask_p50_ms": statistics.median(ask),
        "ask_p95_ms": percentile(ask, 0.95),
        "bare_p50_ms": statistics.median(bare),
        "bare_p95_ms": percentile(bare, 0.95),
        "ratio_p50": statistics.median(ask) / statistics.median(bare),
        "ratio_p95": percentile(ask, 0.95) / percentile(bare, 0.95),
        "embed_p50_ms": statistics.median(embed),
        "dense_p50_ms": statistics.median(dense),
        "keyword_p50_ms": statistics.median(keyword),
        "keyword_p95_ms": percentile(keyword, 0.95),
        "answer_p50_ms": statistics.median(compose),
        "peak_rss_mb": peak_rss_mb(),
    }


def w_backend(backend: str, corpus: Path, max_chunks: int) -> dict[str, Any]:
    """Encode-only vs end-to-end ingest on the same chunks, and kb_eval retrieval, for one backend."""
    from rag import Pipeline, load_settings
    from rag.evaluation.run import evaluate, load_eval_set

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(index_dir=Path(tmp) / "idx", embedding_backend=backend)
        pipeline = Pipeline(settings)
        t = time.perf_counter()
        embeddings = pipeline.embeddings()
        embeddings.embed_query("warm up")
        load_s = time.perf_counter() - t
        subset = Path(tmp) / "corpus"
        texts = copy_articles(corpus, subset, max_chunks, settings)
        if backend == "torch":  # the bare library call: SentenceTransformer.encode inside HuggingFaceEmbeddings
            model = embeddings._client  # type: ignore[attr-defined]
            t = time.perf_counter()
            model.encode(texts, batch_size=settings.embedding_batch_size, normalize_embeddings=True)
        else:
            t = time.perf_counter()
            embeddings.embed_documents(texts)
        encode_s = time.perf_counter() - t
        pipeline.index.client()  # warm like the model: chromadb's import and the client are one-off costs
        t = time.perf_counter()
        report = pipeline.ingest([subset])
        ingest_s = time.perf_counter() - t

        kb = Pipeline(settings.model_copy(update={"index_dir": Path(tmp) / "kb"}))
        kb.ingest([ROOT / "corpus"])
        summary = evaluate(kb, load_eval_set(ROOT / "eval" / "kb_eval.jsonl")).summary
    return {
        "backend": backend,
        "load_s": load_s,
        "chunks": report.chunks_total,
        "encode_per_s": len(texts) / encode_s,
        "ingest_per_s": report.chunks_total / ingest_s,
        "ingest_ratio": (report.chunks_total / ingest_s) / (len(texts) / encode_s),
        "hit@1": summary["hit@1"],
        "hit@5": summary["hit@5"],
        "mrr": summary["mrr"],
        "must_include": summary["must_include"],
        "peak_rss_mb": peak_rss_mb(),
    }


# -- scale corpora --------------------------------------------------------------------------------------------
def chunked_pages(source: Path, settings: Any) -> Iterator[tuple[Path, list[str]]]:
    """Each loadable page under ``source`` with its chunk texts, chunked as ingest chunks it."""
    from rag.errors import LoadError
    from rag.ingest.chunking import chunk_article
    from rag.ingest.loaders import discover, load_article

    for path in discover([source]):
        try:
            article = load_article(path, settings.max_file_bytes)
        except LoadError:
            continue
        yield path, [c.page_content for c in chunk_article(article, settings.chunk_size, settings.chunk_overlap)]


def copy_articles(source: Path, target: Path, max_chunks: int, settings: Any) -> list[str]:
    """Copy articles from ``source`` until ``max_chunks`` chunks; return those chunks' texts."""
    target.mkdir(parents=True, exist_ok=True)
    texts: list[str] = []
    for path, chunks in chunked_pages(source, settings):
        if texts and len(texts) + len(chunks) > max_chunks:
            break
        shutil.copy(path, target / f"{len(texts):06d}-{path.name}")
        texts.extend(chunks)
    return texts


_WORD = re.compile(r"[A-Za-z]{4,}")


def perturb(text: str, rng: random.Random) -> str:
    """Another wording of the same page: ~10% of words dropped or swapped with a neighbour, numbers changed."""
    out = []
    for line in text.splitlines():
        if line.startswith(("#", "---", "```")) or not line.strip():
            out.append(line)
            continue
        words = line.split(" ")
        for i in range(len(words) - 1):
            roll = rng.random()
            if roll < 0.05:
                words[i], words[i + 1] = words[i + 1], words[i]
            elif roll < 0.10 and _WORD.fullmatch(words[i]):
                words[i] = ""
        line = " ".join(w for w in words if w)
        out.append(re.sub(r"\d", lambda _: str(rng.randrange(10)), line))
    return "\n".join(out)


def build_scale_corpus(target: Path, size: int) -> int:
    """The shared corpora once, then perturbed copies with their own ids, until ``size`` chunks; returns chunks."""
    import yaml

    from rag import load_settings
    from rag.ingest.loaders import default_id

    pages = [(path, len(chunks)) for path, chunks in chunked_pages(SHARED, load_settings())]
    target.mkdir(parents=True, exist_ok=True)
    total, copy = 0, 0
    while total < size:
        rng = random.Random(copy)
        for path, n in pages:
            if total >= size:
                break
            raw = path.read_text(encoding="utf-8", errors="replace")
            meta: dict[str, Any] = {}
            body = raw
            if raw.startswith("---"):
                _, front, body = raw.split("---", 2)
                meta = yaml.safe_load(front) or {}
            name = str(path.relative_to(SHARED).with_suffix("")).replace("/", "-") + (f"-v{copy}" if copy else "")
            new_path = target / f"{name}.md"
            if copy:
                meta["id"] = default_id(new_path)
                meta["title"] = f"{meta.get('title') or path.stem} (variant {copy})"
                body = perturb(body, rng)
            front = yaml.safe_dump(meta, sort_keys=False) if meta else ""
            new_path.write_text(f"---\n{front}---\n{body}" if front else body, encoding="utf-8")
            total += n
        copy += 1
    return total


# -- sections -------------------------------------------------------------------------------------------------
def section_backends(args: argparse.Namespace) -> list[dict[str, Any]]:
    corpus = SHARED if SHARED.is_dir() else ROOT / "corpus"
    rows = []
    for backend in BACKENDS:
        print(f"  backend {backend} …", flush=True)
        rows.append(worker(["_backend", backend, str(corpus), str(args.ingest_chunks)]))
    return rows


def section_scale(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for size in args.sizes:
        corpus, index = args.work / f"corpus-{size}", args.work / f"index-{size}"
        if not corpus.is_dir():
            print(f"  building a {size:,}-chunk corpus …", flush=True)
            build_scale_corpus(corpus, size)
        full = None
        if not (index / "chroma" / "chroma.sqlite3").is_file():
            print(f"  ingesting {size:,} chunks …", flush=True)
            full = worker(["_ingest", str(index), str(corpus)])
            (args.work / f"full-ingest-{size}.json").write_text(json.dumps(full))
        saved = args.work / f"full-ingest-{size}.json"
        full = full or (json.loads(saved.read_text()) if saved.is_file() else None)
        print(f"  re-ingesting the unchanged {size:,} …", flush=True)
        again = worker(["_ingest", str(index), str(corpus)])
        # Edits: the first after a fresh ingest builds aside (the second collection does not exist yet); later ones
        # change the collection one change behind (rag/index/store.py). A pause between ingests, as between a
        # team's saves: an ingest waits 2.5 s after the last switch before it changes that collection.
        articles = sorted(corpus.rglob("*.md"))
        print(f"  re-ingesting {size:,} with one article changed (first edit) …", flush=True)
        first_edit = worker(["_ingest", str(index), str(corpus)]) if _edit(articles[:1]) else None
        time.sleep(3)
        print(f"  re-ingesting {size:,} with one article changed …", flush=True)
        _edit(articles[1:2])
        changed = worker(["_ingest", str(index), str(corpus)])
        time.sleep(3)
        print(f"  re-ingesting {size:,} with 100 articles changed …", flush=True)
        _edit(articles[2:102])
        changed100 = worker(["_ingest", str(index), str(corpus)])
        print(f"  asking at {size:,} …", flush=True)
        ask = worker(["_ask", str(index), str(args.questions)])
        rows.append(
            {
                "size": size,
                "chunks": ask["chunks"],
                "ingest_s": full["seconds"] if full else None,
                "ingest_per_s": full["chunks"] / full["seconds"] if full else None,
                "ingest_peak_rss_mb": full["peak_rss_mb"] if full else None,
                "reingest_s": again["seconds"],
                "reingest_share": again["seconds"] / full["seconds"] if full else None,
                "first_edit_s": first_edit["seconds"] if first_edit else None,
                "change1_s": changed["seconds"],
                "change1_share": changed["seconds"] / full["seconds"] if full else None,
                "change100_s": changed100["seconds"],
                "change100_share": changed100["seconds"] / full["seconds"] if full else None,
                **{k: v for k, v in ask.items() if k != "chunks"},
            }
        )
    return rows


def _edit(articles: list[Path]) -> bool:
    """Append a new line to each article (a new one each run, so the articles always changed)."""
    for path in articles:
        with path.open("a", encoding="utf-8") as f:
            f.write(f"\nEdited by the benchmark at {time.time():.3f}.\n")
    return bool(articles)


def section_cold_start(args: argparse.Namespace, size: int) -> list[dict[str, Any]]:
    """`kbqa ask` from process start to printed answer: per backend on corpus/, and the default at ``size``."""
    cases = [(backend, args.work / f"index-kb-{backend}") for backend in ("torch", "onnx-int8")]
    cases.append(("onnx-int8", args.work / f"index-{size}"))
    rows = []
    for backend, index in cases:
        env = {"KBQA_EMBEDDING_BACKEND": backend}
        if not (index / "chroma" / "chroma.sqlite3").is_file():
            worker(["_ingest", str(index), str(ROOT / "corpus")], env)
        kbqa = Path(sys.executable).with_name("kbqa")
        command = [str(kbqa), "--index-dir", str(index), "ask", "--json", "Is kube-proxy a CNI plugin?"]
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            subprocess.run(command, capture_output=True, check=True, env={**os.environ, **env})
            runs.append(time.perf_counter() - t)
        chunks = worker(["_count", str(index)], env)["chunks"]
        rows.append({"backend": backend, "chunks": chunks, "cold_start_s": statistics.median(runs), "runs": runs})
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    rows.append({"backend": "(python -c pass)", "chunks": 0, "cold_start_s": time.perf_counter() - t})
    return rows


def section_cli(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Whole-process time of `kbqa` commands a script calls in a loop (issue 17): 7 runs each, min/median/max."""
    index = args.work / "index-kb-onnx-int8"
    if not (index / "chroma" / "chroma.sqlite3").is_file():
        worker(["_ingest", str(index), str(ROOT / "corpus")], {"KBQA_EMBEDDING_BACKEND": "onnx-int8"})
    kbqa = str(Path(sys.executable).with_name("kbqa"))
    cases = {
        "kbqa --help": [kbqa, "--help"],
        "kbqa --version": [kbqa, "--version"],
        "kbqa log list": [kbqa, "--index-dir", str(index), "log", "list"],
        "argument error": [kbqa, "no-such-command"],
        "kbqa ask (cold, no server)": [kbqa, "--index-dir", str(index), "ask", "Is kube-proxy a CNI plugin?"],
    }
    rows = [_timed(name, command) for name, command in cases.items()]
    # With a `kbqa serve` running for the same index, ask/search/triage answer through it (ui/remote.py).
    port = _free_port()
    server = subprocess.Popen(
        [kbqa, "--index-dir", str(index), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/api/health")
        ask = [kbqa, "--index-dir", str(index), "ask", "Is kube-proxy a CNI plugin?"]
        subprocess.run(ask, capture_output=True)  # the server loads its model on the first question
        rows.append(_timed("kbqa ask (server running)", ask))
        rows.append(_timed("kbqa search (server running)", [kbqa, "--index-dir", str(index), "search", "kube-proxy"]))
    finally:
        server.terminate()
        server.wait(timeout=60)
    return rows


def _timed(name: str, command: list[str]) -> dict[str, Any]:
    runs = []
    for _ in range(7):
        t = time.perf_counter()
        subprocess.run(command, capture_output=True, env={**os.environ, "KBQA_QUERY_LOG": "false"})
        runs.append(time.perf_counter() - t)
    return {"command": name, "min_s": min(runs), "median_s": statistics.median(runs), "max_s": max(runs)}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(url: str, timeout: float = 180) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"no server at {url} after {timeout:.0f} s")


def section_server(args: argparse.Namespace, size: int) -> dict[str, Any]:
    from rag.index.chroma_server import chroma_server

    index = args.work / f"index-{size}"
    copy = args.work / f"server-{size}"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(index, copy)  # one Chroma directory per process: the server gets its own copy
    embedded = worker(["_ask", str(index), str(args.questions)])
    with chroma_server(copy / "chroma") as url:
        served = worker(["_ask", str(copy), str(args.questions), url])
    return {
        "chunks": size,
        "embedded_p50_ms": embedded["ask_p50_ms"],
        "embedded_p95_ms": embedded["ask_p95_ms"],
        "server_p50_ms": served["ask_p50_ms"],
        "server_p95_ms": served["ask_p95_ms"],
        "server_dense_p50_ms": served["dense_p50_ms"],
        "embedded_dense_p50_ms": embedded["dense_p50_ms"],
        "overhead_p50_ms": served["ask_p50_ms"] - embedded["ask_p50_ms"],
    }


def section_concurrency(args: argparse.Namespace, size: int) -> list[dict[str, Any]]:
    """Concurrent clients on one `kbqa serve`: 8 and 50 on the REST API, 50 through the web app's queue."""
    import httpx

    from rag.index.chroma_server import free_port

    index = args.work / f"index-{size}"
    port = free_port()
    kbqa = Path(sys.executable).with_name("kbqa")
    server = subprocess.Popen(
        [str(kbqa), "--index-dir", str(index), "--corpus-dir", str(args.work / "none"), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                httpx.get(base + "/api/health", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.5)
        httpx.post(base + "/api/ask", json={"question": "warm up"}, timeout=60)
        rows = [_clients(base, "api", clients, per_client, size) for clients, per_client in ((8, 25), (50, 4))]
        rows.append(_clients(base, "ui", 50, 2, size))
        loads = httpx.get(base + "/api/health").json().get("embedding_model_loads")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return [{**row, "model_loads": loads} for row in rows]


def _clients(base: str, via: str, clients: int, per_client: int, size: int) -> dict[str, Any]:
    """``clients`` threads released together, each asking ``per_client`` questions over the API or the UI queue."""
    import httpx
    from gradio_client import Client

    qs = questions(clients * per_client)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def client(start: int) -> None:
        http = httpx.Client(timeout=300) if via == "api" else None
        chat = Client(base + "/", verbose=False) if via == "ui" else None
        barrier.wait()
        for q in qs[start::clients]:
            t = time.perf_counter()
            try:
                if http is not None:
                    http.post(base + "/api/ask", json={"question": q}).raise_for_status()
                else:
                    assert chat is not None
                    chat.predict(q, [], [], "extractive", api_name="/ask")
            except Exception as exc:  # noqa: BLE001 - counted and reported
                with lock:
                    errors.append(repr(exc))
            with lock:
                latencies.append((time.perf_counter() - t) * 1e3)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t
    return {
        "via": "REST API" if via == "api" else "web app queue (gradio_client)",
        "chunks": size,
        "clients": clients,
        "requests": len(latencies),
        "errors": len(errors),
        "req_per_s": len(latencies) / wall,
        "p50_ms": statistics.median(latencies),
        "p95_ms": percentile(latencies, 0.95),
    }


# -- output ---------------------------------------------------------------------------------------------------
def fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def write_report(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    when = ", ".join(f"{k} {v}" for k, v in results.get("measured", {}).items())
    parts = [f"Machine: {results['machine']}. Measured: {when}. Last command: `{results['command']}`.\n"]
    if results.get("backends"):
        parts += [
            "### Embedding backends\n",
            table(
                results["backends"],
                [
                    "backend",
                    "load_s",
                    "chunks",
                    "encode_per_s",
                    "ingest_per_s",
                    "ingest_ratio",
                    "hit@1",
                    "hit@5",
                    "mrr",
                    "must_include",
                    "peak_rss_mb",
                ],
            ),
        ]
    if results.get("scale"):
        parts += [
            "\n### Scale (default backend, warm process)\n",
            table(
                results["scale"],
                [
                    "chunks",
                    "ingest_s",
                    "ingest_per_s",
                    "reingest_s",
                    "reingest_share",
                    "first_edit_s",
                    "change1_s",
                    "change1_share",
                    "change100_s",
                    "change100_share",
                    "ask_p50_ms",
                    "ask_p95_ms",
                    "bare_p50_ms",
                    "bare_p95_ms",
                    "ratio_p50",
                    "ratio_p95",
                    "embed_p50_ms",
                    "dense_p50_ms",
                    "keyword_p50_ms",
                    "answer_p50_ms",
                    "peak_rss_mb",
                    "ingest_peak_rss_mb",
                ],
            ),
        ]
    for key, title in (
        ("cold_start", "Cold start"),
        ("cli", "CLI start (whole process, 7 runs)"),
        ("server", "Chroma server mode"),
        ("concurrency", "Concurrency"),
    ):
        if results.get(key):
            rows = results[key] if isinstance(results[key], list) else [results[key]]
            rows = [{k: v for k, v in row.items() if k != "runs"} for row in rows]
            parts += [f"\n### {title}\n", table(rows, list(rows[0]))]
    (out / "results.md").write_text("\n".join(parts) + "\n")
    if results.get("scale"):
        plot(results["scale"], out / "latency.png")


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chunks = [r["chunks"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    for key, label, style in (
        ("ask_p50_ms", "kbqa ask p50", "o-"),
        ("ask_p95_ms", "kbqa ask p95", "o--"),
        ("bare_p50_ms", "bare embed + Chroma query p50", "s-"),
        ("keyword_p50_ms", "keyword (BM25) search p50", "^:"),
    ):
        ax.plot(chunks, [r[key] for r in rows], style, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("chunks in the index")
    ax.set_ylabel("milliseconds")
    ax.set_title("Ask latency vs corpus size (warm process, 2 CPU cores)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        return _worker_main(sys.argv[1], sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000", help="scale sizes in chunks, comma-separated")
    parser.add_argument("--questions", type=int, default=60, help="asks per latency measurement")
    parser.add_argument("--ingest-chunks", type=int, default=2000, help="chunks for the backend comparison")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "kbqa-bench")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "performance")
    parser.add_argument("--only", help="comma-separated sections: backends,scale,cold,cli,server,concurrency")
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.work.mkdir(parents=True, exist_ok=True)
    if not SHARED.is_dir():
        sys.exit(f"The scale corpora are built from {SHARED}, which is not here.")
    only = set(args.only.split(",")) if args.only else {"backends", "scale", "cold", "cli", "server", "concurrency"}
    previous = args.out / "results.json"
    # A partial run (--only) updates its sections and keeps the others, each with the date it was measured.
    results: dict[str, Any] = json.loads(previous.read_text()) if args.only and previous.is_file() else {}
    results.update(
        {
            "date": time.strftime("%Y-%m-%d %H:%M %Z"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {_cpu_name()}, "
            f"Python {platform.python_version()}",
            "command": "python eval/bench/perf.py " + " ".join(sys.argv[1:]),
        }
    )
    results.setdefault("measured", {})
    mid = min(args.sizes, key=lambda s: abs(s - 10_000))
    steps = [
        ("backends", lambda: section_backends(args)),
        ("scale", lambda: section_scale(args)),
        ("cold_start", lambda: section_cold_start(args, mid)),
        ("cli", lambda: section_cli(args)),
        ("server", lambda: section_server(args, mid)),
        ("concurrency", lambda: section_concurrency(args, mid)),
    ]
    for key, step in steps:
        if key.split("_")[0] in only:
            print(f"{key} …", flush=True)
            results[key] = step()
            results["measured"][key] = time.strftime("%Y-%m-%d %H:%M")
            write_report(results, args.out)
    print((args.out / "results.md").read_text())


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def _worker_main(name: str, argv: list[str]) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if name == "_ingest":
        result = w_ingest(Path(argv[0]), Path(argv[1]))
    elif name == "_ask":
        result = w_ask(Path(argv[0]), int(argv[1]), argv[2] if len(argv) > 2 else None)
    elif name == "_count":
        from rag import Pipeline, load_settings

        result = {"chunks": Pipeline(load_settings(index_dir=Path(argv[0]))).index.count()}
    elif name == "_backend":
        result = w_backend(argv[0], Path(argv[1]), int(argv[2]))
    else:
        raise SystemExit(f"unknown worker {name}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
