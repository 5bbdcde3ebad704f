"""Follow-up questions ("and in AKS?", "how do I check it?") read with the conversation so far.

Without an LLM to rewrite the question, the previous question supplies what the follow-up leaves out:
a short follow-up, or one that refers back ("it", "that", "and ..."), is searched together with the
last question that stood on its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.index.keyword import tokenize

_REFERS_BACK = re.compile(
    r"^\s*(and|or|but|also|what about|how about|same for|then)\b|\b(it|its|this|that|these|those|they|them|there)\b",
    re.IGNORECASE,
)
_SHORT = 3  # follow-ups with fewer content terms than this lean on the previous question


def standalone_question(question: str, previous: Sequence[str]) -> str:
    """The query to search for: the question itself, or the previous question plus this one."""
    if not previous:
        return question
    if len(set(tokenize(question))) >= _SHORT and not _REFERS_BACK.search(question):
        return question
    return f"{previous[-1].strip()} {question.strip()}"
