"""kbqa's library: index a support KB into Chroma and answer questions from it with citations."""

from rag.errors import KbqaError
from rag.index.store import IngestReport
from rag.pipeline import Pipeline
from rag.settings import Settings, load_settings
from rag.types import Answer, Citation, SearchHit

__all__ = ["Answer", "Citation", "IngestReport", "KbqaError", "Pipeline", "SearchHit", "Settings", "load_settings"]
