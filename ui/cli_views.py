"""How the CLI prints triages, the query log and KB gaps (rich markup; the commands are in ui/cli.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rag import TRIAGE_LABELS

if TYPE_CHECKING:  # annotations only: the modules load when the commands that use them run
    from rag import Calibration, GapCluster, Settings, SourceReport, Triage

TRIAGE_STYLE = {"known_issue": "bold green", "possible_match": "bold yellow", "no_known_issue": "bold red"}


def print_triage(out: Console, result: Triage) -> None:
    label = TRIAGE_LABELS[result.verdict]
    out.print(f"[{TRIAGE_STYLE[result.verdict]}]● {label}[/]  [dim]confidence {result.confidence:.2f}[/dim]")
    found = result.signals.terms()
    if found:
        shown = [t if len(t) <= 60 else t[:57] + "…" for t in found[:12]]
        out.print(f"[dim]identified: {escape(', '.join(shown))}[/dim]")
    if result.known_issue:
        k = result.known_issue
        out.print(f"\n[bold]{escape(k.title)}[/bold] — {escape(k.section)}  [dim]({k.article_id})[/dim]")
    for heading, items in (("Cause", result.cause), ("Fix", result.fix), ("Ask the customer", result.ask_customer)):
        if items:
            out.print(f"\n[bold]{heading}[/bold]")
            for item in items:
                out.print(f"  {escape(item.text)} [{item.citation}]", highlight=False)
    if result.notice:
        out.print(f"\n[yellow]{escape(result.notice)}[/yellow]")
    if result.matches:
        out.print("\n[bold]Matching articles[/bold]")
        for i, hit in enumerate(result.matches, 1):
            terms = f"  [dim]matched: {escape(', '.join(hit.matched_terms[:8]))}[/dim]" if hit.matched_terms else ""
            out.print(f"  {i}. {escape(hit.title)}{terms}", highlight=False)
    if result.citations:
        out.print("\n[bold]Sources[/bold]")
        for c in result.citations:
            where = c.where
            out.print(f"  [{c.n}] {escape(c.title)} — {escape(c.section)}  [dim]{escape(where)}[/dim]", highlight=False)
    out.print("\n[dim]kbqa triage --reply prints the reply draft alone.[/dim]")


def print_gaps(out: Console, clusters: list[GapCluster]) -> None:
    if not clusters:
        out.print("No gaps: nothing in the query log or feedback was unanswered, low confidence or rated down.")
        return
    for n, c in enumerate(clusters, 1):
        why = ", ".join(f"{count} {reason}" for reason, count in c.why.items())
        out.print(f"[bold]{n}. {escape(c.suggested_title)}[/bold]  [dim]{c.size} question(s): {escape(why)}[/dim]")
        out.print(f"   {escape(c.suggestion)}")
        for example in c.examples[:3]:
            out.print(f"   [dim]- {escape(example)}[/dim]", highlight=False)


def print_sources(out: Console, rows: list[dict[str, Any]]) -> None:
    table = Table("source", "kind", "where", "last sync", "added", "changed", "removed", "errors", box=None)
    for r in rows:
        when = r["synced_at"] or "never"
        if r["failed_at"] and r["failed_at"] > r["synced_at"]:
            when += f" [red](failed {r['failed_at']})[/red]"
        problems = f"[red]{len(r['errors'])}[/red]" if r["errors"] else "0"
        table.add_row(
            escape(r["name"]),
            r["kind"],
            escape(r["where"]),
            when,
            str(r["added"]),
            str(r["changed"]),
            str(r["removed"]),
            problems,
        )
    out.print(table)
    for r in rows:
        for problem in r["errors"][:5]:
            out.print(f"[dim]{escape(r['name'])}:[/dim] {escape(problem)}", soft_wrap=True, highlight=False)


def print_sync_report(out: Console, err: Console, report: SourceReport) -> None:
    if not report.ok:
        err.print(f"[red]{escape(report.summary())}[/red]", soft_wrap=True, highlight=False)
        return
    out.print(escape(report.summary()), highlight=False)
    for problem in report.errors:
        err.print(f"[yellow]{escape(report.name)}:[/yellow] {escape(problem)}", soft_wrap=True, highlight=False)


def print_log_list(out: Console, rows: list[dict[str, Any]]) -> None:
    table = Table("id", "when", "kind", "via", "verdict", "ms", "question", box=None, header_style="bold")
    for r in rows:
        first = r["question"].strip().splitlines()[0][:70] if r["question"].strip() else ""
        table.add_row(
            str(r["id"]), r["created_at"], r["kind"], r["channel"], r["verdict"], f"{r['latency_ms']:.0f}", first
        )
    out.print(table)


def print_log_row(out: Console, row: dict[str, Any], again: dict[str, Any] | None) -> None:
    when = f"{row['created_at']} · {row['kind']} via {row['channel']} · {row['latency_ms']:.0f} ms"
    out.print(f"[bold]#{row['id']}[/bold] {when}")
    out.print(f"\n[bold]Asked[/bold]\n{escape(row['question'])}", highlight=False)
    if row["query"] != row["question"]:
        out.print(f"\n[bold]Searched as[/bold]\n{escape(row['query'])}", highlight=False)
    confidence = f" (confidence {row['confidence']:.2f})" if row["confidence"] is not None else ""
    out.print(f"\n[bold]Verdict[/bold] {row['verdict']}{confidence}")
    out.print("\n[bold]Retrieved[/bold]")
    for r in row["retrieved"]:
        out.print(f"  {escape(r['chunk_id'])}  [dim]score {r['score']:.4f} · dense {r['dense_score']:.3f}[/dim]")
    if row["answer"]:
        out.print(f"\n[bold]Answer[/bold]\n{escape(row['answer'])}", highlight=False)
    if again is None:
        return
    logged = [r["chunk_id"] for r in row["retrieved"]]
    out.print("\n[bold]Replayed on the current index[/bold]")
    same = again["verdict"] == row["verdict"]
    out.print(f"  verdict: {again['verdict']}" + ("" if same else f"  [yellow](was {row['verdict']})[/yellow]"))
    if again["retrieved"] == logged:
        out.print("  retrieved: the same chunks, in the same order")
    else:
        gone = [c for c in logged if c not in again["retrieved"]]
        new = [c for c in again["retrieved"] if c not in logged]
        out.print(f"  retrieved: {len(new)} new, {len(gone)} no longer retrieved")
        for c in new:
            out.print(f"    [green]+ {escape(c)}[/green]")
        for c in gone:
            out.print(f"    [red]- {escape(c)}[/red]")
    out.print("  answer: " + ("unchanged" if again["answer"] == row["answer"] else "changed"))
    if again["answer"] != row["answer"] and again["answer"]:
        out.print(escape(again["answer"]), highlight=False)


def print_calibration(out: Console, result: Calibration, settings: Settings) -> None:
    chosen = result.chosen
    out.print(f"{result.answerable} answerable and {result.unanswerable} out-of-KB questions.")
    out.print(
        f"abstain_threshold        {result.abstain_threshold:<6} (now {settings.abstain_threshold}): refuses "
        f"{chosen.false_refusals:.1%} of answerable, {chosen.out_of_kb_refused:.1%} of out-of-KB questions"
    )
    out.print(
        f"low_confidence_threshold {result.low_confidence_threshold:<6} (now {settings.low_confidence_threshold})"
    )
    out.print("\n threshold  answerable refused  out-of-KB refused")
    for point in result.curve[20:81:5]:
        out.print(f" {point.threshold:9.2f}  {point.false_refusals:18.1%}  {point.out_of_kb_refused:17.1%}")
