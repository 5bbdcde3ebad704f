"""What a section of an article is for, by its heading: the Symptoms / Cause / Resolution layout most support KBs
use, and their "How to check". Read by the answerer (a symptom goes on with its cause and fix) and by triage."""

from __future__ import annotations

import re
from typing import Literal

SectionRole = Literal["cause", "fix", "check", "symptom"]

# Tried in this order on each heading of a section path, its own heading first.
_ROLES: tuple[tuple[SectionRole, re.Pattern[str]], ...] = (
    ("cause", re.compile(r"\b(?:causes?|root causes?|why)\b", re.IGNORECASE)),  # not "reason": "Reason codes"
    (
        "fix",
        re.compile(
            r"\b(?:resolutions?|resolve|fix(?:es)?|solutions?|workarounds?|mitigations?|mitigate|remediation|"
            r"remed(?:y|ies)|steps|next steps|how to fix)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "check",
        re.compile(
            r"\b(?:how to check|check|verify|verification|diagnos\w*|troubleshoot\w*|prerequisites?|before you"
            r"|rule out|confirm)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "symptom",
        re.compile(r"^\s*(?:symptoms?|errors?|error messages?|problems?|issues?|what you see)\b", re.IGNORECASE),
    ),
)


def section_role(section: str) -> SectionRole | None:
    """The role of a section by its own heading first, then its parents' ("Resolution > Step 2" is a fix)."""
    for part in reversed(section.split(" > ")):
        for role, pattern in _ROLES:
            if pattern.search(part):
                return role
    return None
