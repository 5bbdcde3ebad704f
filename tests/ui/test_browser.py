"""End to end in a real browser: `kbqa serve` in a subprocess, driven by Debian's Chromium through Playwright.

The tests share one server and one browser page and run in file order, like one user's session: ask,
follow up, rate the answer, search, upload an article and ask about it. The last test checks that the
page loaded nothing from outside localhost during all of it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Locator, Page, expect, sync_playwright

from tests.support import kbqa_serve

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The README's screenshot is refreshed only on request (UPDATE_SCREENSHOT=1), so tests leave the tree alone.
SCREENSHOT = ROOT / "docs" / "chat.png" if os.environ.get("UPDATE_SCREENSHOT") == "1" else None
STARTUP_TIMEOUT_S = 180
WAIT_MS = 60_000  # answers take < 2 s; the first one may also wait for the model
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}

UPLOAD = """\
---
id: zz-upload-test
title: "KB: Frobnicator service fails with error FRB-4242"
tags: [frobnicator]
updated: 2025-01-01
---

## Symptoms

The frobnicator service stops and logs error FRB-4242.

## Cause

The FRB-4242 error means the frobnicator license file expired; renew it with frobctl renew.
"""


@dataclass
class Session:
    base_url: str
    index_dir: Path
    page: Page
    requests: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """A real `kbqa serve` over a temp copy of corpus/ and a temp index, and one Chromium page on it."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make install-dev` (installs Debian's chromium).")
    expect.set_options(timeout=WAIT_MS)
    work = tmp_path_factory.mktemp("browser")
    corpus, index_dir = work / "corpus", work / "index"
    shutil.copytree(CORPUS, corpus)
    # KBQA_LLM_PROVIDER=local shows the answer-mode switch; answers stay extractive unless switched.
    with kbqa_serve(work, corpus, index_dir, KBQA_LLM_PROVIDER="local") as server:
        base_url = server.base_url
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            s = Session(base_url, index_dir, page)
            context.on("request", lambda request: s.requests.append(request.url))
            # Gradio keeps a heartbeat request open, so "networkidle" never comes: wait for the app instead.
            page.goto(base_url + "/", wait_until="load")
            page.locator("#kbqa-question textarea").wait_for()
            yield s
            browser.close()


def _ask(page: Page, question: str) -> Locator:
    """Type a question, click Ask, wait until the answer is complete; return the new answer bubble."""
    bots = page.locator("#kbqa-chat [data-testid='bot']")
    before = bots.count()
    page.locator("#kbqa-question textarea").fill(question)
    page.locator("#kbqa-ask").click()
    # The user's turn and the first streamed words arrive together; the badge and sources come last.
    expect(bots).to_have_count(before + 1, timeout=WAIT_MS)
    expect(page.locator("#kbqa-badge-box [data-testid='status-tracker']")).to_have_class(
        re.compile(r"\bhide\b"), timeout=WAIT_MS
    )
    return bots.nth(before)


def test_chat_answers_with_citation_badge_and_highlighted_source(session: Session, tmp_path: Path) -> None:
    """A question typed into Chat gets a cited "not" answer, an "answered" badge and a highlighted source."""
    page = session.page
    answer = _ask(page, "Is kube-proxy a CNI plugin?")
    expect(answer).to_contain_text("not")
    expect(answer).to_contain_text("[1]")
    expect(page.locator("#kbqa-badge-box #kbqa-badge")).to_contain_text("answered")
    sources = page.locator("#kbqa-sources-box #kbqa-sources")
    expect(sources).to_contain_text("KB: Kube-proxy vs CNI Plugin")
    expect(sources.locator("mark").first).to_contain_text("kube-proxy is not considered a CNI plugin")
    shot = SCREENSHOT or tmp_path / "chat.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000


