"""A web source (a help center, a docs site): list its pages from the sitemap or by following links from a start
page, fetch only the pages that changed (sitemap ``lastmod``, then ETag / Last-Modified conditional requests), and
keep each page's HTML in the source's mirror folder, where ingest extracts the main content with trafilatura.

Polite by default: robots.txt is obeyed, requests are spaced by ``delay_s`` and say they come from kbqa, and at
most ``max_pages`` pages are read. A page that fails (timeout, server error, redirect loop, not HTML, too large)
is reported and keeps its previous copy; a page that is gone (404/410, or no longer listed) is removed.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urlsplit
from urllib.robotparser import RobotFileParser

from rag.errors import SourceError, SyncCancelledError
from rag.index.store import Progress
from rag.sources.config import WebSource
from rag.sources.state import Page, SyncState, write_atomic

_SLUG = re.compile(r"[^a-z0-9]+")
_MAX_SITEMAP_BYTES = 50_000_000  # the sitemap protocol's own limit
_MAX_SITEMAPS = 50  # children of a sitemap index read in one sync


@dataclass
class _Fetched:
    status: str  # new, same, gone or error
    body: bytes = b""
    revision: str = ""
    problem: str = ""


def mirror_web(
    source: WebSource,
    folder: Path,
    state: SyncState,
    progress: Progress | None,
    cancel: threading.Event | None,
    user_agent: str,
) -> list[str]:
    """Bring ``folder/files`` in step with the site; the problems met (the sync goes on past them)."""
    import httpx

    files = folder / "files"
    files.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    headers = {"User-Agent": user_agent}
    with httpx.Client(headers=headers, timeout=source.timeout_s, follow_redirects=True, max_redirects=5) as client:
        polite = _Polite(client, source, cancel)
        robots = polite.robots(source.sitemap or str(source.start_url))
        listed: dict[str, str] = {}  # url -> lastmod
        if source.sitemap:
            listed = _sitemap_pages(polite, source, robots, user_agent, errors)
        queue = deque([source.start_url] if source.start_url else listed)
        seen: set[str] = set(queue)
        kept: set[str] = set()
        taken = {p.file for p in state.pages.values()}
        done = 0
        while queue and done < source.max_pages:
            url = queue.popleft()
            done += 1
            if progress:
                progress(f"{source.name}: pages", done, min(max(len(queue) + done, 1), source.max_pages))
            body = _sync_page(polite, url, listed.get(url, ""), state, files, taken, errors)
            if body is None:
                continue
            kept.add(url)
            if source.start_url:
                for link in _links(body, url):
                    if link not in seen and _wanted(source, link) and robots.can_fetch(user_agent, link):
                        seen.add(link)
                        queue.append(link)
        if queue:
            errors.append(f"{len(queue)} more page(s) left out: max_pages is {source.max_pages}")
    for url in [u for u in state.pages if u not in kept]:  # gone from the site, the sitemap or the filters
        (files / state.pages.pop(url).file).unlink(missing_ok=True)
    return errors


def _sync_page(
    polite: _Polite, url: str, lastmod: str, state: SyncState, files: Path, taken: set[str], errors: list[str]
) -> bytes | None:
    """Bring one page's copy up to date; its HTML (b"" when not read), or None when it is gone or never was."""
    previous = state.pages.get(url)
    if previous and not (files / previous.file).is_file():
        previous = None  # its copy was lost: fetch it whole
    if previous and lastmod and previous.lastmod == lastmod:
        return b""  # the sitemap says it has not changed: not fetched
    fetched = polite.get(url, previous)
    if fetched.status == "error":
        errors.append(f"{url}: {fetched.problem}")
        # A previous copy stays in the index, and its links are still followed: a hub page that timed out must
        # not make every page below it look deleted.
        return (files / previous.file).read_bytes() if previous else None
    if fetched.status == "gone":
        return None
    if fetched.status == "same" and previous:
        state.pages[url] = Page(previous.file, url, previous.revision, lastmod, previous.sha256)
        return (files / previous.file).read_bytes()
    digest = hashlib.sha256(fetched.body).hexdigest()
    if previous and previous.sha256 == digest:  # a new ETag, the same page
        state.pages[url] = Page(previous.file, url, previous.revision, lastmod, digest)
        return fetched.body
    name = previous.file if previous else _file_name(url, taken)
    taken.add(name)
    write_atomic(files / name, fetched.body)
    state.pages[url] = Page(name, url, fetched.revision, lastmod, digest)
    return fetched.body


