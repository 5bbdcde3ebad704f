"""Read corpus files into articles (langchain ``Document``s with article metadata).

Each loader raises :class:`LoadError` with the reason a file cannot be used, so ingest can report
it and go on with the rest.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import yaml
from langchain_core.documents import Document

from rag.errors import LoadError
from rag.ingest.blog_export import strip_chrome, text_export_to_markdown
from rag.ingest.markdown import clean_markdown
from rag.types import safe_url

SUPPORTED_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".html", ".htm", ".pdf"})
# Files that describe the corpus rather than belong to it.
IGNORED_NAMES = frozenset({"readme.md", "readme.txt", "license", "license.md", "sources.md"})
_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")
_BINARY_SNIFF_BYTES = 8192


def discover(paths: Iterable[Path]) -> Iterator[Path]:
    """Yield corpus files under ``paths`` in a stable order, skipping hidden and README files.

    Directory symlinks are not followed, so a symlink loop cannot hang the walk.
    """
    for root in paths:
        if not root.is_dir():
            yield root  # a named file: load_article says what is wrong with it, if anything
            continue
        found: list[Path] = []
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
            for name in filenames:
                path = Path(dirpath) / name
                if name.startswith(".") or name.lower() in IGNORED_NAMES:
                    continue
                if path.suffix.lower() in SUPPORTED_SUFFIXES and path.is_file():  # not a FIFO, device or socket
                    found.append(path)
        yield from sorted(found)


def load_article(path: Path, max_bytes: int) -> Document:
    """Load one file as an article: Markdown body in ``page_content``, article fields in metadata."""
    suffix = path.suffix.lower()
    loader = _LOADERS.get(suffix)
    if loader is None:
        raise LoadError(path, f"unsupported file type '{suffix}'; use one of {', '.join(sorted(SUPPORTED_SUFFIXES))}")
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise LoadError(path, "cannot read a folder as an article; rename it or pass the files inside it")
        if not stat.S_ISREG(info.st_mode):  # a FIFO would block the read forever, /dev/zero never end it
            raise LoadError(path, "not a regular file (a pipe, device or socket); remove it from the corpus")
        if info.st_size > max_bytes:
            raise LoadError(
                path,
                f"file is {info.st_size:,} bytes, over the {max_bytes:,}-byte limit; split it or raise "
                "KBQA_MAX_FILE_BYTES",
            )
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)  # bounded even if the file grows while it is read
        if len(raw) > max_bytes:
            raise LoadError(path, f"file grew past the {max_bytes:,}-byte limit while it was read; try again")
    except OSError as exc:
        raise LoadError(path, f"cannot read file ({exc.strerror or exc}); check it exists and is readable") from exc
    article = loader(path, raw)
    if not article.page_content.strip():
        raise LoadError(path, "no article text found (the file is empty or holds only front matter/chrome)")
    return article


# Non-breaking and other special spaces become plain spaces, so a command or error string pasted by
# a user (typed with ordinary spaces) matches the article text exactly; zero-width characters go.
_SPACES = dict.fromkeys(map(ord, "\u00a0\u2007\u2009\u200a\u202f\u205f\u3000"), " ") | dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None
)


def _decode(path: Path, raw: bytes) -> str:
    if b"\x00" in raw[:_BINARY_SNIFF_BYTES]:
        raise LoadError(path, "looks like a binary file, not text; remove it or export it as Markdown/text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(path, f"not valid UTF-8 (byte {exc.start}); re-save the file as UTF-8") from exc
    return text.translate(_SPACES)


def _load_markdown(path: Path, raw: bytes) -> Document:
    text = _decode(path, raw).replace("\r\n", "\n")
    meta: dict[str, object] = {}
    body = text
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end == -1:
            raise LoadError(path, "front matter starts with '---' but has no closing '---' line")
        try:
            loaded = yaml.safe_load(text[4:end])
        except yaml.YAMLError as exc:
            raise LoadError(path, f"malformed YAML front matter: {_yaml_problem(exc)}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise LoadError(path, "front matter must be a YAML mapping (key: value lines)")
        meta = loaded or {}
        body = text[end + 4 :].lstrip("-").lstrip("\n")
    title = meta.get("title") or _first_heading(body) or path.stem.replace("-", " ").replace("_", " ")
    body = _drop_title_heading(body, str(title))
    return _article(path, body, meta, str(title))


def _load_text(path: Path, raw: bytes) -> Document:
    title, body = text_export_to_markdown(_decode(path, raw))
    return _article(path, body, {}, title or path.stem)


def _load_html(path: Path, raw: bytes) -> Document:
    import trafilatura  # lazy: only needed for HTML files

    html = _decode(path, raw)
    body = trafilatura.extract(
        html, output_format="markdown", include_comments=False, include_links=False, favor_precision=True
    )
    meta = trafilatura.extract_metadata(html)
    title = (meta.title if meta else None) or path.stem
    lines = strip_chrome((body or "").split("\n"))
    return _article(path, _drop_title_heading("\n".join(lines), title), {}, title)


def _load_pdf(path: Path, raw: bytes) -> Document:
    from io import BytesIO

    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError, PdfReadError

    try:
        reader = PdfReader(BytesIO(raw))
        pages = [page.extract_text() or "" for page in reader.pages]
        info_title = reader.metadata.title if reader.metadata else None
    except LimitReachedError as exc:  # a decompression bomb: pypdf stops it; ingest goes on with the rest
        raise LoadError(path, f"PDF expands past pypdf's safety limit ({exc}); re-export it without it") from exc
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise LoadError(path, f"cannot read PDF ({exc}); re-export it or convert it to Markdown") from exc
    # Pages become sections so citations can say which page a sentence is on.
    body = "\n\n".join(f"## Page {i}\n\n{text.strip()}" for i, text in enumerate(pages, 1) if text.strip())
    return _article(path, body, {}, info_title or path.stem.replace("-", " "))


_LOADERS: dict[str, Callable[[Path, bytes], Document]] = {
    ".md": _load_markdown,
    ".markdown": _load_markdown,
    ".txt": _load_text,
    ".html": _load_html,
    ".htm": _load_html,
    ".pdf": _load_pdf,
}


def _article(path: Path, body: str, meta: dict[str, object], title: str) -> Document:
    article_id = str(meta.get("id") or default_id(path))
    if not _ID_PATTERN.match(article_id):
        raise LoadError(path, f"article id '{article_id}' must be lowercase letters, digits, '.', '_' or '-'")
    tags = meta.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",")]
    if not isinstance(tags, list) or not all(isinstance(t, (str, int)) for t in tags):
        raise LoadError(path, "front matter 'tags' must be a list of words, e.g. tags: [aks, networking]")
    # Static-site generators call it lastmod or date; Microsoft Learn calls it ms.date.
    updated = next((meta[k] for k in ("updated", "lastmod", "date", "ms.date") if meta.get(k)), None)
    if updated is not None and not isinstance(updated, (dt.date, str)):
        raise LoadError(path, "front matter 'updated' must be a date like 2024-11-20")
    source_url = safe_url(str(meta.get("source_url") or ""))
    return Document(
        page_content=clean_markdown(body),
        metadata={
            "article_id": article_id,
            "title": " ".join(str(title).split()),
            "tags": sorted({str(t).strip().lower() for t in tags if str(t).strip()}),
            "updated": str(updated) if updated is not None else "",
            "source_url": source_url,
            "source_path": str(path.resolve()),
        },
    )


def default_id(path: Path) -> str:
    """The file name, or the folder name for section index pages (``_index.md``, ``index.md``)."""
    stem = path.stem
    if stem.lower() in {"_index", "index"} and path.parent.name:
        stem = path.parent.name
    return _slug(stem)


def _slug(stem: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", stem.lower()).strip("-") or "article"


def _first_heading(body: str) -> str | None:
    match = re.search(r"^#\s+(.+)$", body, re.MULTILINE)
    return match.group(1).strip() if match else None


def _drop_title_heading(body: str, title: str) -> str:
    """Remove a leading ``# Title`` line that repeats the title, so it is not a section of its own."""
    lines = body.lstrip("\n").split("\n")
    if lines and re.match(r"^#{1,2}\s+", lines[0]) and lines[0].lstrip("#").strip() == title.strip():
        return "\n".join(lines[1:])
    return body


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
    return f"{problem} at line {mark.line + 2}" if mark is not None else str(problem)