def test_follow_up_gets_a_second_answer(session: Session) -> None:
    """A follow-up question in the same chat gets its own answer and verdict badge."""
    page = session.page
    answer = _ask(page, "how do I check it in AKS?")
    expect(page.locator("#kbqa-chat [data-testid='bot']")).to_have_count(2)
    assert answer.inner_text().strip()
    badge = page.locator("#kbqa-badge")
    expect(badge).to_have_attribute("data-verdict", re.compile(r"^(answered|low_confidence|abstained)$"))
    expect(badge).to_contain_text(re.compile(r"answered|low confidence|not in the KB"))


def test_thumbs_down_with_reason_is_stored(session: Session) -> None:
    """Thumbs-down with a reason and comment says "saved" and lands in the feedback SQLite table."""
    page = session.page
    page.locator("#kbqa-reason input").click()
    page.get_by_role("option", name="wrong answer", exact=True).click()
    expect(page.locator("#kbqa-reason input")).to_have_value("wrong answer")
    page.locator("#kbqa-comment textarea").fill("browser test: should name the kubectl command")
    page.locator("#kbqa-thumb-down").click()
    expect(page.locator("#kbqa-feedback-status")).to_contain_text("saved")

    db = sqlite3.connect(f"file:{session.index_dir / 'feedback.sqlite3'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT rating, reason, comment, question FROM feedback").fetchall()
    finally:
        db.close()
    assert (
        "down",
        "wrong answer",
        "browser test: should name the kubectl command",
        "how do I check it in AKS?",
    ) in rows, rows


def test_search_tab_finds_pasted_error_string(session: Session) -> None:
    """A pasted AADSTS70021 error in Search ranks the AKS workload identity article first, highlighted."""
    page = session.page
    page.get_by_role("tab", name="Search").click()
    page.locator("#kbqa-search textarea").fill(
        "AADSTS70021: No matching federated identity record found for presented assertion."
    )
    page.locator("#kbqa-search-go").click()
    first = page.locator("#kbqa-search-box li.kbqa-hit").first
    expect(first).to_contain_text(re.compile("AKS workload identity", re.IGNORECASE))
    expect(first.locator("mark").first).to_be_visible()
    expect(first.locator("mark", has_text=re.compile("AADSTS70021", re.IGNORECASE)).first).to_be_visible()


TICKET = """\
Hi support,
since this morning our checkout-api pods do not start. kubectl describe shows:

  Warning  Failed     12s (x4 over 1m)  kubelet  Failed to pull image "contoso.azurecr.io/checkout-api:2.8.0":
  failed to authorize: failed to fetch anonymous token: unexpected status: 401 Unauthorized
  Warning  Failed     12s (x4 over 1m)  kubelet  Error: ImagePullBackOff

Cluster prod-weu-01, request id 6c1e2f3a-8d4a-4b3e-9f1a-2c3d4e5f6a7b. Thanks, Sam
"""


def test_triage_tab_gives_the_known_issue_and_a_reply_to_copy(session: Session) -> None:
    """A pasted ticket in Triage: the known issue, its fix with citations, and a reply draft with a copy button."""
    page = session.page
    page.get_by_role("tab", name="Triage").click()
    page.locator("#kbqa-ticket textarea").fill(TICKET)
    page.locator("#kbqa-triage-go").click()
    panel = page.locator("#kbqa-triage")
    expect(panel).to_have_attribute("data-verdict", re.compile("known_issue|possible_match"))
    expect(page.locator("#kbqa-known-issue")).to_contain_text(re.compile("ImagePullBackOff", re.IGNORECASE))
    expect(panel.locator(".kbqa-signals")).to_contain_text("ImagePullBackOff")
    expect(page.locator("#kbqa-triage-fix li").first).to_contain_text(re.compile(r"\[\d+\]"))
    reply = page.locator("#kbqa-reply textarea")
    expect(reply).to_have_value(re.compile(r"^Hello,[\s\S]*\*\*References\*\*"))
    copy = page.locator("#kbqa-reply button[aria-label*='opy'], #kbqa-reply button[title*='opy']")
    expect(copy.first).to_be_visible()


