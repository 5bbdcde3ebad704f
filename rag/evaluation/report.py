"""A self-contained HTML report of an eval run: metric bars, latency histogram, questions failures first.

Inline SVG and CSS only, so the file opens anywhere, offline, and can be attached to a ticket or CI run.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

_NOT_RATES = ("latency", "answer_chars", "confidence", "malformed")  # not "higher is better" shares


def failed(row: dict[str, Any]) -> bool:
    """A row a reader should look at first: an error, a wrong abstention, a miss, or an unsupported claim."""
    if "error" in row:
        return True
    if "abstention_correct" not in row:  # a checked answer (kbqa eval answers)
        return bool(row["unsupported"] or row["citation_valid"] is False or row["expected_supported"] == 0)
    if not row["abstention_correct"] or row.get("form_flags") or row.get("wrong_yes_no"):
        return True
    return bool(row["answerable"] and (row.get("hit@1") == 0 or (row.get("must_include") or 1) < 1))


def metric_bars(summary: dict[str, Any]) -> str:
    rows = [(k, v) for k, v in summary.items() if type(v) is float and 0 <= v <= 1 and not k.startswith(_NOT_RATES)]
    height = 24 * len(rows) + 10
    parts = [f"<svg width='640' height='{height}' role='img' aria-label='metrics'>"]
    for i, (name, value) in enumerate(rows):
        y = 24 * i + 5
        width = max(0.0, min(float(value), 1.0)) * 400
        colour = "#1a7f37" if value >= 0.9 else "#9a6700" if value >= 0.7 else "#cf222e"
        parts.append(
            f"<text x='0' y='{y + 14}' font-size='13'>{html.escape(name)}</text>"
            f"<rect x='140' y='{y}' width='{width:.1f}' height='18' fill='{colour}'/>"
            f"<rect x='140' y='{y}' width='400' height='18' fill='none' stroke='#d0d7de'/>"
            f"<text x='550' y='{y + 14}' font-size='13'>{value:.3f}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _histogram(latencies: list[float], bins: int = 12) -> str:
    if not latencies:
        return "<p>No latencies.</p>"
    low, high = min(latencies), max(latencies)
    step = (high - low) / bins or 1.0
    counts = [0] * bins
    for value in latencies:
        counts[min(int((value - low) / step), bins - 1)] += 1
    top = max(counts)
    parts = ["<svg width='640' height='200' role='img' aria-label='latency histogram'>"]
    for i, count in enumerate(counts):
        bar = 140 * count / top
        parts.append(
            f"<rect x='{20 + i * 50}' y='{160 - bar:.1f}' width='44' height='{bar:.1f}' fill='#0969da'/>"
            f"<text x='{20 + i * 50}' y='176' font-size='10'>{low + i * step:.0f}</text>"
            f"<text x='{30 + i * 50}' y='{155 - bar:.1f}' font-size='10'>{count}</text>"
        )
    parts.append("<text x='20' y='195' font-size='11'>latency (ms, bin start) → number of questions</text></svg>")
    return "".join(parts)


_EVIDENCE_LABELS = {"contradicted": "<b>contradicted by</b>", "not in the KB": "not in the KB; closest"}


def _evidence_label(sentence: dict[str, Any]) -> str:
    return _EVIDENCE_LABELS.get(sentence.get("judgement", ""), "source")


def _sentences(row: dict[str, Any]) -> str:
    items = "".join(
        f"<li class='{'ok' if s['supported'] else 'bad'}'>{html.escape(s['text'])} "
        f"<small>({html.escape(s.get('article_id', ''))}, score {s['score']:.2f}"
        f"{'; ' + html.escape(s['reason']) if s['reason'] else ''})</small>"
        f"<br><small>{_evidence_label(s)}: {html.escape(s['evidence'])}</small></li>"
        for s in row.get("sentences", [])
    )
    return f"<details><summary>{len(row.get('sentences', []))} sentences</summary><ul>{items}</ul></details>"


def _failed_first(headers: list[str], rows: list[dict[str, Any]], row: Callable[[dict[str, Any], str], str]) -> str:
    """An HTML table of result rows, failures first (each drawn by ``row(result, css_class)``)."""
    ordered = sorted(rows, key=lambda r: (not failed(r), str(r["id"])))
    head = "".join(f"<th>{h}</th>" for h in headers)
    return f"<table><tr>{head}</tr>" + "".join(row(r, "fail" if failed(r) else "ok") for r in ordered) + "</table>"


def _answers_table(rows: list[dict[str, Any]]) -> str:
    headers = ["id", "question", "expected", "supported by", "cited", "grounded", "unsupported", "answer"]
    return _failed_first(headers, rows, _answer_row)


def _answer_row(r: dict[str, Any], cls: str) -> str:
    missing = "".join(f" <b>missing: {html.escape(m)}</b>" for m in r["cited_missing"])
    cited = html.escape(", ".join(r["cited_articles"])) + missing
    grounded = "—" if r["grounded"] is None else f"{r['grounded']:.2f}"
    return (
        f"<tr class='{cls}'><td>{html.escape(str(r['id']))}</td>"
        f"<td>{html.escape(r['question'])}</td><td>{html.escape(', '.join(r['expected'])) or '—'}</td>"
        f"<td>{html.escape(', '.join(r['supporting_articles'])) or '—'}</td><td>{cited or '—'}</td>"
        f"<td>{grounded}</td><td>{html.escape(' | '.join(r['unsupported']))}</td>"
        f"<td><pre>{html.escape(r['answer'])}</pre>{_sentences(r)}</td></tr>"
    )


def _table(rows: list[dict[str, Any]]) -> str:
    headers = ["id", "question", "expected", "verdict", "retrieved", "cited", "must_include", "unsupported", "answer"]
    return _failed_first(headers, rows, _question_row)


def _question_row(r: dict[str, Any], cls: str) -> str:
    if "error" in r:
        return (
            f"<tr class='{cls}'><td>{html.escape(r['id'])}</td><td>{html.escape(r['question'])}</td>"
            f"<td colspan='7'>error: {html.escape(r['error'])}</td></tr>"
        )
    expected = "out of KB" if not r["answerable"] else ", ".join(r.get("expected", [])) or "—"
    return (
        f"<tr class='{cls}'><td>{html.escape(r['id'])}</td><td>{html.escape(r['question'])}</td>"
        f"<td>{html.escape(expected)}</td><td>{html.escape(r['verdict'])} ({r['confidence']:.2f})</td>"
        f"<td>{html.escape(', '.join(r['retrieved_articles'][:3]))}</td>"
        f"<td>{html.escape(', '.join(r['cited_articles']))}</td>"
        f"<td>{'' if r.get('must_include') is None else format(r['must_include'], '.2f')}</td>"
        f"<td>{html.escape(' | '.join(r['unsupported']))}</td>"
        f"<td><details><summary>show</summary><pre>{html.escape(r['answer'])}</pre></details>"
        f"{_sentences(r)}</td></tr>"
    )


def _by_type(by_type: dict[str, dict[str, Any]]) -> str:
    """Per question type, so a change that helps "how do I" but hurts "pasted error" shows."""
    if not by_type:
        return ""
    columns = list(next(iter(by_type.values())))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["type", *columns])
    body = "".join(
        f"<tr><td>{html.escape(t)}</td>" + "".join(f"<td>{html.escape(str(m.get(c)))}</td>" for c in columns) + "</tr>"
        for t, m in by_type.items()
    )
    return f"<h2>By question type</h2><table><tr>{head}</tr>{body}</table>"


def render_report(summary: dict[str, Any], rows: list[dict[str, Any]], config: dict[str, Any]) -> str:
    scalar = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in summary.items()
        if not isinstance(v, dict)
    )
    failures = sum(failed(r) for r in rows)
    latencies = [r["latency_ms"] for r in rows if "latency_ms" in r]
    answers = config.get("kind") == "answers"
    count = summary.get("answers" if answers else "questions", 0)
    table = _answers_table(rows) if answers else _table(rows)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>kbqa eval report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #1f2328; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 13px; }}
th, td {{ border: 1px solid #d0d7de; padding: 4px 6px; text-align: left; vertical-align: top; }}
tr.fail td {{ background: #fff5f5; }} pre {{ white-space: pre-wrap; max-width: 40em; }}
li.bad {{ color: #cf222e; }} li small {{ color: #57606a; }}
</style></head><body>
<h1>kbqa eval report</h1>
<p>Run started {html.escape(str(config.get("started", "")))}; {count} {"answers" if answers else "questions"},
{failures} to look at (listed first); answer mode {html.escape(str(config.get("answer_mode", "")))};
corpus fingerprint <code>{html.escape(str(config.get("corpus_fingerprint", "")))}</code>
({config.get("chunks", "?")} chunks).</p>
<h2>Metrics</h2>{metric_bars(summary)}
<h2>Latency</h2>{_histogram(latencies)}
<h2>Summary</h2><table>{scalar}</table>{_by_type(summary.get("by_type", {}))}
<h2>{"Answers" if answers else "Questions"} (failures first)</h2>{table}
</body></html>
"""
