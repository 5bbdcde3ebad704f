"""Score a grounding set (eval/grounding.jsonl, eval/grounding_heldout.jsonl) with the answer check, with and
without the verifier: share of supported sentences kept and of unsupported ones caught, per kind, and what the
verifier costs per sentence. The figures are in eval/README.md (*The answer verifier*).

    kbqa ingest ../shared/corpora --index-dir /tmp/shared      # the articles the set is about
    python eval/verifier_eval.py eval/grounding_heldout.jsonl --index-dir /tmp/shared
    python eval/verifier_eval.py eval/grounding.jsonl --index-dir .kbqa --model /tmp/my-verifier
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path

from rag import Pipeline, load_settings
from rag.ingest.chunking import chunk_body


def score(items: list[dict], index_dir: Path, verifier: bool, model: Path | None) -> tuple[dict, float]:
    pipeline = Pipeline(load_settings(index_dir=index_dir, query_log=False, verifier=verifier, verifier_model=model))
    scorer, view = pipeline.grounding, pipeline.index.view()
    by_path = {a["source_path"]: a["article_id"] for a in view.articles()}

    def article(item: dict) -> str | None:
        """The item's article: by its id, or by its file (the held-out docs set names pages by path)."""
        if "path" not in item:
            return str(item["article_id"])
        return next((a for source, a in by_path.items() if source.endswith("/" + item["path"])), None)

    found = {item["id"]: article(item) for item in items}
    if missing := [i for i, a in found.items() if a is None]:
        print(f"left out {len(missing)} item(s) whose page is not in the index: {', '.join(missing)}")
    items = [item for item in items if found[item["id"]] is not None]
    sources = {item["id"]: [chunk_body(c) for c in view.article_chunks(str(found[item["id"]]))] for item in items}
    for item in items:  # warm the source-sentence cache first, so the timing below is the check itself
        scorer.best(item["sentence"], sources[item["id"]])
    right: dict[tuple[str, str], list[bool]] = defaultdict(list)
    started = time.perf_counter()
    for item in items:
        _, support = scorer.best(item["sentence"], sources[item["id"]])
        ok = support.supported == (item["label"] == "supported")
        for key in ((item["label"], item["kind"]), (item["label"], "all")):
            right[key].append(ok)
    per_item_ms = (time.perf_counter() - started) * 1e3 / len(items)
    return {k: statistics.mean(v) for k, v in sorted(right.items())} | {"n": len(items)}, per_item_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("evalset", type=Path)
    parser.add_argument("--index-dir", type=Path, required=True, help="an index holding the set's articles")
    parser.add_argument("--model", type=Path, default=None, help="a verifier folder (default: the shipped one)")
    parser.add_argument("--without-only", action="store_true", help="score the check without the verifier only")
    args = parser.parse_args()
    items = [json.loads(line) for line in args.evalset.read_text(encoding="utf-8").splitlines() if line.strip()]
    without, ms_without = score(items, args.index_dir, False, None)
    if args.without_only:
        for key, value in without.items():
            if key != "n":
                print(f"{key[0]:<14}{key[1]:<20}{value:>9.2f}")
        print(f"check per sentence (warm): {ms_without:.1f} ms")
        return
    with_verifier, ms_with = score(items, args.index_dir, True, args.model)
    print(f"{'label':<14}{'kind':<20}{'without':>9}{'with':>9}")
    for key, value in with_verifier.items():
        if key != "n":
            print(f"{key[0]:<14}{key[1]:<20}{without[key]:>9.2f}{value:>9.2f}")
    print(f"check per sentence (warm): {ms_without:.1f} ms without, {ms_with:.1f} ms with the verifier")


if __name__ == "__main__":
    main()
