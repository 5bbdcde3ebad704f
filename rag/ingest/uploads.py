"""Accept an article uploaded through the web app: check it, then place it in the corpus."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from rag.errors import LoadError, UploadError
from rag.ingest.loaders import IGNORED_NAMES, SUPPORTED_SUFFIXES, load_article

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_file_name(name: str) -> str:
    """The base name only, reduced to letters, digits, '.', '_' and '-' (no traversal, no hidden files)."""
    base = re.split(r"[\\/]", name or "")[-1]
    cleaned = _SAFE_NAME.sub("-", base).strip(".-_")
    if not cleaned or "." not in cleaned:
        raise UploadError(f"File name {name!r} is not usable; name the file like my-article.md.")
    return cleaned


def save_upload(
    name: str, data: bytes, corpus_dir: Path, max_bytes: int, taken_ids: dict[str, str] | None = None
) -> Path:
    """Validate type, size and content (it must load as an article whose id no other file uses), then
    write it into the corpus. An existing file of the same name is replaced only after the new one
    has loaded cleanly.
    """
    file_name = safe_file_name(name)
    if file_name.lower() in IGNORED_NAMES:
        raise UploadError(
            f"{file_name} describes a corpus and is never indexed; upload the article under its own name."
        )
    suffix = Path(file_name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UploadError(f"'{suffix}' files are not accepted; upload one of {', '.join(sorted(SUPPORTED_SUFFIXES))}.")
    if len(data) > max_bytes:
        raise UploadError(f"The file is {len(data):,} bytes; the limit is {max_bytes:,}. Split the article.")
    corpus_dir.mkdir(parents=True, exist_ok=True)
    target = corpus_dir / file_name
    # Staged under its final name in a hidden folder (ingest skips it), so the derived id is the real one.
    with tempfile.TemporaryDirectory(dir=corpus_dir, prefix=".upload-") as staging:
        staged = Path(staging) / file_name
        staged.write_bytes(data)
        try:
            article = load_article(staged, max_bytes)
        except LoadError as exc:
            raise UploadError(f"{file_name}: {exc.reason}") from exc
        article_id = article.metadata["article_id"]
        owner = (taken_ids or {}).get(article_id)
        if owner and Path(owner).resolve() != target.resolve():
            raise UploadError(
                f"Article id '{article_id}' is already used by {owner}; "
                "give the upload its own id in its front matter or file name."
            )
        replaced = next((i for i, p in (taken_ids or {}).items() if Path(p).resolve() == target.resolve()), None)
        if replaced is not None and replaced != article_id:  # writing it would silently drop article `replaced`
            raise UploadError(
                f"{file_name} holds article '{replaced}', and the upload's id is '{article_id}'; upload it under "
                "another file name, or keep the id to replace the article."
            )
        staged.replace(target)
    return target