def test_gaps_tab_groups_what_the_kb_could_not_answer(session: Session) -> None:
    """Questions the KB did not cover, asked in this session, come back as a gap with a suggestion and a chart."""
    page = session.page
    page.get_by_role("tab", name="Chat").click()
    for question in ("How do I clear the print queue on a Zebra label printer?", "Zebra printer prints blank labels"):
        _ask(page, question)
    page.get_by_role("tab", name="Gaps").click()
    page.locator("#kbqa-gaps-go").click()
    first = page.locator("#kbqa-gaps li.kbqa-gap").first
    expect(first).to_contain_text(re.compile("Zebra", re.IGNORECASE))
    expect(first).to_contain_text(re.compile("Write a new article|Extend"))
    expect(page.locator("#kbqa-gaps-chart canvas, #kbqa-gaps-chart svg").first).to_be_visible()


def test_uploaded_article_is_answered_from(session: Session, tmp_path: Path) -> None:
    """An article uploaded in Library is indexed and then cited by a Chat answer."""
    page = session.page
    article = tmp_path / "frobnicator-frb-4242.md"
    article.write_text(UPLOAD, encoding="utf-8")
    page.get_by_role("tab", name="Library").click()
    page.locator("#kbqa-upload input[type='file']").set_input_files(str(article))
    expect(page.locator("#kbqa-library-status")).to_contain_text("Uploaded")

    page.get_by_role("tab", name="Chat").click()
    page.locator("#kbqa-new-chat").click()
    expect(page.locator("#kbqa-chat [data-testid='bot']")).to_have_count(0)
    answer = _ask(page, "what does error FRB-4242 mean")
    expect(answer).to_contain_text("license file expired")
    expect(answer).to_contain_text("[1]")
    expect(page.locator("#kbqa-badge")).to_have_attribute("data-verdict", re.compile(r"^(answered|low_confidence)$"))
    expect(page.locator("#source-1")).to_contain_text("Frobnicator")


def test_evaluate_tab_runs_an_eval_set_and_checks_answers(session: Session, tmp_path: Path) -> None:
    """Evaluate: an uploaded eval set is scored (summary, table, report link); an answers file is checked."""
    page = session.page
    lines = (ROOT / "eval" / "kb_eval.jsonl").read_text(encoding="utf-8").splitlines()
    evalset = tmp_path / "small.jsonl"
    evalset.write_text("\n".join([*lines[:3], lines[-1]]) + "\n", encoding="utf-8")
    page.get_by_role("tab", name="Evaluate").click()
    page.locator("#kbqa-eval-file input[type='file']").set_input_files(str(evalset))
    page.locator("#kbqa-eval-run").click()
    result = page.locator("#kbqa-eval-result[data-kind='questions']")
    expect(result).to_contain_text("4 questions evaluated")
    expect(result.locator("svg text", has_text="hit@1")).to_be_visible()
    expect(page.locator("#kbqa-eval-table")).to_contain_text(json.loads(lines[0])["question"][:30])
    link = page.locator("#kbqa-eval-report a[href$='report.html']")
    expect(link).to_be_visible()
    downloaded = page.request.get(str(link.get_attribute("href")))
    assert downloaded.ok and "kbqa eval report" in downloaded.text()
    assert list((session.index_dir / "eval-runs").glob("*/report.html"))

    answers = tmp_path / "replies.csv"
    answers.write_text(
        "question,answer\nIs kube-proxy a CNI plugin?,kube-proxy listens on port 9999 on every node.\n",
        encoding="utf-8",
    )
    page.locator("#kbqa-eval-file button[aria-label='Clear']").click()
    page.locator("#kbqa-eval-file input[type='file']").set_input_files(str(answers))
    page.locator("#kbqa-eval-run").click()
    checked = page.locator("#kbqa-eval-result[data-kind='answers']")
    expect(checked).to_contain_text("1 answers checked")
    expect(page.locator("#kbqa-eval-table")).to_contain_text("port 9999")


