"""A web help center synced into a real index: a real HTTP server started by the test serves HTML pages made
from corpus/, a sitemap with lastmod, ETags and a robots.txt. Pages change, disappear, time out, loop, are too
large or not HTML between syncs; the index must follow the site, fetch and embed only what changed, and keep
a page's old copy when it cannot be read."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from rag import KbService, load_settings
from tests.conftest import CORPUS

ARTICLES = [p for p in sorted(CORPUS.glob("*.md")) if p.name != "README.md"][:5]
PREFIX = "/hc/en-us/articles/"


@dataclass
class Site:
    """What the server answers: path -> (content type, body); ETag = hash of the body."""

    pages: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    lastmod: dict[str, str] = field(default_factory=dict)
    listed: list[str] = field(default_factory=list)
    slow: set[str] = field(default_factory=set)
    requests: Counter[str] = field(default_factory=Counter)
    not_modified: Counter[str] = field(default_factory=Counter)
    agents: set[str] = field(default_factory=set)
    sitemap_missing: bool = False
    base: str = ""

    def sitemap(self) -> bytes:
        urls = "".join(
            f"<url><loc>{self.base}{p}</loc><lastmod>{self.lastmod.get(p, '2026-01-01')}</lastmod></url>"
            for p in self.listed
        )
        return (
            f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'.encode()
        )


class _Handler(BaseHTTPRequestHandler):
    site: Site  # set per test: the fixture makes a subclass

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path
        self.site.requests[path] += 1
        self.site.agents.add(self.headers.get("User-Agent", ""))
        if path in ("/robots.txt", "/sitemap.xml", "/sitemap-index.xml"):
            return self._send(*self._listing(path))
        if path.endswith("/loop"):
            self.send_response(302)
            self.send_header("Location", path)
            self.end_headers()
            return None
        if path in self.site.slow:
            time.sleep(2.5)
        if path not in self.site.pages:
            return self._send(404, "text/html", b"<html><body>Not found</body></html>")
        kind, body = self.site.pages[path]
        etag = f'"{hash(body) & 0xFFFFFFFF:x}"'
        if self.headers.get("If-None-Match") == etag:
            self.site.not_modified[path] += 1
            self.send_response(304)
            self.end_headers()
            return None
        return self._send(200, kind, body, etag)

    def _listing(self, path: str) -> tuple[int, str, bytes]:
        if path == "/sitemap-index.xml":
            index = f"<sitemapindex><sitemap><loc>{self.site.base}/sitemap.xml</loc></sitemap></sitemapindex>"
            return 200, "application/xml", index.encode()
        if path == "/robots.txt":
            return 200, "text/plain", b"User-agent: *\nDisallow: /hc/en-us/articles/private\n"
        if self.site.sitemap_missing:
            return 404, "text/plain", b"not found"
        return 200, "application/xml", self.site.sitemap()

    def _send(self, status: int, kind: str, body: bytes, etag: str = "") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        if etag:
            self.send_header("ETag", etag)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            self.wfile.write(body)


def _html(markdown_file: Path, extra: str = "") -> bytes:
    text = markdown_file.read_text(encoding="utf-8")
    if text.startswith("---"):
        text = text.split("---", 2)[2]
    title = next((line[2:] for line in text.splitlines() if line.startswith("# ")), markdown_file.stem)
    body = MarkdownIt().render(text + extra)
    return (
        f"<html><head><title>{title}</title></head><body><nav><a href='/'>Help center</a></nav>"
        f"<main><article>{body}</article></main><footer>© Example</footer></body></html>"
    ).encode()


@pytest.fixture
def site() -> Iterator[Site]:
    site = Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Handler,), {"site": site}))
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    for i, path in enumerate(ARTICLES):
        site.pages[f"{PREFIX}{1000 + i}-{path.stem}"] = ("text/html; charset=utf-8", _html(path))
    site.pages[f"{PREFIX}private-notes"] = ("text/html", b"<html><body><p>internal</p></body></html>")
    site.pages[f"{PREFIX}manual.pdf"] = ("application/pdf", b"%PDF-1.4 not a page")
    site.pages[f"{PREFIX}huge"] = ("text/html", b"<html><body>" + b"<p>word</p>" * 40_000 + b"</body></html>")
    site.pages["/community/posts/1"] = ("text/html", _html(ARTICLES[0]))  # not under the include pattern
    site.listed = [*site.pages, f"{PREFIX}loop"]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site
    server.shutdown()
    server.server_close()


def _article_paths(site: Site) -> list[str]:
    """The help center's article pages (the fixture's other pages are there to fail or be left out)."""
    return [p for p in site.pages if p.startswith(PREFIX) and p[len(PREFIX)].isdigit()]


def _service(tmp_path: Path, site: Site) -> KbService:
    source = {
        "name": "help-center",
        "kind": "web",
        "sitemap": f"{site.base}/sitemap.xml",
        "include": [PREFIX],
        "delay_s": 0,
        "timeout_s": 1,
        "max_page_bytes": 200_000,
    }
    return KbService(load_settings(index_dir=tmp_path / "index", query_log=False, sources=[source]))


def _indexed(service: KbService) -> dict[str, dict]:
    service.pipeline.index.view(refresh=True)
    return {a["article_id"]: a for a in service.articles()}


def test_web_sync_follows_the_site_and_fetches_only_what_changed(tmp_path: Path, site: Site) -> None:
    service = _service(tmp_path, site)
    page = {p: f"{1000 + i}-{p.stem}".lower() for i, p in enumerate(ARTICLES)}  # article id = last URL segment
    paths = {p: f"{PREFIX}{1000 + i}-{p.stem}" for i, p in enumerate(ARTICLES)}

    [first] = service.sync()
    assert first.ok
    assert sorted(first.added) == sorted(page.values())
    problems = "\n".join(first.errors)
    assert "not an HTML page (application/pdf)" in problems
    assert "redirects in a loop" in problems
    assert "larger than 200,000 bytes" in problems
    assert site.requests[f"{PREFIX}private-notes"] == 0  # robots.txt forbids it
    assert site.requests["/community/posts/1"] == 0  # outside the include pattern
    assert all(agent.startswith("kbqa/") for agent in site.agents)
    articles = _indexed(service)
    one = articles[page[ARTICLES[0]]]
    assert one["source"] == "help-center" and one["source_url"] == site.base + paths[ARTICLES[0]]
    assert one["revision"].startswith('"')  # the page's ETag
    answer = service.ask("Is kube-proxy a CNI plugin?")
    assert any(c.source == "help-center" and c.source_url.startswith(site.base) for c in answer.citations)

    # Nothing changed: the sitemap's lastmod says so, and no article page is requested again.
    before = site.requests.copy()
    [second] = service.sync()
    assert second.ok and second.chunks_embedded == 0 and not (second.added or second.changed or second.removed)
    assert all(site.requests[p] == before[p] for p in paths.values())

    # A changes, B gets a new lastmod but the same page (304), C leaves the sitemap, D now answers 404, E times
    # out.
    a, b, c, d, e = ARTICLES
    site.pages[paths[a]] = ("text/html", _html(a, "\n\n## Changed upstream\n\nA new paragraph about rollbacks.\n"))
    for changed in (a, b, d, e):  # a page whose lastmod did not move is not fetched at all
        site.lastmod[paths[changed]] = "2026-11-28"
    site.listed.remove(paths[c])
    del site.pages[paths[d]]
    site.slow.add(paths[e])
    [third] = service.sync()
    assert third.ok
    assert third.changed == [page[a]]
    assert sorted(third.removed) == sorted([page[c], page[d]])
    assert site.not_modified[paths[b]] == 1
    assert any(paths[e] in problem and "did not answer in 1 s" in problem for problem in third.errors)
    articles = _indexed(service)
    assert sorted(articles) == sorted([page[a], page[b], page[e]])  # E's old copy stays until it answers again
    assert third.chunks_embedded == len(service.pipeline.index.view().article_chunks(page[a]))


def test_a_site_without_its_sitemap_keeps_its_articles(tmp_path: Path, site: Site) -> None:
    service = _service(tmp_path, site)
    [first] = service.sync()
    assert first.ok
    before = _indexed(service)
    site.sitemap_missing = True
    [failed] = service.sync()
    assert not failed.ok and "help-center" in failed.errors[0] and "answered 404" in failed.errors[0]
    assert _indexed(service) == before


def test_a_site_without_sitemap_is_crawled_from_its_start_page_with_conditional_requests(
    tmp_path: Path, site: Site
) -> None:
    articles = _article_paths(site)
    links = "".join(f"<li><a href='{p}#top'>{p}</a></li>" for p in articles)
    site.pages[f"{PREFIX}home"] = ("text/html", f"<html><body><h1>Help</h1><ul>{links}</ul></body></html>".encode())
    source = {
        "name": "crawled",
        "kind": "web",
        "start_url": f"{site.base}{PREFIX}home",
        "include": [PREFIX],
        "delay_s": 0,
        "timeout_s": 1,
        "max_page_bytes": 200_000,
    }
    service = KbService(load_settings(index_dir=tmp_path / "index", query_log=False, sources=[source]))
    [first] = service.sync()
    assert first.ok and len(first.added) == len(articles), first
    assert site.requests[f"{PREFIX}private-notes"] == 0
    [second] = service.sync()  # every page asked again, conditionally: all 304, nothing embedded
    assert second.ok and second.chunks_embedded == 0
    assert all(site.not_modified[p] == 1 for p in articles)
    site.slow.add(f"{PREFIX}home")  # the start page times out: the pages found through it are not "deleted"
    [third] = service.sync()
    assert third.ok and not third.removed and third.unchanged == len(articles)
    assert any(f"{PREFIX}home" in e and "did not answer" in e for e in third.errors)


def test_a_cancelled_sync_leaves_the_index_and_the_state_as_they_were(tmp_path: Path, site: Site) -> None:
    from rag.errors import SyncCancelledError

    service = _service(tmp_path, site)
    [first] = service.sync()
    assert first.ok
    before, state = _indexed(service), service.sources()[0]
    for i, path in enumerate(_article_paths(site)):
        site.pages[path] = ("text/html", _html(ARTICLES[i], "\n\n## Edited\n\nEvery page changed upstream.\n"))
        site.lastmod[path] = "2026-11-29"
    cancel = threading.Event()

    def progress(stage: str, done: int, total: int) -> None:
        if stage.endswith("pages") and done == 2:  # the user presses Cancel while the second page is read
            cancel.set()

    with pytest.raises(SyncCancelledError):
        service.sync(progress=progress, cancel=cancel)
    assert _indexed(service) == before
    assert service.sources()[0] == state
    [after] = service.sync()  # the next sync does the whole change
    assert after.ok and len(after.changed) == len(ARTICLES)


def test_unreachable_sources_are_named_and_fail_alone(tmp_path: Path) -> None:
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens here
    sources = [
        {"name": "site", "kind": "web", "sitemap": f"{closed}/sitemap.xml", "delay_s": 0, "timeout_s": 2},
        {"name": "repo", "kind": "git", "url": f"{closed}/docs.git"},
        {"name": "team-kb", "kind": "folder", "path": str(ARTICLES[0].parent)},
    ]
    service = KbService(load_settings(index_dir=tmp_path / "index", query_log=False, sources=sources))
    site, repo, folder = service.sync()
    assert not site.ok and site.errors[0].startswith("Source 'site': cannot read") and "kept" in site.errors[0]
    assert not repo.ok and repo.errors[0].startswith("Source 'repo': cannot fetch")
    assert folder.ok and folder.added  # the folder source is synced all the same
    assert {a["source"] for a in service.articles()} == {"team-kb"}


def test_a_sitemap_index_is_followed_and_max_pages_is_kept(tmp_path: Path, site: Site) -> None:
    source = {
        "name": "hc",
        "kind": "web",
        "sitemap": f"{site.base}/sitemap-index.xml",
        "include": [PREFIX],
        "delay_s": 0,
        "timeout_s": 1,
        "max_pages": 2,
    }
    service = KbService(load_settings(index_dir=tmp_path / "index", query_log=False, sources=[source]))
    [report] = service.sync()
    assert report.ok and len(report.added) == 2
    assert any("more page(s) left out: max_pages is 2" in e for e in report.errors)
    assert sum(site.requests[p] for p in _article_paths(site)) == 2


def test_narrowing_a_source_s_filters_removes_what_it_no_longer_covers(tmp_path: Path, site: Site) -> None:
    service = _service(tmp_path, site)
    [first] = service.sync()
    keep = _article_paths(site)[0]
    source = {
        "name": "help-center",
        "kind": "web",
        "sitemap": f"{site.base}/sitemap.xml",
        "include": [keep],
        "delay_s": 0,
        "timeout_s": 1,
    }
    narrowed = KbService(load_settings(index_dir=tmp_path / "index", query_log=False, sources=[source]))
    [second] = narrowed.sync()
    assert second.ok and second.chunks_embedded == 0  # the page kept is the same article: nothing re-embedded
    assert sorted(second.removed) == sorted(set(first.added) - {keep.rsplit("/", 1)[1]})
    assert sorted(_indexed(narrowed)) == [keep.rsplit("/", 1)[1]]
