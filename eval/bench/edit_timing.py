"""Time one edit: append a line to the first article of a corpus, re-ingest, print the seconds and each stage.

    python eval/bench/edit_timing.py INDEX_DIR CORPUS_DIR [--runs 3]

Each run is its own process (like the benchmark's workers) with a 3 s pause between runs (an ingest waits 2.5 s
after the last switch before it changes the collection readers may still be on; docs/RELIABILITY.md). Used for
the per-article update figures in docs/PERFORMANCE.md on the indexes `perf.py --only scale` builds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def one_edit(index: Path, corpus: Path) -> dict[str, object]:
    from rag import Pipeline, load_settings

    pipeline = Pipeline(load_settings(index_dir=index, corpus_dir=corpus))
    marks: list[tuple[str, float]] = []

    def progress(stage: str, done: int, total: int) -> None:
        if not marks or marks[-1][0] != stage:
            marks.append((stage, time.perf_counter()))

    with min(corpus.rglob("*.md")).open("a", encoding="utf-8") as f:
        f.write(f"\nEdited at {time.time():.3f}.\n")
    report = pipeline.ingest(progress=progress)
    end = time.perf_counter()
    stages = {a[0]: round(b[1] - a[1], 2) for a, b in zip(marks, [*marks[1:], ("end", end)], strict=True)}
    return {"seconds": round(report.seconds, 2), "embedded": report.chunks_embedded, "stages": stages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("index", type=Path)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a run, in its own process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_edit(args.index, args.corpus)))
        return
    for _ in range(args.runs):
        time.sleep(3)
        out = subprocess.run(
            [sys.executable, __file__, str(args.index), str(args.corpus), "--one"], capture_output=True, text=True
        )
        print(out.stdout.strip() or out.stderr[-2000:], flush=True)


if __name__ == "__main__":
    main()
