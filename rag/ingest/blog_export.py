"""Turn a blog post exported as plain text into clean Markdown.

Hand-written because no library understands text exports: HTML exports go through trafilatura
(see ``rag.ingest.loaders``), but a ``.txt`` export is just the rendered page, chrome included.
"""

from __future__ import annotations

import re

# A line equal to one of these starts the blog's chrome: everything after it is not article content.
_CHROME_STARTS = (
    "comments",
    "post a comment",
    "popular posts from this blog",
    "popular posts",
    "related posts",
    "newer post",
    "older post",
    "subscribe to: post comments",
    "subscribe to: post comments (atom)",
    "you might also like",
    "leave a reply",
    "leave a comment",
)
_CHROME_PREFIXES = ("labels:", "posted by ", "subscribe to:", "share this")
# Share-button labels that can appear anywhere; dropped line by line.
_SHARE_LINES = frozenset(
    s.lower()
    for s in (
        "share",
        "get link",
        "facebook",
        "x",
        "twitter",
        "pinterest",
        "email",
        "other apps",
        "email this",
        "blogthis!",
        "share to x",
        "share to twitter",
        "share to facebook",
        "share to pinterest",
        "share to linkedin",
        "linkedin",
        "reddit",
        "print",
        "tweet",
    )
)
_BULLET = re.compile(r"^(\s*)[•◦▪▫‣∙·●○■□*–-]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+")
_TERMINAL_PUNCT = (".", ",", ";", "!", "?")
_MAX_HEADING_CHARS = 70
_MAX_HEADING_WORDS = 10


def strip_chrome(lines: list[str]) -> list[str]:
    """Cut the page at the first chrome section and drop share-button lines."""
    kept: list[str] = []
    for line in lines:
        key = line.strip().lower().rstrip(":").strip()
        low = line.strip().lower()
        if key in _CHROME_STARTS or low.startswith(_CHROME_PREFIXES):
            break
        if key in _SHARE_LINES:
            continue
        kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    return kept


def _is_heading(line: str, prev_blank: bool) -> bool:
    text = line.strip()
    return (
        prev_blank
        and 0 < len(text) <= _MAX_HEADING_CHARS
        and len(text.split()) <= _MAX_HEADING_WORDS
        and not text.endswith(_TERMINAL_PUNCT)
        and not _BULLET.match(line)
        and not _NUMBERED.match(line)
        and not text.startswith(("`", "http", "$", ">"))
    )


def text_export_to_markdown(text: str) -> tuple[str, str]:
    """Return (title, markdown body) for a plain-text blog export.

    The first non-empty line is the title. Short standalone lines become ``##`` headings, bullet
    glyphs become Markdown list items, and the blog's chrome is removed.
    """
    lines = strip_chrome(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return "", ""
    title = lines[0].strip()
    out: list[str] = []
    prev_blank = True
    for line in lines[1:]:
        if not line.strip():
            out.append("")
            prev_blank = True
            continue
        bullet = _BULLET.match(line)
        if bullet:
            depth = max(len(bullet.group(1).expandtabs(4)) // 2 - 1, 0)
            out.append("  " * depth + "- " + bullet.group(2).strip())
        elif _is_heading(line, prev_blank):
            out.extend(["", "## " + line.strip().rstrip(":").strip(), ""])
        else:
            out.append(line.strip())
        prev_blank = False
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()
    return title, body
