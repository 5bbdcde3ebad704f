"""Chunks follow headings, stay under the size limit and carry what citations need."""

from __future__ import annotations

from langchain_core.documents import Document

from rag.ingest.chunking import chunk_article, chunk_body
from rag.text.sentences import split_units


def article(body: str, **meta: object) -> Document:
    base = {"article_id": "a1", "title": "KB: T", "tags": ["aks"], "updated": "2024-01-01", "source_path": "/x/a1.md"}
    return Document(page_content=body, metadata=base | meta)


BODY = "Intro line.\n\n## Symptoms\n\nPods fail.\n\n### On Windows\n\nNodes fail too.\n\n## Fix\n\nRestart it.\n"


def test_sections_and_metadata() -> None:
    """Each chunk records its section path, position, hashes and the article fields."""
    chunks = chunk_article(article(BODY), 1000, 100)
    assert [c.metadata["section"] for c in chunks] == ["Summary", "Symptoms", "Symptoms > On Windows", "Fix"]
    assert [c.metadata["position"] for c in chunks] == [0, 1, 2, 3]
    first = chunks[0].metadata
    assert first["article_id"] == "a1" and first["title"] == "KB: T" and first["source_path"] == "/x/a1.md"
    assert first["tag_aks"] is True and first["tags"] == "aks"
    assert len({c.metadata["content_hash"] for c in chunks}) == 4
    assert len({c.metadata["article_hash"] for c in chunks}) == 1
    assert chunks[2].page_content.startswith("KB: T — Symptoms > On Windows\n")
    assert chunk_body(chunks[2]) == "Nodes fail too."


def test_long_sections_split_under_size() -> None:
    """A section longer than chunk_size becomes several chunks of at most chunk_size characters."""
    body = "## Long\n\n" + "\n\n".join(f"Sentence number {i} about kubelet settings." for i in range(100))
    chunks = chunk_article(article(body), 300, 50)
    assert len(chunks) > 5
    assert all(len(chunk_body(c)) <= 300 for c in chunks)


def test_ids_are_stable_and_change_with_content() -> None:
    """Same input, same ids and hashes; edited text changes the article hash."""
    a, b = chunk_article(article(BODY), 1000, 100), chunk_article(article(BODY), 1000, 100)
    assert [c.id for c in a] == [c.id for c in b]
    edited = chunk_article(article(BODY.replace("Restart it.", "Reboot it.")), 1000, 100)
    assert edited[0].metadata["article_hash"] != a[0].metadata["article_hash"]
    assert edited[3].id != a[3].id and edited[0].id == a[0].id


def test_code_fences_with_hash_comments_are_not_headings() -> None:
    """A '# comment' inside a fenced code block does not start a section."""
    body = "## Steps\n\nRun:\n\n```bash\n# restart coredns\nkubectl rollout restart deploy/coredns\n```\n"
    chunks = chunk_article(article(body), 1000, 100)
    assert [c.metadata["section"] for c in chunks] == ["Steps"]
    assert "# restart coredns" in chunk_body(chunks[0])


def test_a_listing_longer_than_a_chunk_is_fenced_in_every_piece() -> None:
    """A code block cut across chunks stays code in each: its second half must not read as prose sentences."""
    event = "Normal  CreatingLoadBalancer  {}s  service-controller  Creating load balancer"
    listing = "\n".join(event.format(i) for i in range(12))
    body = f"## Troubleshoot\n\nThe output shows an error:\n\n```output\n{listing}\n```\n\nCreate the IP first.\n"
    chunks = chunk_article(article(body), 400, 50)
    pieces = [u for c in chunks for u in split_units(chunk_body(c)) if "CreatingLoadBalancer" in u.text]
    assert len(pieces) >= 3
    assert all(u.kind == "code" and u.text.startswith("```output\n") and u.text.endswith("\n```") for u in pieces)
    assert {line for u in pieces for line in u.text.split("\n")[1:-1]} == set(listing.split("\n"))
    assert not [u for c in chunks for u in split_units(chunk_body(c)) if u.text.strip("`\n ") == ""]


def test_a_paragraph_longer_than_a_chunk_is_cut_between_its_sentences() -> None:
    """The character splitter cut a long list item where the size ran out, and the answer quoting it ended
    mid-sentence ("… operators can set this value such")."""
    sentences = [f"Sentence number {i} explains one more detail of the cache buffer setting." for i in range(12)]
    body = "## Settings\n\n- `CACHE_PAGE_BUFFER_SIZE` - " + " ".join(sentences) + "\n"
    chunks = chunk_article(article(body), 300, 30)
    units = [u for c in chunks for u in split_units(chunk_body(c))]
    assert len(chunks) >= 3
    assert all(u.text.endswith(".") for u in units), [u.text[-30:] for u in units if not u.text.endswith(".")]
    assert all(any(s in u.text for u in units) for s in sentences)  # each sentence whole in one unit


def test_a_fence_line_with_a_language_inside_a_listing_does_not_close_it() -> None:
    """A page whose author forgot to close one listing before opening the next: the "```yaml" line is part of the
    listing (CommonMark), and the prose after the real closing fence stays prose."""
    body = (
        "## Error\n\nStatuses are an array:\n\n```yaml\nstatus:\n  revisions:\n    - 38cf\n"
        "Quick fix is the index function:\n```yaml\nrevisionPath: x\n```\n\nThe key must exist in the secret.\n"
    )
    units = [u for c in chunk_article(article(body), 1000, 100) for u in split_units(chunk_body(c))]
    assert [u.kind for u in units] == ["sentence", "code", "sentence"]
    assert units[1].text.endswith("revisionPath: x\n```") and units[2].text == "The key must exist in the secret."
