"""Split chunk text into answer units: sentences, list items and code blocks.

Hand-written because the library splitters that know sentences (NLTK punkt, spaCy) need models
downloaded at run time, and KB text is mostly short lines, list items and fenced code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

UnitKind = Literal["sentence", "item", "code"]

_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "approx.", "min.", "max.", "no.", "fig.", "cf.")
_ABBREVIATION = re.compile("|".join(re.escape(a) for a in _ABBREVIATIONS), re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9`\"'(\[])")
_ITEM = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")


@dataclass(frozen=True)
class Unit:
    text: str
    kind: UnitKind
    position: int


def split_units(text: str) -> list[Unit]:
    units: list[Unit] = []
    code: list[str] | None = None
    for raw in text.split("\n"):
        line = raw.rstrip()
        if line.lstrip().startswith("```"):
            if code is None:
                code = [line.strip()]
            else:
                code.append(line.strip())
                units.append(Unit("\n".join(code), "code", len(units)))
                code = None
            continue
        if code is not None:
            code.append(line)
            continue
        if not line.strip():
            continue
        clean = _EMPHASIS.sub(r"\2", line.strip())
        if _ITEM.match(clean):
            units.append(Unit(_ITEM.sub("", clean, count=1), "item", len(units)))
            continue
        for sentence in _split_sentences(clean):
            units.append(Unit(sentence, "sentence", len(units)))
    if code:
        units.append(Unit("\n".join([*code, "```"]), "code", len(units)))
    return units


def sentences_of(text: str) -> list[str]:
    """Every sentence of the text, list items split too (for matching claims, not for composing answers)."""
    return [s for u in split_units(text) for s in ([u.text] if u.kind == "code" else _split_sentences(u.text))]


def _split_sentences(paragraph: str) -> list[str]:
    protected = _ABBREVIATION.sub(lambda m: m.group().replace(".", "\0"), paragraph)
    parts = _SENTENCE_END.split(protected)
    return [p.replace("\0", ".").strip() for p in parts if p.strip()]
