"""Triage end to end on the real index: known issue, cause, fix, checks, reply; CLI, API, log and gaps."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rag import KbService
from rag.types import is_stale

ACA_LOG = """\
2024-05-02T10:11:12.345Z ERROR [app] Azure.Identity.CredentialUnavailableException: ManagedIdentityCredential \
authentication failed: Status: 400 (Bad Request)
Content: {"statusCode":400,"message":"Unable to load the proper Managed Identity. No User Assigned or Delegated \
Managed Identity found for specified ClientId/ResourceId/PrincipalId."}
   at Azure.Identity.ManagedIdentityClient.AuthenticateAsync(Boolean async, TokenRequestContext context)
   at Azure.Identity.ManagedIdentityCredential.GetTokenImplAsync(Boolean async)
Correlation ID: 3f2b6c1e-8d4a-4b3e-9f1a-2c3d4e5f6a7b
2024-05-02T10:11:13.001Z INFO  [app] container app revision my-api--v2 restarting
"""
UNKNOWN = "Our label printer (Zebra ZD420) prints blank pages after the driver update to 5.1.07. No error shown."


@pytest.fixture(scope="module")
def logged(kb: Any, tmp_path_factory: pytest.TempPathFactory) -> KbService:
    log = tmp_path_factory.mktemp("log") / "queries.sqlite3"
    return KbService(kb.settings.model_copy(update={"query_log_db": log, "feedback_db": log.with_name("fb.sqlite3")}))


def test_a_pasted_log_finds_the_known_issue_with_cause_fix_and_checks(logged: KbService) -> None:
    result = logged.triage(ACA_LOG, channel="api")
    assert result.verdict == "known_issue"
    assert result.known_issue is not None
    assert result.known_issue.article_id == "aca-managed-identity-clientid-not-found"
    assert result.matches[0].article_id == result.known_issue.article_id
    assert (
        "Azure.Identity.CredentialUnavailableException" in result.matches[0].matched_terms
        or result.matches[0].matched_terms
    )
    assert result.cause and result.fix and result.ask_customer
    assert any("az containerapp identity" in i.text for i in result.fix)
    numbers = {c.n for c in result.citations}
    for item in [*result.cause, *result.fix, *result.ask_customer]:
        assert item.citation in numbers
    sections = {c.n: c.section for c in result.citations}
    assert all(re.search(r"cause", sections[i.citation], re.I) for i in result.cause)
    # Noise never reached the search query; the exact strings did.
    assert "3f2b6c1e" not in result.query and "2024-05-02" not in result.query
    assert "No User Assigned or Delegated Managed Identity" in result.query


ACR_ERROR = (
    "The pods stay in ImagePullBackOff and kubectl describe pod shows:\n"
    "failed to authorize: failed to fetch anonymous token: unexpected status: 401 Unauthorized"
)


def test_the_customers_story_around_an_error_does_not_lower_confidence(logged: KbService) -> None:
    """Names, days and pleasantries no article uses are a ticket's narrative, not a problem the KB lacks."""
    bare = logged.triage(ACR_ERROR, channel="api")
    told = logged.triage(
        "Hello, since yesterday our colleague Jana Novak at Fabrikam cannot roll out the orders service on cluster "
        f"aks-ord-weu.\n{ACR_ERROR}\nNothing was changed on our side as far as we know. Thanks, Piotr",
        channel="api",
    )
    assert told.known_issue is not None and told.known_issue.article_id == "aks-acr-imagepullbackoff-401"
    assert told.confidence >= bare.confidence - 0.05


def test_the_reply_is_markdown_with_resolvable_citations(logged: KbService) -> None:
    reply = logged.triage(ACA_LOG).reply
    assert reply.startswith("Hello,") and "**What to do**" in reply and "**References**" in reply
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", reply.split("**References**")[0])}
    listed = {int(n) for n in re.findall(r"^\[(\d+)\] ", reply.split("**References**")[1], re.M)}
    assert cited and cited <= listed


def test_an_unknown_problem_is_escalated_with_the_nearest_articles(logged: KbService) -> None:
    result = logged.triage(UNKNOWN)
    assert result.verdict == "no_known_issue" and result.known_issue is None and not result.fix
    assert result.reply.startswith("**No known issue in the KB — escalate.**") and result.nearest


def test_tag_filter_limits_triage_to_a_product(logged: KbService) -> None:
    result = logged.triage(ACA_LOG, tags=["fslogix"])
    assert all("fslogix" in m.tags for m in result.matches)


