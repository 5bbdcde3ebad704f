"""Counts as people write them: "1 article", "2 articles"."""

from __future__ import annotations


def count(n: int, word: str, plural: str = "") -> str:
    return f"{n:,} {word if n == 1 else plural or word + 's'}"
