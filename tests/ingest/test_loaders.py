"""Loaders: every supported format loads; every broken file fails with its path and a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import LoadError
from rag.ingest.loaders import discover, load_article

LIMIT = 10_000_000


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_markdown_front_matter(tmp_path: Path) -> None:
    """Front matter fields land in metadata; tags are normalised; the body excludes front matter."""
    md = write(
        tmp_path / "a.md",
        '---\nid: my-article\ntitle: "KB: Thing"\ntags: [AKS, Networking]\nupdated: 2024-05-01\n'
        "source_url: https://example.test/a\n---\n\nBody text here.\n\n## Steps\n\nDo it.\n",
    )
    doc = load_article(md, LIMIT)
    assert doc.metadata["article_id"] == "my-article"
    assert doc.metadata["title"] == "KB: Thing"
    assert doc.metadata["tags"] == ["aks", "networking"]
    assert doc.metadata["updated"] == "2024-05-01"
    assert doc.metadata["source_url"] == "https://example.test/a"
    assert doc.page_content.startswith("Body text here.")


def test_markdown_without_front_matter_derives_id_and_title(tmp_path: Path) -> None:
    """No front matter: id from the file name, title from the first heading (which is not repeated)."""
    doc = load_article(write(tmp_path / "Some Note.md", "# DNS notes\n\nCoreDNS forwards to 168.63.129.16.\n"), LIMIT)
    assert doc.metadata["article_id"] == "some-note"
    assert doc.metadata["title"] == "DNS notes"
    assert "# DNS notes" not in doc.page_content


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("bad-yaml.md", "---\ntitle: [unclosed\n---\nbody\n", "malformed YAML front matter"),
        ("unclosed.md", "---\ntitle: x\nbody without end\n", "no closing '---'"),
        ("list.md", "---\n- a\n- b\n---\nbody\n", "must be a YAML mapping"),
        ("empty.md", "", "no article text"),
        ("only-front.md", "---\ntitle: x\n---\n", "no article text"),
        ("bad-id.md", "---\nid: Has Spaces\n---\nbody\n", "article id"),
        ("bad-tags.md", "---\ntags: {a: 1}\n---\nbody\n", "'tags' must be a list"),
        ("whitespace.txt", "   \n\n  \n", "no article text"),
        ("notes.docx", "text", "unsupported file type"),
    ],
)
def test_broken_files_raise_load_error_with_reason(tmp_path: Path, name: str, content: str, reason: str) -> None:
    """Each kind of broken file is rejected with a reason a user can act on."""
    path = write(tmp_path / name, content)
    with pytest.raises(LoadError) as info:
        load_article(path, LIMIT)
    assert reason in info.value.reason
    assert info.value.path == path


def test_binary_and_non_utf8_files(tmp_path: Path) -> None:
    """Binary content and non-UTF-8 text are reported, not indexed as garbage."""
    binary = tmp_path / "image.md"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Caf\xe9 proxy settings".encode("latin-1"))
    with pytest.raises(LoadError, match="binary"):
        load_article(binary, LIMIT)
    with pytest.raises(LoadError, match="UTF-8"):
        load_article(latin, LIMIT)


def test_oversized_file(tmp_path: Path) -> None:
    """Files over the size limit are skipped with the limit and the setting to raise it."""
    path = write(tmp_path / "big.md", "word " * 1000)
    with pytest.raises(LoadError, match="KBQA_MAX_FILE_BYTES"):
        load_article(path, 100)


def test_unreadable_files(tmp_path: Path) -> None:
    """A dangling symlink or a folder named like an article is reported as unreadable."""
    dangling = tmp_path / "gone.md"
    dangling.symlink_to(tmp_path / "missing.md")
    folder = tmp_path / "folder.md"
    folder.mkdir()
    for path in (dangling, folder):
        with pytest.raises(LoadError, match="cannot read"):
            load_article(path, LIMIT)


def test_pdf(tmp_path: Path) -> None:
    """A real PDF loads through pypdf, one section per page."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title("KB: VPN client error 809")
    for text in ("Error 809 means the VPN server did not respond.", "Open UDP 500 and 4500 on the firewall."):
        pdf.add_page()
        pdf.set_font("helvetica", size=12)
        pdf.multi_cell(0, 10, text)
    path = tmp_path / "vpn-error-809.pdf"
    pdf.output(str(path))
    doc = load_article(path, LIMIT)
    assert doc.metadata["title"] == "KB: VPN client error 809"
    assert doc.metadata["article_id"] == "vpn-error-809"
    assert "## Page 2" in doc.page_content
    assert "UDP 500 and 4500" in doc.page_content


