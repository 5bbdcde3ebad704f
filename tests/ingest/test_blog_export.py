"""Blog exports ingest as their article only: the blog's chrome never reaches the index."""

from __future__ import annotations

from pathlib import Path

from rag.ingest.blog_export import strip_chrome, text_export_to_markdown
from rag.ingest.loaders import load_article

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CHROME = ("Popular posts", "Comments", "Electron Process Execution Failure", "RMM VS DEX", "Azure ACA Container")


def test_seed_text_export_keeps_body_and_drops_footer() -> None:
    """The seed export keeps its body up to References and loses the blog footer."""
    title, body = text_export_to_markdown((FIXTURES / "seed-blog-export.txt").read_text(encoding="utf-8"))
    assert title == "KB: Kube-proxy vs CNI Plugin"
    assert body.startswith("kube-proxy is not considered a CNI plugin")
    assert body.rstrip().endswith("## References")
    for chrome in CHROME:
        assert chrome not in body


def test_seed_text_export_headings_become_sections() -> None:
    """Short standalone lines become ## headings; bullets become list items."""
    _, body = text_export_to_markdown((FIXTURES / "seed-blog-export.txt").read_text(encoding="utf-8"))
    assert "## kube-proxy" in body
    assert "## CNI Plugin" in body
    assert "## Kubernetes Networking in AKS" in body
    assert "- Role: kube-proxy manages network rules" in body
    assert "•" not in body


def test_html_export_strips_navigation_share_comments_and_popular_posts() -> None:
    """An HTML blog export keeps the post body and title only."""
    article = load_article(FIXTURES / "blog-export.html", 10_000_000)
    text = article.page_content
    assert article.metadata["title"] == "KB: Calico felix readiness probe fails"
    assert "felix is not ready" in text
    assert "## Resolution" in text
    for chrome in ("Share to X", "Anonymous said", "Popular posts", "Powered by Blogger", "Labels:", "About"):
        assert chrome not in text


def test_strip_chrome_drops_share_lines_but_keeps_content() -> None:
    """Share-button lines are dropped anywhere; content lines that merely mention sharing stay."""
    lines = ["Intro.", "Share", "Share the folder with the users group.", "Email This", "Comments", "x"]
    assert strip_chrome(lines) == ["Intro.", "Share the folder with the users group."]
