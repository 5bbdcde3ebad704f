"""The `kbqa` command: a thin layer over rag.KbService (or a running server's REST API). Errors become messages
only here."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text
from typer.core import TyperGroup

from rag import (
    VERDICT_LABELS,
    Answer,
    AnswerMode,
    KbqaError,
    QuestionError,
    SearchHit,
    display_path,
)
from ui import cli_views as views
from ui.words import count

if TYPE_CHECKING:  # `from rag import` loads each name on first use: `kbqa --help` does not wait for Chroma
    from rag import KbService, Settings

app = typer.Typer(
    help="kbqa: ask your support KB. Answers cite the article and section they come from, "
    "and say so when the KB does not cover a question.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
out = Console()
err = Console(stderr=True)

EXIT_PARTIAL = 1

_VERDICT_STYLE = {"answered": "bold green", "low_confidence": "bold yellow", "abstained": "bold red"}


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            out.print(f"kbqa {version('kbqa')}")
        except PackageNotFoundError:  # run from a checkout that was never installed
            out.print("kbqa (not installed)")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    index_dir: Annotated[Path | None, typer.Option(help="Index folder (env KBQA_INDEX_DIR; default .kbqa)")] = None,
    corpus_dir: Annotated[Path | None, typer.Option(help="Corpus folder (env KBQA_CORPUS_DIR; default corpus)")] = None,
    version: Annotated[
        bool, typer.Option("--version", help="Print kbqa's version and exit.", is_eager=True, callback=_version)
    ] = False,
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose", "-v", count=True, help="Show kbqa's info lines and libraries' warnings (-vv: debug lines too)."
        ),
    ] = 0,
) -> None:
    """Settings come from KBQA_* environment variables and an optional kbqa.toml; options here override them."""
    from ui import logs

    logs.configure(verbose)
    ctx.obj = {"index_dir": index_dir, "corpus_dir": corpus_dir}


def _progress_bar(quiet: bool) -> Progress:
    """A progress bar on stderr, shown only on a terminal and not when printing JSON."""
    return Progress(
        TextColumn("{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=quiet or not err.is_terminal,
    )


def _bar_progress(bar: Progress) -> Callable[[str, int, int], None]:
    """The library's ``progress(stage, done, total)`` drawn as one bar per stage."""
    tasks: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total or 1)
        bar.update(tasks[stage], completed=done if total else 1, total=total or 1)

    return progress


def _settings(ctx: typer.Context, **more: Any) -> Settings:
    """The settings with the global options applied (pydantic-settings loads here, not at `kbqa --help`)."""
    from rag import load_settings

    return load_settings(**(ctx.obj or {}), **more)


def _service(ctx: typer.Context, settings: Settings | None = None) -> KbService:
    from rag import KbService

    return KbService(settings or _settings(ctx))


Local = Annotated[
    bool,
    typer.Option(
        "--local", help="Answer in this process even when a kbqa serve for this index runs (or KBQA_SERVER_URL is set)."
    ),
]


def _server(ctx: typer.Context, local: bool) -> tuple[Settings, str | None]:
    """The settings, and the URL of a running `kbqa serve` to answer through (ui/remote.py), if any."""
    settings = _settings(ctx)
    if local:
        return settings, None
    from ui.remote import find_server

    return settings, find_server(settings)


def _parsed(kind: Any, data: Any) -> Any:
    """The server's JSON as the library's result type, for the same printing as in-process."""
    from pydantic import TypeAdapter

    return TypeAdapter(kind).validate_python(data)


