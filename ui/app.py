"""The Gradio web app: Chat, Search, Library and Evaluate tabs. Imported only when the app runs.

It only calls the pipeline (through KbService); all answering logic lives in rag/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from rag.answer import Answer
from rag.errors import KbqaError
from rag.feedback import REASONS
from ui import render
from ui.service import KbService

EXAMPLES = [
    "Is kube-proxy a CNI plugin?",
    "AADSTS70021: No matching federated identity record found for presented assertion.",
    "pods stuck in ImagePullBackOff with 401 Unauthorized from ACR",
    "What is the difference between RMM and DEX?",
]


def build_blocks(service: KbService) -> gr.Blocks:
    with gr.Blocks(title="kbqa — ask the KB", analytics_enabled=False) as blocks:
        gr.Markdown(
            "## kbqa — ask the support KB\nAnswers quote the KB and cite article and section; "
            "when the KB does not cover a question, it says so."
        )
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                _chat_tab(service)
            with gr.Tab("Search", id="search"):
                _search_tab(service)
            with gr.Tab("Library", id="library"):
                _library_tab(service)
            with gr.Tab("Evaluate", id="evaluate"):
                _evaluate_tab(service)
    return blocks


def _tag_choices(service: KbService) -> list[str]:
    if not service.ready():
        return []
    return sorted({t for a in service.pipeline.index.articles() for t in a["tags"]})


def _chat_tab(service: KbService) -> None:
    queries = gr.State([])  # each turn's standalone query, for follow-ups
    last = gr.State(None)  # the last Answer, for feedback
    with gr.Row():
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(elem_id="kbqa-chat", height=460, label="Conversation")
            question = gr.Textbox(
                elem_id="kbqa-question", label="Question", placeholder="Ask, or paste an error message…", lines=2
            )
            with gr.Row():
                ask = gr.Button("Ask", variant="primary", elem_id="kbqa-ask")
                new_chat = gr.Button("New chat", elem_id="kbqa-new-chat")
            tags = gr.Dropdown(_tag_choices(service), multiselect=True, label="Only articles tagged", value=[])
            gr.Examples(EXAMPLES, inputs=question, label="Examples")
        with gr.Column(scale=2):
            badge = gr.HTML(render.badge(None), elem_id="kbqa-badge-box")
            sources = gr.HTML(render.sources(None), elem_id="kbqa-sources-box")
            with gr.Group():
                gr.Markdown("**Was this answer useful?**")
                with gr.Row():
                    up = gr.Button("👍", elem_id="kbqa-thumb-up", size="sm")
                    down = gr.Button("👎", elem_id="kbqa-thumb-down", size="sm")
                reason = gr.Dropdown(["", *REASONS], value="", label="Reason (optional)", elem_id="kbqa-reason")
                comment = gr.Textbox(label="Comment (optional)", elem_id="kbqa-comment")
                feedback_status = gr.Markdown("", elem_id="kbqa-feedback-status")

    def respond(message: str, history: list[dict[str, Any]], previous: list[str], tag_filter: list[str]) -> Iterator:
        history = [*history, {"role": "user", "content": message}]
        try:
            answer = service.pipeline.ask(message, tags=tag_filter or (), history=previous)
        except KbqaError as exc:
            history.append({"role": "assistant", "content": f"⚠️ {exc}"})
            yield history, previous, None, render.badge(None), render.sources(None), ""
            return
        previous = [*previous, answer.query]
        # Stream sentence by sentence: the answer is ready at once, but reading starts sooner.
        shown = ""
        for piece in _pieces(answer):
            shown += piece
            yield [*history, {"role": "assistant", "content": shown}], previous, answer, gr.skip(), gr.skip(), ""
        final = [*history, {"role": "assistant", "content": answer.text}]
        yield final, previous, answer, render.badge(answer), render.sources(answer), ""

    outputs = [chatbot, queries, last, badge, sources, question]
    inputs = [question, chatbot, queries, tags]
    ask.click(respond, inputs, outputs)
    question.submit(respond, inputs, outputs)
    new_chat.click(
        lambda: ([], [], None, render.badge(None), render.sources(None), "", ""),
        None,
        [chatbot, queries, last, badge, sources, question, feedback_status],
    )

    def rate(rating: str, answer: Answer | None, why: str, note: str) -> str:
        if answer is None:
            return "Ask a question first."
        row = service.feedback.record(answer, rating, why or "", note or "", service.settings.public())  # type: ignore[arg-type]
        return f"Thanks — feedback #{row} saved."

    up.click(lambda a, r, c: rate("up", a, r, c), [last, reason, comment], feedback_status)
    down.click(lambda a, r, c: rate("down", a, r, c), [last, reason, comment], feedback_status)


def _pieces(answer: Answer) -> list[str]:
    parts = answer.text.split(" ")
    step = max(len(parts) // 12, 1)
    return [" ".join(parts[i : i + step]) + " " for i in range(0, len(parts), step)]


def _search_tab(service: KbService) -> None:
    query = gr.Textbox(
        label="Search the KB", placeholder="Words, an error message or a log excerpt", lines=3, elem_id="kbqa-search"
    )
    tags = gr.Dropdown(_tag_choices(service), multiselect=True, label="Only articles tagged", value=[])
    go = gr.Button("Search", variant="primary", elem_id="kbqa-search-go")
    results = gr.HTML("", elem_id="kbqa-search-box")

    def run(text: str, tag_filter: list[str]) -> str:
        try:
            return render.search_results(service.pipeline.search(text, k=10, tags=tag_filter or ()))
        except KbqaError as exc:
            raise gr.Error(str(exc)) from exc

    go.click(run, [query, tags], results)
    query.submit(run, [query, tags], results)


def _articles_table(service: KbService) -> list[list[Any]]:
    if not service.ready():
        return []
    return [
        [a["article_id"], a["title"], ", ".join(a["tags"]), a["updated"], a["chunks"]]
        for a in service.pipeline.index.articles()
    ]


def _library_tab(service: KbService) -> None:
    table = gr.Dataframe(
        _articles_table(service),
        headers=["id", "title", "tags", "updated", "chunks"],
        interactive=False,
        elem_id="kbqa-library",
    )
    with gr.Row():
        reindex = gr.Button("Re-index corpus", elem_id="kbqa-reindex")
        upload = gr.File(
            label="Upload an article (.md, .txt, .html, .pdf)",
            file_types=[".md", ".markdown", ".txt", ".html", ".htm", ".pdf"],
            elem_id="kbqa-upload",
        )
    status = gr.Markdown("", elem_id="kbqa-library-status")

    def do_reindex(progress: gr.Progress = gr.Progress()) -> tuple[list[list[Any]], str]:  # noqa: B008
        report = service.ingest(progress=lambda stage, done, total: progress((done, total or 1), desc=stage))
        failed = "".join(f"\n- skipped `{f.path}`: {f.reason}" for f in report.failures)
        return _articles_table(service), (
            f"Indexed {report.articles} articles: {len(report.added)} new, {len(report.updated)} changed, "
            f"{len(report.removed)} removed, {report.chunks_embedded} chunks embedded.{failed}"
        )

    def do_upload(file: str | None) -> tuple[list[list[Any]], str]:
        if not file:
            return _articles_table(service), ""
        path = Path(file)
        try:
            saved, report = service.upload(path.name, path.read_bytes())
        except KbqaError as exc:
            return _articles_table(service), f"⚠️ Upload refused: {exc}"
        return _articles_table(service), f"Uploaded `{saved.name}` and indexed it ({report.chunks_embedded} chunks)."

    reindex.click(do_reindex, None, [table, status])
    upload.upload(do_upload, upload, [table, status])


def _evaluate_tab(service: KbService) -> None:
    gr.Markdown(
        "Upload an **eval set** (JSONL: question, answerable, source_ids…; see eval/README.md) to score kbqa, "
        "or **answers written elsewhere** (CSV or JSONL with question, answer; optional expected, cited) to "
        "check them against the KB."
    )
    with gr.Row():
        upload = gr.File(
            label="Eval set or answers file", file_types=[".jsonl", ".json", ".csv"], elem_id="kbqa-eval-file"
        )
        run = gr.Button("Run evaluation", variant="primary", elem_id="kbqa-eval-run")
    summary = gr.HTML("", elem_id="kbqa-eval-summary")
    table = gr.Dataframe(interactive=False, wrap=True, elem_id="kbqa-eval-table", label="Per question, failures first")
    report = gr.File(
        label="Report and run folder", file_count="multiple", interactive=False, elem_id="kbqa-eval-report"
    )

    def do_run(file: str | None, progress: gr.Progress = gr.Progress()) -> tuple[str, Any, list[str]]:  # noqa: B008
        if not file:
            raise gr.Error("Upload an eval set or an answers file first.")
        try:
            result, folder = service.evaluate(
                Path(file), progress=lambda done, total: progress((done, total), desc="evaluating")
            )
        except KbqaError as exc:
            raise gr.Error(str(exc)) from exc
        headers, rows = render.eval_rows(result)
        return (
            render.eval_summary(result, folder),
            gr.Dataframe(value=rows, headers=headers),
            [str(folder / "report.html"), f"{folder}.zip"],
        )

    run.click(do_run, upload, [summary, table, report])
