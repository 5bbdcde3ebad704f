"""Article Markdown as clean text blocks: what chunking, search and answers read.

Docs are written for a renderer: hard-wrapped paragraphs, tables, links, HTML tags, DocFX
(``> [!NOTE]``, ``[!INCLUDE …]``, ``:::zone``) and Hugo (``{{< note >}}``) markup. Read line by line,
they give half-sentences, raw table rows and link syntax in answers. markdown-it-py parses the
Markdown; this module renders its tree to one block per line:

- a heading stays ``## Heading``; a paragraph is one line (hard wraps joined);
- a list item is ``- text`` (``1. text`` in ordered lists), nested items indented;
- a table row is a record, ``first cell — Header: cell; Header: cell``, as a list item;
- a code block stays a fenced block, verbatim;
- a note or warning (DocFX or Hugo) is a paragraph starting ``Note:`` / ``Warning:``;
- links become their text, images and HTML tags go (``<placeholder>`` words stay).

The renderer is hand-written because markdown-it-py renders to HTML only, and plain-text renderers
(mdformat, markdownify) keep Markdown syntax, which is what has to go.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

from rag.text.sentences import closes_fence

# DocFX and Hugo lines that carry no text of their own.
_DIRECTIVE_LINE = re.compile(
    r"^\s*(?:>\s*)*(?:\[!(?:INCLUDE|div)\b.*|:::\s*(?:zone|zone-end|image|image-end|code|row|column|column-end|row-end)\b.*"
    r"|\{\{[<%]\s*/?\s*(?:tabs?|codenew|figure|table|mermaid|/mermaid|param|comment|/comment|include)\b[^}]*[>%]\}\})\s*$"
)
_MERMAID = re.compile(r"\{\{<\s*mermaid\s*>\}\}.*?\{\{<\s*/mermaid\s*>\}\}", re.DOTALL)
_SHORTCODE_TEXT = re.compile(r'\{\{[<%]\s*glossary_tooltip\b[^}]*?\b(?:text|term_id)="([^"]*)"[^}]*[>%]\}\}')
_INCLUDE = re.compile(r"\[!INCLUDE\b[^\]\[]*(?:\[[^\]]*\]\([^)]*\))?[^\]]*\]")
_SHORTCODE_HEADING = re.compile(r'\{\{%\s*heading\s+"([^"]*)"\s*%\}\}')
_FEATURE_STATE = re.compile(r"\{\{<\s*feature-state\b([^}]*)>\}\}")
_HUGO_HEADINGS = {"whatsnext": "What's next", "prerequisites": "Before you begin", "cleanup": "Clean up"}
_SHORTCODE_NOTE_OPEN = re.compile(r"\{\{[<%]\s*(note|warning|caution)\s*[>%]\}\}", re.IGNORECASE)
_SHORTCODE_ANY = re.compile(r"\{\{[<%].*?[>%]\}\}")
_ADMONITION = re.compile(r"^\[!(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\]\s*", re.IGNORECASE)
_TABLE_RULE = re.compile(r"^\s*\|?[\s:|]*-[\s:|-]*\|?\s*$")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_HTML_TAG = re.compile(
    r"</?(?:a|abbr|b|br|center|code|details|div|em|font|h[1-6]|hr|i|img|kbd|li|ol|p|pre|s|small|span|strong|sub|"
    r"summary|sup|table|tbody|td|th|thead|tr|u|ul|video|iframe|source|section|nav|figure|figcaption|dl|dt|dd)"
    r"\b[^>]*>",
    re.IGNORECASE,
)
_SPACES = re.compile(r"[ \t]+")
_PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def _label(kind: str) -> str:
    return kind.capitalize()


def clean_markdown(markdown: str) -> str:
    """The article as clean blocks, one per line (code blocks fenced), separated by blank lines."""
    return "\n\n".join(_render_blocks(SyntaxTreeNode(_PARSER.parse(_pre_clean(markdown)))))


def _pre_clean(markdown: str) -> str:
    """Resolve the site generators' markup that Markdown parsers read as text."""
    text = _HTML_COMMENT.sub("", _MERMAID.sub("", markdown))
    text = _INCLUDE.sub("", _SHORTCODE_TEXT.sub(r"\1", text))
    text = _SHORTCODE_HEADING.sub(lambda m: _HUGO_HEADINGS.get(m.group(1), m.group(1).capitalize()), text)
    text = _FEATURE_STATE.sub(_feature_state, text)
    lines: list[str] = []
    for line in text.split("\n"):
        if _DIRECTIVE_LINE.match(line):
            continue
        if _TABLE_RULE.match(line) and lines and lines[-1].lstrip().startswith("|"):
            # A rule with a stray '||' or a missing cell leaves the table unparsed: one '---' per header cell.
            cells = lines[-1].strip().strip("|").count("|") + 1
            if line.strip().strip("|").count("|") + 1 != cells:
                line = line[: len(line) - len(line.lstrip())] + "|" + "---|" * cells
        note = _SHORTCODE_NOTE_OPEN.search(line)
        if note:  # {{< note >}} … {{< /note >}} reads as a DocFX note does: "Note: …"
            line = _SHORTCODE_NOTE_OPEN.sub(f"\n[!{note.group(1).upper()}] ", line)
        lines.append(_SHORTCODE_ANY.sub("", line))
    return "\n".join(lines)


