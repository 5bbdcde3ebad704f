"""Triage over fake parts (no Chroma, no model): it needs only retrieval, the answerer, an article's chunks and
search hits, so its rules can be checked in milliseconds. tests/triage/test_triage.py runs it for real."""

from __future__ import annotations

from rag.triage.triage import triage
from tests.fakes import FakeParts, chunk

CAUSE = chunk(
    "aca#0",
    "aca-identity",
    "Cause",
    "The container app references a user-assigned managed identity by ClientId that is not assigned to the app.",
    0.8,
)
FIX = chunk(
    "aca#1",
    "aca-identity",
    "Resolution",
    "Assign the identity to the container app with az containerapp identity assign, then restart the revision.",
    0.7,
)
OTHER = chunk("fsl#0", "fslogix", "Summary", "FSLogix profile containers fail to attach when the VHD is locked.", 0.2)
TICKET = (
    "2024-05-02T10:11:12Z ERROR ManagedIdentityCredential authentication failed: No User Assigned or Delegated "
    "Managed Identity found for specified ClientId\nCorrelation ID: 3f2b6c1e-8d4a-4b3e-9f1a-2c3d4e5f6a7b"
)


def test_a_known_issue_gets_cause_and_fix_from_the_sections_named_so() -> None:
    parts = FakeParts([CAUSE, FIX, OTHER])
    result = triage(parts, TICKET)  # type: ignore[arg-type]
    assert result.verdict in ("known_issue", "possible_match")
    assert result.known_issue is not None and result.known_issue.article_id == "aca-identity"
    assert any("not assigned to the app" in i.text for i in result.cause)
    assert any("az containerapp identity assign" in i.text for i in result.fix)
    assert "3f2b6c1e" not in result.query  # the correlation id is noise, not a search term
    assert result.reply.startswith("Hello,") and result.timings["total_ms"] > 0


def test_a_ticket_nothing_matches_is_escalated() -> None:
    parts = FakeParts([OTHER])
    result = triage(parts, "The label printer prints blank pages after the driver update.")  # type: ignore[arg-type]
    assert result.verdict == "no_known_issue" and result.known_issue is None and not result.fix
    assert result.reply.startswith("**No known issue in the KB — escalate.**")