@app.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders to index (default: the corpus folder)")
    ] = None,
    rebuild: Annotated[bool, typer.Option(help="Drop the index and embed everything again.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the ingest report as JSON.")] = False,
) -> None:
    """Index (or re-index) the KB. Unchanged articles are not embedded again; deleted ones are removed.

    Exit status 1 means some files could not be read: they are listed, and the rest was indexed.
    """
    service = _service(ctx)
    with _progress_bar(quiet=as_json) as bar:
        progress = _bar_progress(bar)
        report = service.ingest(paths or None, progress=progress, rebuild=rebuild)
    if as_json:
        from dataclasses import asdict

        out.print_json(json.dumps(asdict(report) | {"ok": report.ok}))
    else:
        out.print(
            f"Indexed {count(report.articles, 'article')} from {count(report.files, 'file')} in "
            f"{report.seconds:.1f}s: {len(report.added)} new, {len(report.updated)} changed, {report.unchanged} "
            f"unchanged, {len(report.removed)} removed; {count(report.chunks_embedded, 'chunk')} embedded, "
            f"{report.chunks_total:,} in the index."
        )
        for failure in report.failures:
            err.print(
                f"[red]skipped[/red] {escape(display_path(failure.path))}: {escape(failure.reason)}", soft_wrap=True
            )
    if not report.ok:
        err.print(
            f"[yellow]{len(report.failures)} file(s) could not be indexed; "
            "fix them and run `kbqa ingest` again.[/yellow]"
        )
        raise typer.Exit(EXIT_PARTIAL)


@app.command()
def ask(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="The question, an error message or a log line.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON (schema in README.md).")] = False,
    k: Annotated[int | None, typer.Option("-k", "--top-k", min=1, max=50, help="Chunks to retrieve.")] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", "-t", help="Only articles with this tag (repeatable).")
    ] = None,
    mode: Annotated[
        AnswerMode | None,
        typer.Option(help="extractive (quotes the KB) or llm (generated, then checked); env KBQA_ANSWER_MODE."),
    ] = None,
    local: Local = False,
) -> None:
    """Answer a question from the KB, citing article and section for every sentence."""
    settings, url = _server(ctx, local)
    if url is not None:
        from ui.remote import call

        data = call(url, "/api/ask", {"question": question, "k": k, "tags": tag or [], "mode": mode}, settings)
        if as_json:
            out.print_json(json.dumps(data))
        else:
            _print_answer(_parsed(Answer, data))
        return
    stream = _service(ctx, settings).ask_stream(question, k=k, tags=tag or (), mode=mode, channel="cli")
    if as_json:
        answer = next(e for e in stream if isinstance(e, Answer))
        out.print_json(json.dumps(answer.to_dict()))
        return
    # Generated text shows as it arrives, then gives way to the verified answer.
    with Live(console=out, transient=True, refresh_per_second=12) as live:
        shown = ""
        for event in stream:
            if isinstance(event, Answer):
                answer = event
            else:
                shown += event
                live.update(Text(shown, style="dim"))
    _print_answer(answer)


@app.command()
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="Words, an error message or a log excerpt.")],
    k: Annotated[int, typer.Option("-k", "--top-k", min=1, max=50, help="Articles to list.")] = 10,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", "-t", help="Only articles with this tag (repeatable).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help='Print {"schema_version", "hits"} as JSON, as POST /api/search returns.')
    ] = False,
    local: Local = False,
) -> None:
    """List the matching articles, best first, with the matching passage."""
    settings, url = _server(ctx, local)
    if url is not None:
        from ui.remote import call

        found = call(url, "/api/search", {"query": query, "k": k, "tags": tag or []}, settings)
        if as_json:
            out.print_json(json.dumps(found))
            return
        hits = _parsed(list[SearchHit], found["hits"])
    else:
        hits = _service(ctx, settings).search(query, k=k, tags=tag or (), channel="cli")
    if as_json:
        from rag import search_results

        out.print_json(json.dumps(search_results(hits)))
        return
    if not hits:
        out.print("No matching articles.")
    for i, hit in enumerate(hits, 1):
        out.print(
            f"[bold]{i}. {escape(hit.title)}[/bold] — {escape(hit.section)}  "
            f"[dim]({hit.article_id}, score {hit.score:.4f})[/dim]"
        )
        out.print(f"   {escape(hit.snippet)}")
        if hit.matched_terms:
            out.print(f"   [dim]matched: {escape(', '.join(hit.matched_terms))}[/dim]")


