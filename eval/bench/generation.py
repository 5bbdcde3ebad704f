"""LLM benchmark: time to first token, generation speed and answer latency of the local model in kbqa.

    python eval/bench/generation.py                      # bundled SmolLM2 (llama.cpp), 20 answerable eval questions
    python eval/bench/generation.py --questions 40

Uses the index in .kbqa (run `kbqa ingest` first) and needs the `local` extra. Every question goes through
`Pipeline.ask_stream(mode="llm")` in one warm process: retrieval, prompt, streamed generation, verification.
Tokens are counted with the model's own tokenizer. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

from rag import Pipeline, load_settings
from rag.types import Answer

ROOT = Path(__file__).resolve().parents[2]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--set", type=Path, default=ROOT / "eval" / "kb_eval.jsonl")
    args = parser.parse_args()
    items = [json.loads(line) for line in args.set.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = [i["question"] for i in items if i["answerable"]][: args.questions]
    pipeline = Pipeline(load_settings(llm_provider="local"))
    started = time.perf_counter()
    pipeline.llm.model.invoke("Say OK.")  # load the model once, as a serving process would
    load_s = time.perf_counter() - started
    tokenizer = pipeline.llm.model.client  # type: ignore[attr-defined]  # the llama_cpp.Llama instance
    first, speed, total, verify, generated = [], [], [], [], 0
    modes: dict[str, int] = {}
    for question in questions:
        answer = next(e for e in pipeline.ask_stream(question, mode="llm") if isinstance(e, Answer))
        modes[answer.mode] = modes.get(answer.mode, 0) + 1
        t = answer.timings
        total.append(t["total_ms"])
        if "llm_ms" not in t:
            continue  # abstained: no model call
        tokens = len(tokenizer.tokenize(answer.generated.encode("utf-8"), add_bos=False))
        generated += tokens
        first.append(t["llm_first_token_ms"])
        speed.append(tokens / max((t["llm_ms"] - t["llm_first_token_ms"]) / 1e3, 1e-6))
        verify.append(t["verify_ms"])
    print(f"{platform.machine()}, {len(questions)} questions, model load {load_s:.1f} s, modes {modes}")
    print("| metric | p50 | p95 |")
    print("|---|---:|---:|")
    print(f"| time to first token (ms) | {statistics.median(first):.0f} | {percentile(first, 0.95):.0f} |")
    print(f"| generation speed (tokens/s) | {statistics.median(speed):.1f} | {percentile(speed, 0.05):.1f} (p5) |")
    print(f"| verification (ms) | {statistics.median(verify):.0f} | {percentile(verify, 0.95):.0f} |")
    print(f"| answer latency, end to end (ms) | {statistics.median(total):.0f} | {percentile(total, 0.95):.0f} |")
    print(f"Generated {generated} tokens in all.")


if __name__ == "__main__":
    main()
