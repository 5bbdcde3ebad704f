"""kbqa's library: index a support KB into Chroma and answer questions from it with citations.

The public names load on first use (PEP 562), so ``from rag.errors import KbqaError`` or ``kbqa --help`` does
not pay for Chroma, LangChain and the models (about a second on two cores).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.errors import KbqaError
    from rag.index.store import IngestReport
    from rag.pipeline import Pipeline
    from rag.settings import Settings, load_settings
    from rag.types import Answer, Citation, SearchHit

__all__ = ["Answer", "Citation", "IngestReport", "KbqaError", "Pipeline", "SearchHit", "Settings", "load_settings"]

_HOME = {
    "Answer": "rag.types",
    "Citation": "rag.types",
    "SearchHit": "rag.types",
    "IngestReport": "rag.index.store",
    "KbqaError": "rag.errors",
    "Pipeline": "rag.pipeline",
    "Settings": "rag.settings",
    "load_settings": "rag.settings",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value