def test_corrupt_pdf(tmp_path: Path) -> None:
    """A file named .pdf that is not a PDF is reported."""
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    with pytest.raises(LoadError, match="PDF"):
        load_article(path, LIMIT)


def test_discover_skips_readme_hidden_and_symlink_loops(tmp_path: Path) -> None:
    """README files, hidden files and unsupported types are not articles; a symlink loop does not hang."""
    root = tmp_path / "kb"
    (root / "sub").mkdir(parents=True)
    for name in ("README.md", ".draft.md", "a.md", "sub/b.txt", "sub/c.html", "image.png"):
        write(root / name, "x")
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)
    found = [p.relative_to(root).as_posix() for p in discover([root])]
    assert found == ["a.md", "sub/b.txt", "sub/c.html"]


def test_index_pages_take_their_folder_name(tmp_path: Path) -> None:
    """`_index.md` pages (Hugo sections) get their folder's name as id, so they do not collide."""
    folder = tmp_path / "services-networking"
    folder.mkdir()
    doc = load_article(write(folder / "_index.md", "---\ntitle: Services\n---\nText.\n"), LIMIT)
    assert doc.metadata["article_id"] == "services-networking"


def test_pipes_devices_and_bombs_are_skipped_with_a_reason(tmp_path: Path) -> None:
    """A FIFO named like an article, a link to /dev/zero and a decompression-bomb PDF: each is left out or
    refused with a LoadError (ingest goes on), never a hang, an unbounded read or a traceback (issue 20)."""
    import os
    import zlib

    write(tmp_path / "ok.md", "# OK\n\nA real article.\n")
    os.mkfifo(tmp_path / "pipe.md")
    (tmp_path / "zero.md").symlink_to("/dev/zero")
    assert [p.name for p in discover([tmp_path])] == ["ok.md"]
    for special in ("pipe.md", "zero.md"):
        with pytest.raises(LoadError, match="not a regular file"):
            load_article(tmp_path / special, 1000)
    bomb = zlib.compress(b"0" * 100_000_000, 9)  # 100 MB of text in ~100 KB
    pdf = (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Contents 4 0 R>>endobj\n"
        + f"4 0 obj<</Length {len(bomb)}/Filter/FlateDecode>>stream\n".encode()
        + bomb
        + b"\nendstream endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )
    (tmp_path / "bomb.pdf").write_bytes(pdf)
    with pytest.raises(LoadError, match=r"bomb\.pdf"):
        load_article(tmp_path / "bomb.pdf", 10_000_000)


def test_source_url_other_than_http_is_dropped(tmp_path: Path) -> None:
    """Front matter cannot put a javascript: or data: link in the web app or a reply draft (issue 20)."""
    from rag.types import safe_url

    for url, kept in [
        ("https://learn.example.com/kb/1", True),
        ("http://wiki.local/x", True),
        ("kb/relative.md", True),
        ("javascript:alert(1)", False),
        (" JavaScript:alert(1)", False),
        ("data:text/html,<script>x</script>", False),
        ("//evil.example.com/x", False),
    ]:
        assert bool(safe_url(url)) is kept, url
    path = write(tmp_path / "x.md", '---\ntitle: X\nsource_url: "javascript:alert(document.cookie)"\n---\nText.\n')
    assert load_article(path, 10_000).metadata["source_url"] == ""