class _Polite:
    """One client for the site: a pause between requests, cancellation checked before each."""

    def __init__(self, client: Any, source: WebSource, cancel: threading.Event | None) -> None:
        self.client, self.source, self.cancel = client, source, cancel or threading.Event()
        self._last = 0.0

    def _wait(self) -> None:
        pause = self._last + self.source.delay_s - time.monotonic()
        if self.cancel.wait(max(pause, 0)) or self.cancel.is_set():
            raise SyncCancelledError("Sync cancelled; the index is as it was before this source's sync.")
        self._last = time.monotonic()

    def robots(self, url: str) -> RobotFileParser:
        import httpx

        parts = urlsplit(url)
        robots = RobotFileParser()
        try:
            self._wait()
            response = self.client.get(f"{parts.scheme}://{parts.netloc}/robots.txt")
            robots.parse(response.text.splitlines() if response.status_code == 200 else [])
        except httpx.HTTPError:
            robots.parse([])  # no robots.txt to read: every page may be fetched
        return robots

    def download(self, url: str, limit: int) -> bytes:
        """A document's bytes; raises SourceError when it cannot be had (the caller decides what that means)."""
        import httpx

        self._wait()
        try:
            with self.client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise SourceError(self.source.name, f"{url} answered {response.status_code}")
                return _read(response, limit, url, self.source.name)
        except httpx.TooManyRedirects:
            raise SourceError(self.source.name, f"{url} redirects in a loop") from None
        except httpx.TimeoutException:
            raise SourceError(self.source.name, f"{url} did not answer in {self.source.timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise SourceError(self.source.name, f"cannot read {url} ({exc})") from None

    def get(self, url: str, previous: Page | None) -> _Fetched:
        """A page, conditionally on the copy we have: new, same (304 or same bytes), gone (404/410) or error."""
        import httpx

        self._wait()
        conditional: dict[str, str] = {}
        if previous and previous.revision:
            name = "If-None-Match" if not _is_http_date(previous.revision) else "If-Modified-Since"
            conditional[name] = previous.revision
        try:
            with self.client.stream("GET", url, headers=conditional) as response:
                if response.status_code == 304:
                    return _Fetched("same")
                if response.status_code in (404, 410):
                    return _Fetched("gone")
                if response.status_code != 200:
                    return _Fetched("error", problem=f"answered {response.status_code} {response.reason_phrase}")
                kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if kind not in ("text/html", "application/xhtml+xml"):
                    return _Fetched("error", problem=f"not an HTML page ({kind or 'no content type'}); left out")
                try:
                    body = _read(response, self.source.max_page_bytes, url, self.source.name)
                except SourceError as exc:
                    return _Fetched("error", problem=str(exc.args[0]).split(": ", 1)[-1])
                revision = response.headers.get("etag") or response.headers.get("last-modified") or ""
                return _Fetched("new", body, revision)
        except httpx.TooManyRedirects:
            return _Fetched("error", problem="redirects in a loop")
        except httpx.TimeoutException:
            return _Fetched("error", problem=f"did not answer in {self.source.timeout_s:g} s")
        except httpx.HTTPError as exc:
            return _Fetched("error", problem=f"cannot be read ({exc})")


def _read(response: Any, limit: int, url: str, source: str) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise SourceError(source, f"{url} is larger than {limit:,} bytes; left out")
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise SourceError(source, f"{url} is larger than {limit:,} bytes; left out")
        chunks.append(chunk)
    return b"".join(chunks)


def _sitemap_pages(
    polite: _Polite, source: WebSource, robots: RobotFileParser, user_agent: str, errors: list[str]
) -> dict[str, str]:
    """Page URL -> lastmod from the sitemap (and the sitemaps a sitemap index names). A sitemap that cannot be
    read fails the source: without the list, nothing can be told apart from a deleted page."""
    from lxml import etree

    pages: dict[str, str] = {}
    todo, read = [str(source.sitemap)], 0
    while todo and read < _MAX_SITEMAPS:
        url = todo.pop(0)
        read += 1
        body = polite.download(url, _MAX_SITEMAP_BYTES)
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
        try:
            root = etree.fromstring(body, parser=parser)
        except etree.XMLSyntaxError as exc:
            raise SourceError(source.name, f"sitemap {url} is not XML ({exc})") from None
        if root.tag.endswith("sitemapindex"):
            todo.extend((loc.text or "").strip() for loc in root.iterfind("{*}sitemap/{*}loc"))
            continue
        for entry in root.iterfind("{*}url"):
            loc = (entry.findtext("{*}loc") or "").strip()
            page = urldefrag(loc).url
            if page and _wanted(source, page) and robots.can_fetch(user_agent, page):
                pages[page] = (entry.findtext("{*}lastmod") or "").strip()
    if not pages:
        errors.append(f"sitemap {source.sitemap} lists no page that include/exclude and robots.txt allow")
    return pages


def _wanted(source: WebSource, url: str) -> bool:
    if urlsplit(url).scheme not in ("http", "https"):
        return False
    if source.include and not any(part in url for part in source.include):
        return False
    return not any(part in url for part in source.exclude)


def _links(body: bytes, base: str) -> list[str]:
    """Links of an HTML page to other pages of the same site, absolute and without fragments."""
    import lxml.html

    try:
        document = lxml.html.document_fromstring(body, base_url=base)
    except (ValueError, lxml.etree.ParserError):
        return []
    document.make_links_absolute(base)
    site = urlsplit(base).netloc
    links = []
    for element, attribute, link, _ in document.iterlinks():
        if element.tag == "a" and attribute == "href":
            url = urldefrag(link).url
            if urlsplit(url).netloc == site:
                links.append(url)
    return links


def _file_name(url: str, taken: set[str]) -> str:
    """A readable, unique file name for a page (its last path segment): it becomes the article id."""
    segments = [s for s in urlsplit(url).path.split("/") if s]
    stem = next((s for s in reversed(segments) if s.lower() not in ("index.html", "index.htm", "index")), "")
    stem = _SLUG.sub("-", stem.lower().rsplit(".", 1)[0] if "." in stem else stem.lower()).strip("-")[:80]
    stem = stem or _SLUG.sub("-", urlsplit(url).netloc.lower()).strip("-") or "page"
    name = f"{stem}.html"
    if name in taken:
        name = f"{stem}-{hashlib.sha1(url.encode()).hexdigest()[:6]}.html"
    return name


def _is_http_date(value: str) -> bool:
    return bool(re.match(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} ", value))