@app.command()
def triage(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="A file holding the ticket, error message or log; - reads stdin.")],
    tag: Annotated[
        list[str] | None, typer.Option("--tag", "-t", help="Only articles with this tag or product (repeatable).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the triage as JSON.")] = False,
    reply: Annotated[bool, typer.Option("--reply", help="Print only the Markdown reply, ready to paste.")] = False,
    local: Local = False,
) -> None:
    """Match a pasted ticket or log to a known issue: cause, fix, what to ask the customer, a reply draft."""
    ticket = _read_ticket(source)
    settings, url = _server(ctx, local)
    if url is not None:
        from rag import Triage
        from ui.remote import call

        data = call(url, "/api/triage", {"ticket": ticket, "tags": tag or []}, settings)
        if as_json:
            out.print_json(json.dumps(data, default=str))
            return
        result = _parsed(Triage, data)
    else:
        result = _service(ctx, settings).triage(ticket, tags=tag or (), channel="cli")
    if as_json:
        out.print_json(json.dumps(result.to_dict(), default=str))
    elif reply:
        sys.stdout.write(result.reply)
    else:
        views.print_triage(out, result)


def _read_ticket(source: str) -> str:
    if source == "-":
        if sys.stdin.isatty():
            raise QuestionError("Paste the ticket, then press Ctrl-D (or pass a file: kbqa triage ticket.txt).")
        return sys.stdin.read()
    path = Path(source)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise QuestionError(f"Cannot read {source}: {exc.strerror or exc}. Pass a text file, or - for stdin.") from exc
    if b"\0" in data[:8192]:
        raise QuestionError(f"{source} is a binary file; save the ticket or log as text and pass that.")
    return data.decode("utf-8", errors="replace")


@app.command()
def stats(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Show what is indexed: articles, chunks, tags."""
    data = _service(ctx).stats()
    if as_json:
        out.print_json(json.dumps(data))
        return
    for key, value in data.items():
        out.print(f"{key:>16}: {value}")


sources_app = typer.Typer(help="Where the KB comes from ([[sources]] in kbqa.toml).", no_args_is_help=True)
app.add_typer(sources_app, name="sources")


@sources_app.command("list")
def sources_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """The configured sources, with their last sync: when, articles added/changed/removed, errors."""
    rows = _service(ctx).sources()
    if as_json:
        out.print_json(json.dumps(rows))
    else:
        views.print_sources(out, rows)


@app.command()
def sync(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None, typer.Argument(help="Sources to sync (default: all).", show_default=False)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the reports as JSON.")] = False,
) -> None:
    """Bring the index in step with the sources: only what changed is fetched and embedded, and articles gone
    from a source leave the index. Ctrl-C cancels; what was live stays live.

    Exit status 1 means some source or page could not be read: the rest was synced, and what was indexed from it
    before stays.
    """
    import threading
    from dataclasses import asdict

    service = _service(ctx)
    cancel = threading.Event()

    def reported(report: Any) -> None:
        if not as_json:
            views.print_sync_report(out, err, report)

    with _progress_bar(quiet=as_json) as bar:
        progress = _bar_progress(bar)
        try:
            reports = service.sync(names or [], progress=progress, cancel=cancel, reported=reported)
        except KeyboardInterrupt:
            cancel.set()
            err.print("[yellow]Sync cancelled.[/yellow] Sources synced before stay synced; the rest are as they were.")
            raise typer.Exit(130) from None
    if as_json:
        out.print_json(json.dumps([asdict(r) for r in reports]))
    if not all(r.ok and not r.errors for r in reports):
        raise typer.Exit(EXIT_PARTIAL)


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address to listen on (env KBQA_HOST; default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (env KBQA_PORT; default 7860).")] = None,
    sync_every: Annotated[
        str | None,
        typer.Option(help="Sync the sources this often in the background, e.g. 30m or 2h (env KBQA_SYNC_EVERY)."),
    ] = None,
) -> None:
    """Serve the web chat and the REST API (indexes the corpus first if there is no index yet)."""
    settings = _settings(ctx, host=host, port=port, sync_every=sync_every)
    from ui.server import serve as run_server

    err.print(f"kbqa: serving http://{settings.host}:{settings.port} (API docs at /docs)")
    if not settings.auth and not _loopback(settings.host):
        err.print(
            f"[yellow]warning:[/yellow] listening on {settings.host} without a login: anyone who can reach this port "
            "can read the KB and upload articles. Set KBQA_AUTH=user:password, or serve on 127.0.0.1."
        )
    run_server(settings)


def _loopback(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class _RunByDefault(TyperGroup):
    """`kbqa eval [EVALSET]` runs an eval set; `kbqa eval compare|answers ...` are the other commands."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # Any: typer vendors click's Context
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@app.command()
def gaps(
    ctx: typer.Context,
    threshold: Annotated[
        float, typer.Option(min=0.3, max=0.95, help="How similar questions must be to share a group (cosine).")
    ] = 0.6,
    top: Annotated[int, typer.Option(min=1, help="Groups to show.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the groups as JSON.")] = False,
) -> None:
    """What the KB is missing: unanswered, low-confidence and thumbs-down questions, grouped, with the article to
    write for each group (from the query log and feedback)."""
    clusters = _service(ctx).gaps(threshold)[:top]
    if as_json:
        out.print_json(json.dumps([c.to_dict() for c in clusters]))
    else:
        views.print_gaps(out, clusters)


log_app = typer.Typer(
    help="The query log: every question, search and triage, with what was answered.", no_args_is_help=True
)
app.add_typer(log_app, name="log")


@log_app.command("list")
def log_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("-n", "--limit", min=1, help="Rows to show, newest first.")] = 20,
) -> None:
    """The latest logged questions, searches and triages."""
    views.print_log_list(out, _service(ctx).logged(limit))


