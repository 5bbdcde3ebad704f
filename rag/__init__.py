"""kbqa's library: index a support KB into Chroma and answer questions from it with citations.

``KbService`` is the application API the CLI, the REST API and the web app call; the other names are the types,
errors, settings and evaluation files those front ends show or read. Everything else in ``rag`` is internal.

The public names load on first use (PEP 562), so ``from rag import KbqaError`` or ``kbqa --help`` does not pay
for Chroma, LangChain and the models (about a second on two cores).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.errors import (
        IndexMismatchError,
        IndexNotFoundError,
        KbqaError,
        QuestionError,
        SettingsError,
        exit_code_of,
    )
    from rag.evaluation.answers import load_answers, summarize_answers
    from rag.evaluation.calibration import Calibration, write_thresholds
    from rag.evaluation.calibration import render_report as render_calibration
    from rag.evaluation.compare import compare as compare_runs
    from rag.evaluation.compare import load_run
    from rag.evaluation.report import failed, metric_bars
    from rag.evaluation.run import EvalRun, check_gate, gate_failures, load_eval_set, parse_gate, summarize
    from rag.index.store import IngestReport
    from rag.offline import offline_environment
    from rag.pipeline import Pipeline
    from rag.records.feedback import REASONS, Rating, to_eval_item
    from rag.records.gaps import GapCluster
    from rag.records.query_log import Channel
    from rag.service import KbService
    from rag.settings import Settings, load_settings
    from rag.sources.schedule import BackgroundSync
    from rag.sources.sync import SourceReport
    from rag.types import (
        TRIAGE_LABELS,
        VERDICT_LABELS,
        Answer,
        AnswerMode,
        Citation,
        SearchHit,
        Triage,
        TriageItem,
        display_path,
        safe_url,
        search_results,
    )
    from rag.verify.training import Recipe as VerifierRecipe
    from rag.verify.training import train as train_verifier

# Public name -> (module, name there); __all__ below lists the same names (tests/test_architecture.py).
_HOME: dict[str, tuple[str, str]] = {
    # the application API, and the composition root benchmarks and tests build on
    "KbService": ("rag.service", "KbService"),
    "Pipeline": ("rag.pipeline", "Pipeline"),
    # settings
    "Settings": ("rag.settings", "Settings"),
    "AnswerMode": ("rag.types", "AnswerMode"),
    "load_settings": ("rag.settings", "load_settings"),
    "offline_environment": ("rag.offline", "offline_environment"),
    # results and how they are labelled
    **{
        name: ("rag.types", name)
        for name in (
            "Answer",
            "Citation",
            "SearchHit",
            "Triage",
            "TriageItem",
            "TRIAGE_LABELS",
            "VERDICT_LABELS",
            "display_path",
            "safe_url",
            "search_results",
        )
    },
    "IngestReport": ("rag.index.store", "IngestReport"),
    "SourceReport": ("rag.sources.sync", "SourceReport"),
    "BackgroundSync": ("rag.sources.schedule", "BackgroundSync"),
    "GapCluster": ("rag.records.gaps", "GapCluster"),
    "Channel": ("rag.records.query_log", "Channel"),
    "Rating": ("rag.records.feedback", "Rating"),
    "REASONS": ("rag.records.feedback", "REASONS"),
    "to_eval_item": ("rag.records.feedback", "to_eval_item"),
    # errors
    **{
        name: ("rag.errors", name)
        for name in (
            "KbqaError",
            "QuestionError",
            "IndexNotFoundError",
            "IndexMismatchError",
            "SettingsError",
            "exit_code_of",
        )
    },
    # evaluation files, gates and reports
    **{
        name: ("rag.evaluation.run", name)
        for name in ("EvalRun", "load_eval_set", "summarize", "parse_gate", "check_gate", "gate_failures")
    },
    "load_answers": ("rag.evaluation.answers", "load_answers"),
    "summarize_answers": ("rag.evaluation.answers", "summarize_answers"),
    "load_run": ("rag.evaluation.compare", "load_run"),
    "compare_runs": ("rag.evaluation.compare", "compare"),
    "failed": ("rag.evaluation.report", "failed"),
    "metric_bars": ("rag.evaluation.report", "metric_bars"),
    "Calibration": ("rag.evaluation.calibration", "Calibration"),
    "write_thresholds": ("rag.evaluation.calibration", "write_thresholds"),
    "render_calibration": ("rag.evaluation.calibration", "render_report"),
    # the answer verifier's training
    "VerifierRecipe": ("rag.verify.training", "Recipe"),
    "train_verifier": ("rag.verify.training", "train"),
}

__all__ = [
    "REASONS",
    "TRIAGE_LABELS",
    "VERDICT_LABELS",
    "Answer",
    "AnswerMode",
    "BackgroundSync",
    "Calibration",
    "Channel",
    "Citation",
    "EvalRun",
    "GapCluster",
    "IndexMismatchError",
    "IndexNotFoundError",
    "IngestReport",
    "KbService",
    "KbqaError",
    "Pipeline",
    "QuestionError",
    "Rating",
    "SearchHit",
    "Settings",
    "SettingsError",
    "SourceReport",
    "Triage",
    "TriageItem",
    "VerifierRecipe",
    "check_gate",
    "compare_runs",
    "display_path",
    "exit_code_of",
    "failed",
    "gate_failures",
    "load_answers",
    "load_eval_set",
    "load_run",
    "load_settings",
    "metric_bars",
    "offline_environment",
    "parse_gate",
    "render_calibration",
    "safe_url",
    "search_results",
    "summarize",
    "summarize_answers",
    "to_eval_item",
    "train_verifier",
    "write_thresholds",
]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    module, attribute = _HOME[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value