def test_stale_articles_are_marked(logged: KbService) -> None:
    assert is_stale("2020-01-01", 365) and not is_stale("", 365) and not is_stale("not a date", 365)
    lenient = KbService(logged.settings.model_copy(update={"stale_after_days": 100_000})).triage(ACA_LOG)
    assert lenient.citations and not any(c.stale for c in lenient.citations)
    assert "may be outdated" not in lenient.reply
    strict = KbService(logged.settings.model_copy(update={"stale_after_days": 1})).triage(ACA_LOG)
    assert strict.citations and all(c.stale for c in strict.citations if c.updated)
    assert "may be outdated" in strict.reply


def test_triage_is_logged_and_feeds_the_gaps(logged: KbService) -> None:
    logged.triage(ACA_LOG, channel="ui")
    logged.triage(UNKNOWN, channel="ui")
    logged.ask("How do I reset the label printer driver on a Zebra ZD420?", channel="ui")
    logged.ask("Zebra ZD420 prints blank labels", channel="api")
    assert logged.query_log is not None
    rows = logged.query_log.rows(10)
    assert {r["kind"] for r in rows} >= {"triage", "ask"}
    triaged = next(r for r in rows if r["kind"] == "triage" and r["verdict"] == "no_known_issue")
    assert triaged["question"] == UNKNOWN and triaged["result"]["reply"].startswith("**No known issue")
    gaps = logged.gaps()
    assert gaps and gaps[0].size >= 2 and any("Zebra" in e or "label" in e.lower() for e in gaps[0].examples)
    assert gaps[0].suggestion and gaps[0].suggested_title.startswith("KB: ")
    assert all("aca" not in e.lower() for c in gaps for e in c.examples)  # answered tickets are not gaps


def test_api_triage(kb: Any) -> None:
    from ui.server import create_app

    client = TestClient(create_app(kb.settings.model_copy(update={"query_log": False})))
    body = client.post("/api/triage", json={"ticket": ACA_LOG}).json()
    assert body["verdict"] == "known_issue" and body["reply"].startswith("Hello,")
    assert body["known_issue"]["article_id"] == "aca-managed-identity-clientid-not-found"
    assert client.post("/api/triage", json={"ticket": "   "}).status_code == 400


@pytest.mark.integration
def test_cli_triage_from_a_file_and_from_stdin(kb: Any, tmp_path: Path) -> None:
    ticket = tmp_path / "ticket.txt"
    ticket.write_text(ACA_LOG, encoding="utf-8")
    base = [sys.executable, "-m", "rag.cli", "--index-dir", str(kb.settings.index_dir)]
    shown = subprocess.run([*base, "triage", str(ticket)], capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr
    assert "known issue" in shown.stdout and "Cause" in shown.stdout and "Fix" in shown.stdout
    piped = subprocess.run([*base, "triage", "-", "--json"], input=ACA_LOG, capture_output=True, text=True, timeout=300)
    assert json.loads(piped.stdout)["known_issue"]["article_id"] == "aca-managed-identity-clientid-not-found"
    reply = subprocess.run([*base, "triage", str(ticket), "--reply"], capture_output=True, text=True, timeout=300)
    assert reply.stdout.startswith("Hello,")
    binary = tmp_path / "dump.bin"
    binary.write_bytes(b"\x00\x01" * 100)
    refused = subprocess.run([*base, "triage", str(binary)], capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "binary" in refused.stderr


@pytest.mark.integration
def test_cli_log_show_replays_and_gaps_groups(kb: Any, tmp_path: Path) -> None:
    import os

    env = {**os.environ, "KBQA_QUERY_LOG_DB": str(tmp_path / "queries.sqlite3")}
    base = [sys.executable, "-m", "rag.cli", "--index-dir", str(kb.settings.index_dir)]

    def kbqa(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*base, *args], capture_output=True, text=True, timeout=300, env=env)

    assert "No query log" in kbqa("log", "list").stderr
    kbqa("ask", "Is kube-proxy a CNI plugin?")
    kbqa("ask", "How do I clear the print queue on a Zebra label printer?")
    kbqa("ask", "Zebra label printer prints blank labels")
    listed = kbqa("log", "list")
    assert listed.returncode == 0 and "Zebra" in listed.stdout and "kube-proxy" in listed.stdout
    shown = kbqa("log", "show", "1")
    assert shown.returncode == 0, shown.stderr
    assert "Is kube-proxy a CNI plugin?" in shown.stdout and "Replayed on the current index" in shown.stdout
    assert "the same chunks, in the same order" in shown.stdout and "answer: unchanged" in shown.stdout
    assert kbqa("log", "show", "99").returncode == 2
    gaps = json.loads(kbqa("gaps", "--json").stdout)
    assert gaps[0]["size"] == 2 and gaps[0]["why"] == {"not in the KB": 2}
    assert all("kube-proxy" not in e for g in gaps for e in g["examples"])