@log_app.command("show")
def log_show(
    ctx: typer.Context,
    row_id: Annotated[int, typer.Argument(metavar="ID", help="The row id (first column of `kbqa log list`).")],
    replay: Annotated[bool, typer.Option(help="Run it again on today's index and show what changed.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the logged row (and the replay) as JSON.")] = False,
) -> None:
    """One logged question: what was searched, retrieved and answered; replayed on the current index."""
    service = _service(ctx)
    row = service.logged_row(row_id)
    again = service.replay(row) if replay else None
    if as_json:
        out.print_json(json.dumps({"logged": row, "replay": again}, default=str))
    else:
        views.print_log_row(out, row, again)


eval_app = typer.Typer(
    cls=_RunByDefault,
    help="Evaluate: `kbqa eval [EVALSET]` scores the pipeline on an eval set; `compare` diffs two runs; "
    "`answers` checks answers written elsewhere against the KB.",
)
app.add_typer(eval_app, name="eval")

_RUN_DIR_HELP = "Run folder (default eval/runs/<timestamp>)."
_GATE_HELP = "Gate, e.g. hit@5=0.9,grounded=0.9,malformed<=0: exit 1 if a metric is below (above, for <=)."


@eval_app.command("run")
def eval_run(
    ctx: typer.Context,
    evalset: Annotated[Path, typer.Argument(help="Eval set JSONL (eval/README.md format).")] = Path(
        "eval/kb_eval.jsonl"
    ),
    run_dir: Annotated[Path | None, typer.Option("--out", help=_RUN_DIR_HELP)] = None,
    fail_under: Annotated[str | None, typer.Option(help=_GATE_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    mode: Annotated[AnswerMode | None, typer.Option(help="Answer mode to evaluate (env KBQA_ANSWER_MODE).")] = None,
) -> None:
    """Run an eval set through the pipeline and score retrieval, answers, citations, abstention, latency."""
    from rag import load_eval_set, summarize

    items = load_eval_set(evalset)
    _run_eval(
        ctx,
        lambda service, progress: service.evaluate(items, progress, mode),
        lambda service: summarize([], service.settings.top_k),
        len(items),
        run_dir,
        fail_under,
        as_json,
    )


@eval_app.command("answers")
def eval_answers(
    ctx: typer.Context,
    answers_file: Annotated[
        Path, typer.Argument(help="CSV or JSONL with question, answer; optional id, expected, cited.")
    ],
    run_dir: Annotated[Path | None, typer.Option("--out", help=_RUN_DIR_HELP)] = None,
    fail_under: Annotated[str | None, typer.Option(help="Gate, e.g. grounded=0.9,citation_valid=1.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Check answers written elsewhere (draft replies, another bot) against the KB.

    For each answer: the KB articles that support it, the sentences no KB source supports, and whether the
    articles it cites exist. Same run folder and report as `kbqa eval`."""
    from rag import load_answers, summarize_answers

    items = load_answers(answers_file)
    _run_eval(
        ctx,
        lambda service, progress: service.check_answers(items, progress),
        lambda _service: summarize_answers([]),
        len(items),
        run_dir,
        fail_under,
        as_json,
    )


@eval_app.command("compare")
def eval_compare(
    run_a: Annotated[Path, typer.Argument(help="The baseline run folder.")],
    run_b: Annotated[Path, typer.Argument(help="The run folder to compare with it.")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write the Markdown here.")] = None,
) -> None:
    """Metric deltas and the questions that flipped between two runs, as Markdown."""
    from rag import compare_runs, load_run

    report = compare_runs(load_run(run_a), load_run(run_b))
    if output:
        output.write_text(report, encoding="utf-8")
        err.print(f"Wrote {output}.")
    else:
        sys.stdout.write(report)


def _run_eval(
    ctx: typer.Context,
    run: Callable[[KbService, Callable[[int, int], None]], Any],
    metrics: Callable[[KbService], dict[str, Any]],
    total: int,
    run_dir: Path | None,
    fail_under: str | None,
    as_json: bool,
) -> None:
    import time

    from rag import check_gate, gate_failures, parse_gate

    gate = parse_gate(fail_under or "")
    service = _service(ctx)
    check_gate(gate, metrics(service))
    with _progress_bar(quiet=as_json) as bar:
        task = bar.add_task("evaluating", total=total)
        result = run(service, lambda done, _total: bar.update(task, completed=done))
    folder = result.write(run_dir or Path("eval/runs") / time.strftime("%Y%m%d-%H%M%S"))
    if as_json:
        out.print_json(json.dumps(result.summary))
    else:
        for key, value in result.summary.items():
            if isinstance(value, dict):  # by_type: one line per question type
                for name, figures in value.items():
                    out.print(f"{key + ' ' + name:>22}: " + ", ".join(f"{m} {v}" for m, v in figures.items()))
            else:
                out.print(f"{key:>22}: {value}")
    err.print(f"Run written to {folder}/ (report.html, results.jsonl, summary.json, config.json)")
    failures = gate_failures(result.summary, gate)
    if failures:
        err.print("[red]Gate failed:[/red] " + "; ".join(failures), soft_wrap=True)
        raise typer.Exit(1)


@app.command()
def calibrate(
    ctx: typer.Context,
    evalset: Annotated[
        Path, typer.Argument(help="Labelled questions: an eval set, or reviewed `kbqa feedback export` output.")
    ],
    write: Annotated[
        Path | None, typer.Option(help="Write both thresholds into this config file (e.g. kbqa.toml).")
    ] = None,
    min_refused: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Refuse at least this share of out-of-KB questions (default: balanced)."),
    ] = None,
    report: Annotated[Path, typer.Option(help="HTML report with the trade-off curve.")] = Path("kbqa-calibration.html"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Fit the abstention thresholds to your KB from labelled questions, with the trade-off curve."""
    from rag import load_eval_set, render_calibration, write_thresholds

    items = [i for i in load_eval_set(evalset) if i.question]
    service = _service(ctx)
    with _progress_bar(quiet=as_json) as bar:
        task = bar.add_task("asking", total=len(items))
        result = service.calibrate(items, min_refused, lambda done, _: bar.update(task, completed=done))
    report.write_text(render_calibration(result, str(evalset)), encoding="utf-8")
    if as_json:
        out.print_json(json.dumps(result.summary()))
    else:
        views.print_calibration(out, result, service.settings)
    err.print(f"Trade-off curve written to {report}.")
    if write:
        write_thresholds(write, result)
        err.print(f"Wrote abstain_threshold and low_confidence_threshold to {write}.")


verifier_app = typer.Typer(help="The answer verifier (supported / contradicted / not said).", no_args_is_help=True)
app.add_typer(verifier_app, name="verifier")


@verifier_app.command("train")
def verifier_train(
    ctx: typer.Context,
    corpus: Annotated[
        list[Path] | None, typer.Option(help="Corpus folder or file to make the pairs from (repeatable).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder for the model (default: index_dir/verifier, where kbqa looks).")
    ] = None,
    sentences_per_article: Annotated[
        int, typer.Option(min=1, help="Sentences each article of the corpus contributes rule-made pairs from.")
    ] = 2,
    seed: Annotated[int, typer.Option(help="Seed for the pairs and the training run.")] = 13,
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the pairs.")] = 3,
    written: Annotated[
        bool, typer.Option(help="Add the 1,876 hand-written pairs shipped with kbqa (rag/verify/data).")
    ] = True,
) -> None:
    """Train the verifier on your own KB: claims made from its sentences (kept, negated, numbers changed,
    identifiers swapped, taken from other articles) plus the hand-written pairs shipped with kbqa, then a
    fine-tuned cross-encoder exported to ONNX int8. Needs the training extra: pip install 'kbqa[train]'. About
    20-25 minutes on 2 cores for 4,250 pairs and 3 epochs. Experimental: see eval/README.md (The answer
    verifier) for what it does and does not catch yet."""
    from rag import VerifierRecipe, train_verifier

    settings = _settings(ctx)
    out = out or settings.index_dir / "verifier"
    paths = corpus or [settings.corpus_dir]
    recipe = VerifierRecipe(
        seed=seed, sentences_per_article=sentences_per_article, epochs=epochs, written_pairs=written
    )
    report = train_verifier(paths, out, recipe, progress=err.print)
    err.print(f"Trained on {report['pairs']:,} pairs in {report['seconds']} s; model in {out}.")
    err.print(f"Use it: KBQA_VERIFIER=true (with KBQA_VERIFIER_MODEL={out} if that is not index_dir/verifier).")


feedback_app = typer.Typer(help="Feedback given in the web chat.", no_args_is_help=True)
app.add_typer(feedback_app, name="feedback")


@feedback_app.command("export")
def feedback_export(
    ctx: typer.Context,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File to write (default: stdout).")] = None,
    rating: Annotated[str, typer.Option(help="down, up or all.")] = "down",
) -> None:
    """Write feedback as JSONL in the eval-set format, so downvoted questions become eval cases."""
    from rag import to_eval_item

    if rating not in ("down", "up", "all"):
        raise typer.BadParameter("use down, up or all", param_hint="--rating")
    rows = _service(ctx).feedback_rows(None if rating == "all" else rating)  # type: ignore[arg-type]
    lines = "".join(json.dumps(to_eval_item(r), ensure_ascii=False) + "\n" for r in rows)
    if output:
        output.write_text(lines, encoding="utf-8")
        err.print(f"Wrote {len(rows)} item(s) to {output}.")
    else:
        sys.stdout.write(lines)


def _print_answer(answer: Answer) -> None:
    label = VERDICT_LABELS[answer.verdict]
    style = _VERDICT_STYLE[answer.verdict]
    out.print(f"[{style}]● {label}[/]  [dim]confidence {answer.confidence:.2f} · {answer.mode}[/dim]\n")
    out.print(escape(answer.text), highlight=False)
    if answer.notice:
        out.print(f"\n[yellow]{escape(answer.notice)}[/yellow]")
    if answer.citations:
        out.print("\n[bold]Sources[/bold]")
        for c in answer.citations:
            where = c.where
            when = f" · updated {c.updated}" + (" [yellow](stale)[/yellow]" if c.stale else "") if c.updated else ""
            origin = f"{c.source}: " if c.source else ""
            out.print(
                f"  [{c.n}] {escape(c.title)} — {escape(c.section)}  [dim]{escape(origin + where)}{when}[/dim]",
                highlight=False,
            )
    elif answer.nearest:
        out.print("\n[bold]Nearest articles[/bold]")
        for a in answer.nearest:
            out.print(f"  - {escape(a.title)}  [dim]{escape(display_path(a.source_path))}[/dim]", highlight=False)


def main() -> None:
    from rag import offline_environment

    offline_environment()
    try:
        app()
    except KbqaError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
