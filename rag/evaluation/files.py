"""Run whatever evaluation file a user hands over (the web app takes one upload for both kinds)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import EvalSetError
from rag.evaluation.answers import check_answers, load_answers
from rag.evaluation.run import EvalRun, evaluate, load_eval_set

if TYPE_CHECKING:
    from rag.pipeline import Pipeline


def file_kind(path: Path) -> str:
    """``questions`` for an eval set, ``answers`` for answers written elsewhere (CSV, or JSONL with "answer")."""
    if path.suffix.lower() == ".csv":
        return "answers"
    try:
        first = next((line for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()), "")
        record = json.loads(first) if first else {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvalSetError(
            f"Cannot read {path.name}: {exc}. Give an eval set (JSONL, eval/README.md) or answers (CSV or JSONL)."
        ) from exc
    return "answers" if isinstance(record, dict) and "answerable" not in record and "answer" in record else "questions"


def run_file(pipeline: Pipeline, path: Path, progress: Callable[[int, int], None] | None = None) -> EvalRun:
    if file_kind(path) == "answers":
        return check_answers(pipeline, load_answers(path), progress)
    return evaluate(pipeline, load_eval_set(path), progress)
