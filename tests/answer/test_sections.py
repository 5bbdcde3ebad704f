"""Section roles by heading: the one table the answerer and triage share."""

from __future__ import annotations

import pytest

from rag.text.sections import section_role


@pytest.mark.parametrize(
    ("section", "role"),
    [
        ("Symptoms", "symptom"),
        ("Symptoms > On Windows nodes", "symptom"),  # a parent's role when the heading has none
        ("Error messages", "symptom"),
        ("Cause", "cause"),
        ("Causes > Cause 2: the identity was re-created", "cause"),
        ("Resolution > 0x80070002: reset the Windows Update cache", "fix"),
        ("Workarounds", "fix"),
        ("Symptoms > How to check", "check"),  # its own heading first
        ("How to check > Status and Reason codes", "check"),  # "Reason" is not a cause
        ("Overview", None),
        ("Kubernetes errors in the API server log > Summary", None),  # a symptom heading starts with the word
    ],
)
def test_section_role(section: str, role: str | None) -> None:
    assert section_role(section) == role
