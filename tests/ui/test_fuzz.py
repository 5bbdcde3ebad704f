"""Generated input: schemathesis against the REST API's OpenAPI schema, hypothesis on loaders and chunker.

The properties are the promises of docs/BAD_INPUT.md: whatever arrives, the API answers without a 5xx
and a corpus file either loads or fails with a LoadError naming it; chunking loses no text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.documents import Document
from schemathesis.checks import not_a_server_error

from rag.errors import LoadError
from rag.ingest.chunking import chunk_article, chunk_body
from rag.ingest.loaders import load_article

LIMIT = 1_000_000
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


# -- REST API --------------------------------------------------------------------------------------------------
@pytest.mark.integration
def test_api_never_answers_with_a_server_error(kb: Any) -> None:
    """Every operation in /openapi.json, with generated bodies (valid and invalid): never a 5xx."""
    from rag import KbService
    from ui.server import create_app

    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(kb.settings, KbService(kb.settings)))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/ask", "/api/search", "/api/health", "/api/articles"}
    statuses: list[int] = []
    for operation in operations:
        # Bodies that fit the schema, and (for operations that take one) bodies that break it.
        modes = (
            list(schemathesis.GenerationMode)
            if operation.method.upper() == "POST"
            else [schemathesis.GenerationMode.POSITIVE]
        )
        for mode in modes:

            @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(mode))
            def call(case: Any) -> None:
                statuses.append(case.call_and_validate(checks=[not_a_server_error]).status_code)

            call()
    assert 200 in statuses and 400 in statuses  # both kinds were really sent


# -- loaders ---------------------------------------------------------------------------------------------------
@FUZZ
@given(data=st.binary(max_size=4000), suffix=st.sampled_from([".md", ".txt", ".html", ".pdf"]))
def test_any_bytes_load_or_fail_with_a_load_error(tmp_path: Path, data: bytes, suffix: str) -> None:
    path = tmp_path / f"fuzzed{suffix}"
    path.write_bytes(data)
    _load_or_load_error(path)


@FUZZ
@given(front_matter=st.text(max_size=300), body=st.text(max_size=500))
def test_any_front_matter_loads_or_fails_with_a_load_error(tmp_path: Path, front_matter: str, body: str) -> None:
    path = tmp_path / "fuzzed.md"
    path.write_text(f"---\n{front_matter}\n---\n{body}", encoding="utf-8", errors="surrogatepass")
    _load_or_load_error(path)


def _load_or_load_error(path: Path) -> None:
    try:
        article = load_article(path, LIMIT)
    except LoadError as exc:
        assert exc.path == path and exc.reason  # names the file and says what is wrong
    else:
        meta = article.metadata
        assert meta["article_id"] and isinstance(meta["title"], str) and meta["title"]
        assert isinstance(meta.get("tags", []), list)


# -- chunker ---------------------------------------------------------------------------------------------------
_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.:/", min_size=1, max_size=14).filter(
    lambda w: any(c.isalnum() for c in w)
)
_PARAGRAPH = st.lists(_WORD, min_size=1, max_size=120).map(" ".join)
_SECTION = st.tuples(st.sampled_from(["", "# ", "## ", "### "]), _WORD, st.lists(_PARAGRAPH, min_size=1, max_size=4))


@FUZZ
@given(
    sections=st.lists(_SECTION, min_size=1, max_size=6),
    size=st.integers(min_value=80, max_value=1200),
    overlap_share=st.floats(min_value=0, max_value=0.5),
)
def test_chunking_keeps_every_word_within_the_size(sections: list[Any], size: int, overlap_share: float) -> None:
    text = "\n\n".join(
        (f"{marker}{heading}\n\n" if marker else "") + "\n\n".join(paragraphs)
        for marker, heading, paragraphs in sections
    )
    meta = {"article_id": "fuzz", "title": "Fuzzed article", "source_path": "/kb/fuzz.md", "tags": ["t"]}
    article = Document(page_content=text, metadata=meta)
    chunks = chunk_article(article, size, int(size * overlap_share))

    assert chunks
    assert [c.metadata["position"] for c in chunks] == list(range(len(chunks)))
    assert len({c.id for c in chunks}) == len(chunks)
    assert all(len(chunk_body(c)) <= size for c in chunks)
    kept = set(re.findall(r"\S+", " ".join(c.page_content for c in chunks)))
    for marker, heading, paragraphs in sections:
        words = {heading} if marker else set()
        words.update(w for p in paragraphs for w in p.split())
        assert words <= kept, sorted(words - kept)[:5]
    assert [c.id for c in chunk_article(article, size, int(size * overlap_share))] == [c.id for c in chunks]
