"""Does an answer read as a person would write it? Flags for the malformed ones.

An extractive answer is made of pieces of articles; when the pieces are cut wrong the answer shows it:
raw Markdown or HTML, a table row, a sentence cut off or starting mid-thought, a command split in two, a
lead-in with nothing after it. `kbqa eval` counts answers with any flag (``malformed``) and CI gates on it.
"""

from __future__ import annotations

import re

from rag.text.sentences import closes_fence

_CITATION = re.compile(r"\s*\[\d+\]")
_UNIT_END = re.compile(r"\s*\[\d+\]\s*")  # each sentence of an answer ends with its citation
_FENCE = re.compile(r"^```.*?^```\s*$", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"``.+?``|`[^`\n]+`")
_HTML_TAG = re.compile(
    r"</?(?:br|sup|sub|a|img|div|span|p|b|i|strong|em|table|tr|td|th|ul|ol|li|code|pre)\b[^>]*>", re.I
)
_MARKDOWN_LINK = re.compile(r"!?\[[^\]\n]+\]\([^)\s]+\)")
_MARKUP = re.compile(r"\[!(?:NOTE|TIP|IMPORTANT|WARNING|CAUTION|INCLUDE|div)\b|\{\{[<%]|^:::|^\s*>\s", re.I | re.M)
_TABLE = re.compile(r"(^|\s)\|\s.*\s\|(\s|$)|^\s*\|")
_ITEM = re.compile(r"^\s*(?:-|\d+\.)\s+")
# A sentence ending in ':' followed, on the same line, by another sentence or by nothing: its list is missing.
_LEAD_IN = re.compile(r":\s*\[\d+\]\s+\S")
# Words that only continue a sentence: one starting with them lower-case was cut from the middle of another.
_CONTINUING_WORDS = (
    "and or but which that to the a an of for with is are was were it this so then because as in on by from "
    "than when where while if should would can could will may must be been being"
)
_CONTINUING = frozenset(_CONTINUING_WORDS.split())
# Words a finished sentence does not end on.
_DANGLING_WORDS = (
    "is are the a an to of and or with for by from that which in on as be should can could would will may must"
)
_DANGLING = frozenset(_DANGLING_WORDS.split())


def _open_fence_at_end(text: str) -> bool:
    open_fence = False
    for line in text.split("\n"):
        if open_fence and closes_fence(line):
            open_fence = False
        elif not open_fence and line.lstrip().startswith("```"):
            open_fence = True
    return open_fence


def form_flags(text: str) -> list[str]:
    """What is wrong with the answer's form, one short label each; empty when it reads right."""
    flags = ["code block not closed"] if _open_fence_at_end(text) else []
    if text.lstrip().startswith("```"):  # a listing with nothing that says what it is (or whose it is)
        flags.append("starts with a code block")
    lines = [line.strip() for line in _FENCE.sub("```code```", text).split("\n") if line.strip()]
    for n, line in enumerate(lines):
        following = lines[n + 1] if n + 1 < len(lines) else ""
        lead_in = _CITATION.sub("", line).endswith(":") and not _ITEM.match(following) and following != "```code```"
        if lead_in or _LEAD_IN.search(line):
            flags.append(f"lead-in with nothing after it: '{_CITATION.sub('', line)[-40:]}'")
    prose = _CITATION.sub("", _FENCE.sub("", text))
    plain = _INLINE_CODE.sub("code", prose)
    checks = {
        "unbalanced backticks": re.sub(r"``.+?``", "", prose).count("`") % 2 == 1,
        "unbalanced brackets": plain.count("(") != plain.count(")") or plain.count("[") != plain.count("]"),
        "HTML tag": bool(_HTML_TAG.search(plain)),
        "raw Markdown link": bool(_MARKDOWN_LINK.search(plain)),
        "admonition or include markup": bool(_MARKUP.search(plain)),
        "raw table row": bool(_TABLE.search(plain)),
    }
    flags += [name for name, found in checks.items() if found]
    listed = False  # inside a list that a lead-in introduced: its items may continue the lead-in's sentence
    for line in (line.strip() for line in _FENCE.sub("", text).split("\n")):
        is_item = bool(_ITEM.match(line))
        if not (is_item and listed):
            flags += [flag for unit in _UNIT_END.split(line) if unit.strip() for flag in _unit_flags(unit.strip())]
        elif line.rstrip().endswith("\\"):
            flags.append("command split across lines")
        listed = _CITATION.sub("", line).endswith(":") or (listed and is_item) or (listed and not line)
    return flags


def _unit_flags(unit: str) -> list[str]:
    """One sentence or item: cut from the middle of another, cut off, or a command cut in two."""
    words = _ITEM.sub("", unit).split()
    flags = []
    if words and words[0].islower() and words[0].strip(",.;:") in _CONTINUING:
        flags.append(f"starts mid-sentence: '{' '.join(words[:4])}…'")
    if words and words[-1].lower().strip(",;") in _DANGLING:
        flags.append(f"cut off: '…{' '.join(words[-4:])}'")
    if unit.endswith("\\"):
        flags.append("command split across lines")
    return flags