@pytest.mark.llm
def test_llm_mode_streams_and_shows_the_checked_answer(session: Session) -> None:
    """Switched to llm, the chat streams the local model's text, then the checked answer and its badge."""
    page = session.page
    page.get_by_role("tab", name="Chat").click()
    page.locator("#kbqa-new-chat").click()
    page.locator("#kbqa-mode").get_by_label("llm").check()
    answer = _ask(page, "Is kube-proxy a CNI plugin?")
    # Either the model's sentences with the unsupported ones marked, or the extractive fallback with its notice.
    expect(answer).to_contain_text(re.compile(r"\[not in the sources\]|\[1\]"))
    badge = page.locator("#kbqa-badge")
    expect(badge.locator(".kbqa-mode")).to_contain_text(re.compile(r"· (llm|extractive \(LLM fallback\))"))
    expect(badge.locator(".kbqa-notice")).to_contain_text(re.compile("marked|extractive answer instead"))
    page.locator("#kbqa-mode").get_by_label("extractive").check()


HOSTILE = """---
title: Frobnicator license server
source_url: "javascript:alert(document.cookie)"
---

# Frobnicator license server

The frobnicator license server listens on port 27015 for FRB-7070 checks.
![pixel](http://tracker.kbqa-test.invalid/pixel.png) <img src="http://tracker.kbqa-test.invalid/a.png">
Reset it from the [admin page](http://phish.kbqa-test.invalid/login) or
<a href="http://phish.kbqa-test.invalid/x">this link</a>.
"""


def test_hostile_article_shows_no_script_link_and_loads_nothing(session: Session, tmp_path: Path) -> None:
    """An uploaded article with a javascript: source_url, remote images and links (issue 20): in Chromium its answer
    and Sources panel carry no javascript: link, no remote image and no link to the article's hosts (the last test
    of this module then checks the page requested nothing outside localhost)."""
    from gradio_client import Client, handle_file

    page = session.page
    article = tmp_path / "frobnicator-license-server.md"
    article.write_text(HOSTILE, encoding="utf-8")
    # Uploaded through the app's own endpoint (the Library input still holds the earlier test's file).
    _, status = Client(session.base_url, verbose=False).predict(handle_file(str(article)), api_name="/do_upload")
    assert "Uploaded" in status
    page.get_by_role("tab", name="Chat").click()
    page.locator("#kbqa-new-chat").click()
    expect(page.locator("#kbqa-chat [data-testid='bot']")).to_have_count(0)
    answer = _ask(page, "which port does the frobnicator license server listen on for FRB-7070")
    expect(answer).to_contain_text("27015")
    expect(page.locator("#source-1")).to_contain_text("Frobnicator")
    for area in ("#kbqa-chat", "#kbqa-sources-box"):
        assert page.locator(f"{area} a[href^='javascript']").count() == 0
        assert page.locator(f"{area} a[href*='kbqa-test.invalid']").count() == 0
        assert page.locator(f"{area} img[src*='kbqa-test.invalid']").count() == 0


def test_library_lists_the_sources_and_syncs_them(session: Session) -> None:
    """The Library tab shows each source with its last sync; Sync runs it and reports what changed."""
    page = session.page
    page.get_by_role("tab", name="Library").click()
    sources = page.locator("#kbqa-sources-table")
    expect(sources).to_contain_text("corpus")  # no [[sources]] configured: the corpus folder is the one source
    expect(sources).to_contain_text("never")
    page.locator("#kbqa-sync").click()
    expect(page.locator("#kbqa-sync-status")).to_contain_text("corpus: 0 new, 0 changed, 0 removed")
    expect(sources).not_to_contain_text("never")
    page.locator("#kbqa-sync-cancel").click()
    expect(page.locator("#kbqa-sync-status")).to_contain_text("No sync is running.")


def test_page_loaded_nothing_from_outside_localhost(session: Session) -> None:
    """Every request the page made in this session went to localhost (or was a data:/blob: URL)."""
    assert session.requests, "no requests recorded"
    outside = [
        url
        for url in session.requests
        if urlsplit(url).scheme not in ("data", "blob") and urlsplit(url).hostname not in LOCAL_HOSTS
    ]
    assert not outside, outside
