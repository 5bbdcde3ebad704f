"""Split articles into heading-aware chunks that carry everything a citation needs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

from langchain_core.documents import Document
from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter, TextSplitter

from rag.ingest.markdown import blocks_of
from rag.text.sentences import split_sentences

_HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3")]
INTRO_SECTION = "Summary"


def chunk_article(article: Document, chunk_size: int, chunk_overlap: int) -> list[Document]:
    """Split one article by Markdown headings, then into runs of whole blocks; every chunk keeps its section path.

    ``page_content`` is one context line ("title — section") followed by the chunk text, so both the
    embedding and the keyword index see which article and section a passage belongs to.
    """
    meta = article.metadata
    sections = MarkdownHeaderTextSplitter(_HEADERS, strip_headers=True).split_text(article.page_content)
    splitter = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    chunks: list[Document] = []
    for section in sections:
        path = " > ".join(section.metadata[key] for _, key in _HEADERS if key in section.metadata)
        for body in pack_blocks(blocks_of(section.page_content), chunk_size, splitter):
            if not body.strip():
                continue
            position = len(chunks)
            text = f"{context_line(meta['title'], path)}\n{body.strip()}"
            chunk_meta = {
                "article_id": meta["article_id"],
                "title": meta["title"],
                "section": path or INTRO_SECTION,
                "source_path": meta["source_path"],
                "source_url": meta.get("source_url", ""),
                "source": meta.get("source", ""),  # the synced source it came from (rag/sources), and its revision
                "revision": meta.get("revision", ""),
                "updated": meta.get("updated", ""),
                "tags": ",".join(meta.get("tags", [])),
                "position": position,
                "content_hash": hashlib.sha256(text.encode()).hexdigest()[:16],
            }
            # One boolean key per tag: Chroma filters on scalar metadata, not on list membership.
            chunk_meta.update({tag_key(t): True for t in meta.get("tags", [])})
            chunks.append(Document(page_content=text, metadata=chunk_meta))
    article_hash = fingerprint([c.page_content for c in chunks], meta)
    for chunk in chunks:
        chunk.metadata["article_hash"] = article_hash
        chunk.id = f"{meta['article_id']}#{chunk.metadata['position']:04d}-{chunk.metadata['content_hash'][:8]}"
    return chunks


def pack_blocks(blocks: list[str], size: int, splitter: TextSplitter) -> Iterator[str]:
    """Whole blocks (paragraphs, list items, table records, code blocks) packed into chunks of at most ``size``.

    Written here because langchain's splitters cut by characters: they split a code block or a sentence
    where the size runs out, and leave a list's lead-in ("Run:", "Check these settings:") at the end of one
    chunk and what it introduces in the next. Here a block that ends with ':' moves to the next chunk with
    what follows it; only a block longer than ``size`` on its own is cut, by ``splitter``, and a code block cut so
    is fenced again in every piece (a listing's second half read as prose makes its lines into "sentences").
    """
    current: list[str] = []
    for block in blocks:
        pieces = [block] if len(block) <= size else _cut(block, size, splitter)
        for piece in pieces:
            if current and len("\n".join([*current, piece])) > size:
                carried = [current.pop()] if len(current) > 1 and current[-1].endswith(":") else []
                if carried and len("\n".join([*carried, piece])) > size:
                    current, carried = [*current, *carried], []
                yield "\n".join(current)
                current = carried
            current.append(piece)
    if current:
        yield "\n".join(current)


def _cut(block: str, size: int, splitter: TextSplitter) -> list[str]:
    lines = block.split("\n")
    if not (len(lines) > 2 and lines[0].lstrip().startswith("```") and lines[-1].strip().startswith("```")):
        return _by_sentences(block, size, splitter)
    opening = lines[0].strip()
    return [f"{opening}\n{piece}\n```" for piece in splitter.split_text("\n".join(lines[1:-1])) if piece.strip()]


def _by_sentences(block: str, size: int, splitter: TextSplitter) -> list[str]:
    """A paragraph or list item longer than a chunk, cut between its sentences (the character splitter alone cuts
    where the size runs out, and the answer that quotes the piece ends mid-sentence); only a sentence longer than a
    chunk is cut by ``splitter``."""
    pieces: list[str] = []
    for sentence in split_sentences(block):
        if len(sentence) > size:
            pieces.extend(splitter.split_text(sentence))
        elif pieces and len(pieces[-1]) + 1 + len(sentence) <= size:
            pieces[-1] += " " + sentence
        else:
            pieces.append(sentence)
    return pieces


def context_line(title: str, section: str) -> str:
    return f"{title} — {section}" if section else title


def chunk_body(chunk: Document) -> str:
    """The chunk text without its context line."""
    return strip_context_line(chunk.page_content)


def strip_context_line(page_content: str) -> str:
    return page_content.split("\n", 1)[1] if "\n" in page_content else page_content


def chunk_tags(meta: dict[str, object]) -> list[str]:
    """The tags stored on a chunk (kept as one comma-joined string, Chroma metadata being scalar)."""
    return [t for t in str(meta.get("tags", "")).split(",") if t]


def tag_key(tag: str) -> str:
    return "tag_" + tag


def fingerprint(texts: list[str], meta: dict[str, object]) -> str:
    """Hash of an article's chunks and metadata: equal hashes mean nothing to re-embed."""
    digest = hashlib.sha256()
    digest.update(json.dumps(meta, sort_keys=True, default=str).encode())
    for text in texts:
        digest.update(b"\0" + text.encode())
    return digest.hexdigest()[:24]
