"""Compare two eval run folders: metric deltas and the questions that flipped, as Markdown for a PR or ticket."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import EvalSetError
from rag.evaluation.report import failed

_LOWER_IS_BETTER = ("latency", "errors", "unsupported_sentences")
_NEUTRAL = ("questions", "answerable", "unanswerable", "answers", "sentences", "answer_chars")
_WATCHED = ("verdict", "hit@1", "grounded", "must_include", "expected_supported", "citation_valid")


@dataclass
class Run:
    folder: Path
    summary: dict[str, Any]
    rows: dict[str, dict[str, Any]]
    config: dict[str, Any]


def load_run(folder: Path) -> Run:
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        lines = (folder / "results.jsonl").read_text(encoding="utf-8").splitlines()
        rows = {str(r["id"]): r for r in map(json.loads, filter(None, lines))}
    except (OSError, json.JSONDecodeError, KeyError) as exc:
        raise EvalSetError(
            f"{folder} is not a complete eval run folder ({exc}); give folders written by `kbqa eval --out`."
        ) from exc
    return Run(folder, summary, rows, config)


def compare(a: Run, b: Run) -> str:
    lines = [f"# kbqa eval: {a.folder} → {b.folder}", ""]
    lines += _warnings(a, b)
    lines += ["| metric | A | B | Δ |", "|---|---:|---:|---:|"]
    for name in dict.fromkeys([*a.summary, *b.summary]):
        lines.append(f"| {name} | {_fmt(a.summary.get(name))} | {_fmt(b.summary.get(name))} | {_delta(name, a, b)} |")
    broke, fixed, changed = _flips(a, b)
    for title, ids in (("Broke (passed in A, fail in B)", broke), ("Fixed (failed in A, pass in B)", fixed)):
        lines += ["", f"## {title}: {len(ids)}", ""]
        if ids:
            lines += ["| id | question | what changed |", "|---|---|---|"]
            lines += [
                f"| {i} | {_cell(b.rows[i].get('question', ''))} | {_what_changed(a.rows[i], b.rows[i])} |" for i in ids
            ]
    lines += ["", f"Other questions with a changed verdict or score: {len(changed)}."]
    only_a, only_b = sorted(set(a.rows) - set(b.rows)), sorted(set(b.rows) - set(a.rows))
    if only_a or only_b:
        lines.append(f"Only in A: {', '.join(only_a) or 'none'}. Only in B: {', '.join(only_b) or 'none'}.")
    return "\n".join(lines) + "\n"


def _warnings(a: Run, b: Run) -> list[str]:
    out = []
    fa, fb = a.config.get("corpus_fingerprint"), b.config.get("corpus_fingerprint")
    if fa != fb:
        out.append(
            f"> **Warning:** the corpus differs (fingerprint {fa} vs {fb}, {a.config.get('chunks')} vs "
            f"{b.config.get('chunks')} chunks): deltas mix corpus and code changes."
        )
    if a.config.get("kind") != b.config.get("kind"):
        out.append("> **Warning:** one run scored questions, the other checked answers; few metrics compare.")
    if a.config.get("answer_mode") != b.config.get("answer_mode"):
        out.append(f"> Answer mode: {a.config.get('answer_mode')} → {b.config.get('answer_mode')}")
    sa, sb = a.config.get("settings", {}), b.config.get("settings", {})
    changed = [f"{k}: {sa.get(k)} → {sb.get(k)}" for k in sorted(set(sa) | set(sb)) if sa.get(k) != sb.get(k)]
    if changed:
        out.append("> Settings changed: " + "; ".join(changed))
    return [*out, ""] if out else []


def _flips(a: Run, b: Run) -> tuple[list[str], list[str], list[str]]:
    broke, fixed, changed = [], [], []
    for i in sorted(set(a.rows) & set(b.rows)):
        was, now = failed(a.rows[i]), failed(b.rows[i])
        if not was and now:
            broke.append(i)
        elif was and not now:
            fixed.append(i)
        elif _what_changed(a.rows[i], b.rows[i]):
            changed.append(i)
    return broke, fixed, changed


def _what_changed(a: dict[str, Any], b: dict[str, Any]) -> str:
    if "error" in a or "error" in b:
        return _cell(f"error: {a.get('error', 'none')} → {b.get('error', 'none')}")
    return "; ".join(f"{k} {_fmt(a.get(k))} → {_fmt(b.get(k))}" for k in _WATCHED if a.get(k) != b.get(k))


def _delta(name: str, a: Run, b: Run) -> str:
    va, vb = a.summary.get(name), b.summary.get(name)
    if not isinstance(va, int | float) or not isinstance(vb, int | float) or va == vb:
        return ""
    if name in _NEUTRAL:
        return f"{vb - va:+.4g}"
    better = (vb < va) if name.startswith(_LOWER_IS_BETTER) else (vb > va)
    return f"{vb - va:+.4g} {'✅' if better else '❌'}"


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")[:120]
