"""HTML for the web app's panels. Everything from the KB or the user is escaped."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rag import (
    TRIAGE_LABELS,
    VERDICT_LABELS,
    Answer,
    EvalRun,
    GapCluster,
    SearchHit,
    Triage,
    TriageItem,
    display_path,
    failed,
    metric_bars,
    safe_url,
)

_COLOURS = {
    "answered": "#1a7f37",
    "low_confidence": "#9a6700",
    "abstained": "#cf222e",
    "known_issue": "#1a7f37",
    "possible_match": "#9a6700",
    "no_known_issue": "#cf222e",
}


def badge(answer: Answer | None) -> str:
    if answer is None:
        return "<div id='kbqa-badge' class='kbqa-badge idle'>Ask a question about the KB</div>"
    label, colour = VERDICT_LABELS[answer.verdict], _COLOURS[answer.verdict]
    return (
        f"<div id='kbqa-badge' class='kbqa-badge {answer.verdict}' data-verdict='{answer.verdict}'>"
        f"<span style='background:{colour}' class='kbqa-pill'>● {label}</span>"
        f" <span class='kbqa-conf'>confidence {answer.confidence:.2f}</span>"
        + (f" <span class='kbqa-mode'>· {html.escape(answer.mode)}</span>" if answer.mode != "extractive" else "")
        + (f"<div class='kbqa-notice'>{html.escape(answer.notice)}</div>" if answer.notice else "")
        + (
            f"<div class='kbqa-query'>Searched as: {html.escape(answer.query)}</div>"
            if answer.query and answer.query != answer.question
            else ""
        )
        + "</div>"
    )


def _origin(source: str) -> str:
    return f"<span class='kbqa-origin'>{html.escape(source)}</span> · " if source else ""


def sources(answer: Answer | None) -> str:
    """The sources panel: [n] → article, section, snippet with the cited sentences highlighted, path."""
    if answer is None:
        return "<div id='kbqa-sources'></div>"
    parts = ["<div id='kbqa-sources'>"]
    if answer.citations:
        parts.append("<h4>Sources</h4>")
        for c in answer.citations:
            cited = [s.text for s in answer.sentences if s.citation == c.n and s.kind != "code"]
            url = safe_url(c.source_url)
            link = (
                f"<a href='{html.escape(url)}' rel='noopener noreferrer nofollow'>{html.escape(url)}</a>"
                if url
                else html.escape(display_path(c.source_path))
            )
            parts.append(
                f"<div class='kbqa-source' id='source-{c.n}'><b>[{c.n}] {html.escape(c.title)}</b>"
                f" — {html.escape(c.section)}"
                + updated(c.updated, c.stale)
                + f"<blockquote>{highlight_sentences(c.snippet, cited)}</blockquote>"
                f"<div class='kbqa-path'>{_origin(c.source)}{link}</div></div>"
            )
    if answer.nearest:
        parts.append("<h4>Nearest articles</h4><ul>")
        parts.extend(
            f"<li>{html.escape(a.title)} <span class='kbqa-path'>{html.escape(display_path(a.source_path))}</span></li>"
            for a in answer.nearest
        )
        parts.append("</ul>")
    parts.append("</div>")
    return "".join(parts)


def updated(when: str, stale: bool) -> str:
    """The article's "updated" date, with a stale badge past the configured age."""
    if not when:
        return ""
    badge = " <span class='kbqa-stale' title='Not updated for a long time: check it is still right'>stale</span>"
    return f" <span class='kbqa-updated'>updated {html.escape(when)}</span>" + (badge if stale else "")


def highlight_sentences(snippet: str, sentences: Iterable[str]) -> str:
    out = html.escape(snippet)
    for sentence in sentences:
        escaped = html.escape(sentence)
        out = out.replace(escaped, f"<mark>{escaped}</mark>", 1)
    return out


def highlight_terms(text: str, terms: Iterable[str]) -> str:
    escaped = html.escape(text)
    words = sorted({html.escape(t) for t in terms if t}, key=len, reverse=True)
    if not words:
        return escaped
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    return pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", escaped)


