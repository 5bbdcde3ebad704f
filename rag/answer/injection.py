"""Prompt injection: text in the KB that speaks to the model, kept from the model and out of answers.

Articles are data, but anyone who can edit the KB (or paste a customer's ticket into it) can write
"ignore previous instructions …". kbqa's defences, in order: the prompt fences each source and says
sources are data (rag/answer/generate.py); ``for_prompt`` removes sentences addressed to an AI and turns
citation markers written in an article into plain text before the model sees them; after generation,
``leaks_prompt`` catches sentences that repeat the system prompt and ``FAKE_CITATION`` strips
references the model copied. Extractive answers quote articles with ``plain_citations``, so in any
answer every [n] is a citation kbqa made and checked.

The patterns match the *form* of an instruction to a model (an imperative aimed at its instructions,
its prompt or its role), not given phrases. Guard models and services (Llama Guard, Rebuff, Lakera)
need a model download or the network, so this is written here; it only filters what the model reads,
never what is indexed or quoted by the extractive answerer.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rag.text.sentences import split_units

REMOVED = "[instruction-like text removed]"

_TARGET = r"(?:instructions?|rules|prompts?|directions|guidelines|directives)"
_INSTRUCTION = re.compile(
    rf"""
    \b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+|the\s+)?
        (?:previous|prior|above|earlier|preceding|your|system|original|other)\s+{_TARGET}\b
    | \b(?:reveal|print|show|repeat|output|display|leak|disclose|dump)\s+(?:me\s+)?
        (?:your\s+(?:\w+\s+)?{_TARGET}|(?:the\s+|your\s+)?(?:system|hidden|original|initial)\s+{_TARGET})\b
    | \byou\s+are\s+now\s+(?:an?\s+)?(?:ai|assistant|chatbot|dan|unrestricted|jailbroken|in\s+developer\s+mode)\b
    | \bnew\s+{_TARGET}\s*:
    | \b(?:ai\s+(?:assistant|model|system)s?|language\s+models?|llms?|chatbots?)\b[^.!?\n]{{0,60}}
        \b(?:must|should|shall)\s+(?:always|never|now|instead|only|ignore|answer|reply|respond|say)\b
    | \b(?:answer|reply|respond\s+to)\s+(?:every|all|each|any)\s+(?:questions?|requests?|users?)\s+(?:with|by)\b
    """,
    re.IGNORECASE | re.VERBOSE,
)
# "[3]" or "[1, 2]" written in an article, not an index in code such as items[0].
_ARTICLE_MARKER = re.compile(r"(?<![\w\]\[])\[(\d+(?:\s*,\s*\d+)*)\]")
_REFERENCE = r"\s*(?:kb\b|(?:source|ref|reference|article|doc|document|citation)s?\s*[:#\d])"
# "[KB: Some article, section X]" or "(Source: 3)": a reference written in an article, or copied from one.
FAKE_CITATION = re.compile(rf"\[{_REFERENCE}[^\]\n]{{0,160}}\]|\({_REFERENCE}[^)\n]{{0,160}}\)", re.IGNORECASE)
_WORDS = re.compile(r"[a-z0-9]+")
_SHINGLE = 6


def is_instruction(text: str) -> bool:
    return _INSTRUCTION.search(text) is not None


def for_prompt(text: str) -> str:
    """Source text as the model should read it: instruction-like sentences removed, markers made plain."""
    if is_instruction(text):
        for unit in split_units(text):
            if is_instruction(unit.text):
                text = text.replace(unit.text, REMOVED)
    return plain_citations(text)


def plain_citations(text: str) -> str:
    """Citation-like brackets an article wrote, as plain text: in an answer only kbqa's own [n] cite."""
    text = FAKE_CITATION.sub(lambda m: "(" + m.group(0)[1:-1].strip() + ")", text)
    return _ARTICLE_MARKER.sub(r"(\1)", text)


def leaks_prompt(sentence: str, prompt: str, sources: str) -> bool:
    """Whether ``sentence`` repeats six or more words in a row of ``prompt`` (the model's instructions) that
    are not also in ``sources`` (the prompt's example sentence may well be a true answer)."""
    return bool((_shingles(sentence) & _prompt_shingles(prompt)) - _shingles(sources))


@lru_cache(maxsize=4)
def _prompt_shingles(prompt: str) -> frozenset[tuple[str, ...]]:
    return _shingles(prompt)


def _shingles(text: str) -> frozenset[tuple[str, ...]]:
    words = _WORDS.findall(text.lower())
    return frozenset(tuple(words[i : i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1))