def _feature_state(match: re.Match[str]) -> str:
    fields = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
    version, state = fields.get("for_k8s_version", ""), fields.get("state", "")
    return f"Feature state: {state} since Kubernetes {version}." if version and state else ""


def _render_blocks(node: SyntaxTreeNode, depth: int = 0) -> Iterator[str]:
    for child in node.children:
        yield from _render_block(child, depth)


def _render_block(node: SyntaxTreeNode, depth: int) -> Iterator[str]:  # noqa: C901 - one branch per block type
    kind = node.type
    if kind == "heading":
        text = _inline(node)
        if text:
            yield f"{'#' * int(node.tag[1])} {text}"
    elif kind == "paragraph":
        text = _ADMONITION.sub(lambda m: _label(m.group(1)) + ": ", _inline(node))
        if text and not _ADMONITION.fullmatch(text):
            yield text
    elif kind in ("bullet_list", "ordered_list"):
        start = int(str(node.attrs.get("start", 1))) if kind == "ordered_list" else 0
        for n, item in enumerate(node.children):
            marker = f"{start + n}." if kind == "ordered_list" else "-"
            yield from _list_item(item, marker, depth)
    elif kind == "blockquote":
        yield from _blockquote(node, depth)
    elif kind in ("fence", "code_block"):
        yield f"```{node.info.strip() if kind == 'fence' else ''}\n{node.content.rstrip()}\n```"
    elif kind == "table":
        yield from _table(node, depth)
    elif kind == "html_block":
        text = _tidy(_HTML_TAG.sub(" ", node.content))
        if text:
            yield text
    elif kind != "hr":
        yield from _render_blocks(node, depth)


def _list_item(item: SyntaxTreeNode, marker: str, depth: int) -> Iterator[str]:
    """The item's own paragraphs as one line; its code blocks and nested lists after it."""
    words: list[str] = []
    rest: list[str] = []
    for child in item.children:
        if child.type == "paragraph" and not rest:
            words.append(_inline(child))
        else:
            rest.extend(_render_block(child, depth + 1))
    text = _ADMONITION.sub(lambda m: _label(m.group(1)) + ": ", " ".join(w for w in words if w))
    if text:
        yield f"{'  ' * depth}{marker} {text}"
    yield from rest


def _blockquote(node: SyntaxTreeNode, depth: int) -> Iterator[str]:
    """A quote's blocks; a DocFX note whose marker stands alone joins the paragraph after it."""
    pending = ""
    for block in _render_blocks(node, depth):
        if _ADMONITION.sub("", block).strip() == "" or block.rstrip(": ").lower() in _LABELS:
            pending = block.rstrip(": ") + ": " if block.strip() else pending
            continue
        if pending and not block.startswith(("```", "-", "#")) and not re.match(r"\d+\. ", block):
            block, pending = pending + block, ""
        yield block


_LABELS = frozenset({"note", "tip", "important", "warning", "caution"})


def _table(node: SyntaxTreeNode, depth: int) -> Iterator[str]:
    rows = [[_inline(cell) for cell in row.children] for section in node.children for row in section.children]
    if not rows:
        return
    header, body = rows[0], rows[1:]
    for cells in body:
        yield f"{'  ' * depth}- {_record(header, cells)}"


def _record(header: list[str], cells: list[str]) -> str:
    """A table row as a readable record: "scan-interval — How often … (default: 10s)"."""
    first, rest = (cells[0], cells[1:]) if cells else ("", [])
    named = len([c for c in rest if c]) > 1
    parts = [f"{h}: {c}" if named and h else c for h, c in zip(header[1:], rest, strict=False) if c]
    return f"{first} — {'; '.join(parts)}" if first and parts else first or "; ".join(parts)


def _inline(node: SyntaxTreeNode) -> str:
    return _tidy("".join(_inline_text(child) for child in node.children))


def _inline_text(node: SyntaxTreeNode) -> str:
    kind = node.type
    if kind == "text":
        return node.content
    if kind == "code_inline":
        fence = "``" if "`" in node.content else "`"
        return f"{fence}{node.content}{fence}"
    if kind in ("softbreak", "hardbreak"):
        return " "
    if kind == "image":
        return ""
    if kind == "html_inline":
        return " " if _HTML_TAG.fullmatch(node.content) else node.content
    return "".join(_inline_text(child) for child in node.children)  # inline, link, em, strong, s


def _tidy(text: str) -> str:
    return _SPACES.sub(" ", text.replace("\n", " ")).strip()


def blocks_of(text: str) -> list[str]:
    """Split clean text back into its blocks: one per line, a fenced code block as one."""
    blocks: list[str] = []
    fence: list[str] | None = None
    for line in text.split("\n"):
        if fence is not None:
            fence.append(line)
            if closes_fence(line):
                blocks.append("\n".join(fence))
                fence = None
        elif line.lstrip().startswith("```"):
            fence = [line]
        elif line.strip():
            blocks.append(line.rstrip())  # langchain's header splitter joins lines with "  \n"
    if fence is not None:
        blocks.append("\n".join([*fence, "```"]))
    return blocks