def search_results(hits: list[SearchHit]) -> str:
    if not hits:
        return "<div id='kbqa-search-results'>No matching articles.</div>"
    rows = ["<div id='kbqa-search-results'><ol>"]
    for hit in hits:
        tags = " ".join(f"<span class='kbqa-tag'>{html.escape(t)}</span>" for t in hit.tags)
        head = f"<li class='kbqa-hit'><b>{html.escape(hit.title)}</b> — {html.escape(hit.section)} {tags}"
        rows.append(
            head + updated(hit.updated, hit.stale) + f"<div class='kbqa-snippet'>"
            f"{highlight_terms(hit.snippet, hit.matched_terms)}</div>"
            f"<div class='kbqa-path'>{html.escape(hit.article_id)} · score {hit.score:.4f} · matched: "
            f"{html.escape(', '.join(hit.matched_terms))}</div></li>"
        )
    rows.append("</ol></div>")
    return "".join(rows)


def triage(result: Triage | None) -> str:
    """The triage panel: verdict, what was identified, the known issue's cause, fix and checks, the matches."""
    if result is None:
        return "<div id='kbqa-triage'></div>"
    label, colour = TRIAGE_LABELS[result.verdict], _COLOURS[result.verdict]
    parts = [
        f"<div id='kbqa-triage' data-verdict='{result.verdict}'>"
        f"<span style='background:{colour}' class='kbqa-pill'>● {label}</span>"
        f" <span class='kbqa-conf'>confidence {result.confidence:.2f}</span>"
    ]
    terms = result.signals.terms()
    if terms:
        shown = [t if len(t) <= 60 else t[:57] + "…" for t in terms[:12]]
        chips = " ".join(f"<span class='kbqa-tag'>{html.escape(t)}</span>" for t in shown)
        parts.append(f"<div class='kbqa-signals'>Identified: {chips}</div>")
    dropped = ", ".join(f"{n} {kind}" for kind, n in result.signals.dropped.items())
    if dropped:
        parts.append(f"<div class='kbqa-path'>Left out of the search: {html.escape(dropped)}</div>")
    if result.notice:
        parts.append(f"<div class='kbqa-notice'>{html.escape(result.notice)}</div>")
    if result.known_issue:
        k = result.known_issue
        parts.append(f"<h4 id='kbqa-known-issue'>{html.escape(k.title)} — {html.escape(k.section)}</h4>")
    for heading, items, anchor in (
        ("Cause", result.cause, "cause"),
        ("Fix / next steps", result.fix, "fix"),
        ("Ask the customer / check", result.ask_customer, "ask"),
    ):
        if items:
            parts.append(f"<h4>{heading}</h4><ul id='kbqa-triage-{anchor}'>")
            parts.extend(_triage_item(i) for i in items)
            parts.append("</ul>")
    if result.matches:
        parts.append("<h4>Matching articles</h4>" + search_results(result.matches))
    if result.nearest:
        parts.append("<h4>Nearest articles (not a match)</h4><ul>")
        parts.extend(f"<li>{html.escape(a.title)}</li>" for a in result.nearest)
        parts.append("</ul>")
    if result.citations:
        parts.append("<h4>Sources</h4><ol class='kbqa-triage-sources'>")
        parts.extend(
            f"<li value='{c.n}'>{html.escape(c.title)} — {html.escape(c.section)}"
            + updated(c.updated, c.stale)
            + f" <span class='kbqa-path'>{html.escape(c.where)}</span></li>"
            for c in result.citations
        )
        parts.append("</ol>")
    parts.append("</div>")
    return "".join(parts)


def _triage_item(item: TriageItem) -> str:
    if item.kind == "code":  # the fences are for the Markdown reply; here the block is shown as code
        body = "\n".join(line for line in item.text.splitlines() if not line.lstrip().startswith("```"))
        text = f"<pre>{html.escape(body)}</pre>"
    else:
        text = html.escape(item.text)
    return f"<li>{text} <a href='#' class='kbqa-cite'>[{item.citation}]</a></li>"


