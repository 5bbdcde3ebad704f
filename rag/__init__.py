"""kbqa's library: index a support KB into Chroma and answer questions from it with citations."""

from rag.answer import Answer, Citation
from rag.errors import KbqaError
from rag.index import IngestReport
from rag.pipeline import Pipeline, SearchHit
from rag.settings import Settings, load_settings

__all__ = ["Answer", "Citation", "IngestReport", "KbqaError", "Pipeline", "SearchHit", "Settings", "load_settings"]
