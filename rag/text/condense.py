"""Turn a long paste (a log excerpt, a ticket) into a search query that keeps what identifies the problem.

The embedding model reads only the first 256 tokens and BM25 rewards repeated words, so a raw log
buried under INFO lines would be searched for its noise. Lines that repeat with other numbers are kept
once, and lines that look like errors come first.
"""

from __future__ import annotations

import re

CONDENSE_ABOVE = 1000  # characters; shorter questions are searched as typed

_VARIABLE = re.compile(r"0x[0-9a-f]+|[0-9a-f]{8,}(?:-[0-9a-f]{4,})*|\d+", re.IGNORECASE)
_ERRORISH = re.compile(
    r"error|fail|exception|denied|unauthori[sz]ed|forbidden|timed? ?out|refused|not found|invalid|cannot|"
    r"can't|unable|fatal|panic|critical|\b[45]\d\d\b|AADSTS\d+|0x[0-9a-f]{8}",
    re.IGNORECASE,
)


def condense(text: str, limit: int = CONDENSE_ABOVE) -> str:
    """``text`` itself when short; otherwise its distinct lines, error-like ones first, up to ``limit``."""
    if len(text) <= limit:
        return text
    seen: set[str] = set()
    lines: list[tuple[int, int, str]] = []
    for order, raw in enumerate(text.splitlines()):
        line = raw.strip()
        shape = _VARIABLE.sub("#", line.lower())
        if not line or shape in seen:
            continue
        seen.add(shape)
        lines.append((0 if _ERRORISH.search(line) else 1, order, line))
    kept: list[str] = []
    size = 0
    for _, _, line in sorted(lines):
        if size + len(line) > limit and kept:
            break
        kept.append(line[:limit])
        size += len(line) + 1
    return "\n".join(kept)