def gaps(clusters: list[GapCluster]) -> str:
    if not clusters:
        return (
            "<div id='kbqa-gaps'>No gaps yet: nothing in the query log or feedback was unanswered, "
            "low confidence or rated down.</div>"
        )
    parts = ["<div id='kbqa-gaps'><ol>"]
    for c in clusters:
        why = ", ".join(f"{n} {html.escape(reason)}" for reason, n in c.why.items())
        examples = "".join(f"<li>{html.escape(e)}</li>" for e in c.examples[:3])
        terms = " ".join(f"<span class='kbqa-tag'>{html.escape(t)}</span>" for t in c.key_terms)
        parts.append(
            f"<li class='kbqa-gap'><b>{html.escape(c.suggested_title)}</b> "
            f"<span class='kbqa-conf'>{c.size} question(s): {why}</span> {terms}"
            f"<div>{html.escape(c.suggestion)}</div><ul class='kbqa-path'>{examples}</ul></li>"
        )
    parts.append("</ol></div>")
    return "".join(parts)


CSS = """
.kbqa-pill { color: white; border-radius: 1em; padding: 0.15em 0.7em; font-weight: 600; }
.kbqa-conf, .kbqa-path, .kbqa-updated, .kbqa-query { color: #57606a; font-size: 0.85em; }
.kbqa-notice { color: #9a6700; margin-top: 0.3em; }
.kbqa-source { margin-bottom: 0.8em; }
.kbqa-source blockquote { margin: 0.3em 0; padding-left: 0.6em; border-left: 3px solid #d0d7de; }
.kbqa-stale { background: #fff1e5; color: #bc4c00; border-radius: 0.5em; padding: 0 0.4em; font-size: 0.8em; }
#kbqa-triage pre { white-space: pre-wrap; overflow-wrap: anywhere; }
.kbqa-tag { background: #ddf4ff; border-radius: 0.5em; padding: 0 0.4em; font-size: 0.8em; }
mark { background: #fff8c5; }
"""


def eval_summary(run: EvalRun, folder: Path) -> str:
    """The metric chart and the headline counts of an eval run shown in the Evaluate tab."""
    answers = run.config.get("kind") == "answers"
    count = run.summary.get("answers" if answers else "questions", 0)
    to_look_at = sum(failed(r) for r in run.rows)
    figures = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in run.summary.items()
    )
    return (
        f"<div id='kbqa-eval-result' data-kind='{'answers' if answers else 'questions'}'>"
        f"<p><b>{count} {'answers checked' if answers else 'questions evaluated'}</b>, {to_look_at} to look at "
        f"(listed first below). Run folder: <code>{html.escape(str(folder))}</code></p>"
        f"{metric_bars(run.summary)}<details><summary>All figures</summary><table>{figures}</table></details></div>"
    )


def eval_rows(run: EvalRun) -> tuple[list[str], list[list[object]]]:
    """Headers and rows of the per-question (or per-answer) table, rows to look at first."""
    rows = sorted(run.rows, key=lambda r: (not failed(r), str(r["id"])))
    if run.config.get("kind") == "answers":
        headers = ["status", "id", "question", "supported by", "cited", "grounded", "unsupported sentences"]
        return headers, [
            [
                _status(r),
                r["id"],
                r["question"],
                ", ".join(r["supporting_articles"]),
                ", ".join(r["cited_articles"] + [f"missing: {m}" for m in r["cited_missing"]]),
                r["grounded"],
                " | ".join(r["unsupported"]),
            ]
            for r in rows
        ]
    headers = ["status", "id", "question", "expected", "verdict", "retrieved", "hit@1", "must_include", "grounded"]
    return headers, [
        [
            _status(r),
            r["id"],
            r["question"],
            ", ".join(r.get("expected", [])) if r["answerable"] else "out of KB",
            r.get("verdict", "error: " + r.get("error", "")),
            ", ".join(r.get("retrieved_articles", [])[:3]),
            r.get("hit@1"),
            r.get("must_include"),
            r.get("grounded"),
        ]
        for r in rows
    ]


def _status(row: dict[str, Any]) -> str:
    return "look at" if failed(row) else "ok"
