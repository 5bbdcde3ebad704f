"""A git source synced into a real index: a real repository made in the test (dulwich, no git binary), real
Chroma and the real model. Each sync must leave the index equal to the branch's files, embed only what changed,
and a source that cannot be synced must keep what it had."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag import KbService, load_settings
from tests.support import ARTICLES, article_id, commit_all, docs_repo, git_remove


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return docs_repo(tmp_path / "docs-repo")


def _service(tmp_path: Path, url: str, **options: object) -> KbService:
    source = {"name": "docs", "kind": "git", "url": url, "branch": "main", "paths": ["articles"], **options}
    return KbService(load_settings(index_dir=tmp_path / "index", query_log=False, sources=[source]))


def _indexed(service: KbService) -> dict[str, dict]:
    service.pipeline.index.view(refresh=True)
    return {a["article_id"]: a for a in service.articles()}


@pytest.mark.parametrize("by", ["path", "file-url"])
def test_sync_follows_the_branch_adds_changes_renames_and_deletes(tmp_path: Path, repo: Path, by: str) -> None:
    url = str(repo) if by == "path" else repo.as_uri()
    service = _service(tmp_path, url, web_url="https://git.example.org/docs/blob/{commit}/{path}")
    ids = [article_id(p) for p in ARTICLES]

    [first] = service.sync()
    assert first.ok and not first.errors, first
    assert sorted(first.added) == sorted(ids) and first.revision
    articles = _indexed(service)
    assert sorted(articles) == sorted(ids)  # README and drafts/ are not articles of this source
    one = articles[ids[0]]
    assert one["source"] == "docs" and one["revision"] == first.revision
    assert one["source_url"] == f"https://git.example.org/docs/blob/{first.revision}/articles/{ARTICLES[0].name}"

    # Change one, rename one, delete one, add one: one commit.
    changed = repo / "articles" / ARTICLES[0].name
    changed.write_text(changed.read_text() + "\n\n## Update\n\nA paragraph added upstream about kube-proxy.\n")
    (repo / "articles" / ARTICLES[1].name).rename(repo / "articles" / "renamed-article.md")
    git_remove(repo, f"articles/{ARTICLES[2].name}")
    (repo / "articles" / "new-article.md").write_text("# A new article\n\nRestart the node pool to apply it.\n")
    git_remove(repo, f"articles/{ARTICLES[1].name}")
    second_commit = commit_all(repo, "edit, rename, delete, add")

    renamed = article_id(repo / "articles" / "renamed-article.md")  # the file name, unless front matter names an id
    [second] = service.sync()
    assert second.ok and second.revision == second_commit
    if renamed == ids[1]:  # the same article under a new path: changed (its path, its revision)
        assert sorted(second.changed) == sorted([ids[0], ids[1]]) and second.added == ["new-article"]
        assert second.removed == [ids[2]]
    else:
        assert second.changed == [ids[0]] and sorted(second.added) == sorted(["new-article", renamed])
        assert sorted(second.removed) == sorted([ids[1], ids[2]])
    assert second.unchanged == 1
    articles = _indexed(service)
    assert sorted(articles) == sorted({ids[0], ids[3], "new-article", renamed})
    assert articles[renamed]["source_path"].endswith("renamed-article.md")
    assert articles[ids[3]]["revision"] == first.revision  # untouched: still the commit its text is from
    assert articles["new-article"]["revision"] == second_commit
    answer = service.ask("How do I apply it to the node pool?")
    assert all(c.article_id not in (ids[1], ids[2]) for c in answer.citations)

    [third] = service.sync()  # nothing new upstream: nothing read or embedded
    assert third.ok and third.chunks_embedded == 0 and not (third.added or third.changed or third.removed)
    rows = {r["name"]: r for r in service.sources()}
    assert rows["docs"]["revision"] == second_commit and rows["docs"]["synced_at"]


def test_a_source_that_cannot_be_synced_keeps_its_articles(tmp_path: Path, repo: Path) -> None:
    service = _service(tmp_path, str(repo))
    [first] = service.sync()
    assert first.ok
    before = _indexed(service)

    not_git = tmp_path / "not-a-repo"
    not_git.mkdir()
    [failed] = _service(tmp_path, str(not_git)).sync()
    assert not failed.ok and "is not a git repository" in failed.errors[0] and "docs" in failed.errors[0]
    assert _indexed(service) == before

    [moved] = _service(tmp_path, str(repo), branch="release").sync()
    assert not moved.ok and "branch 'release' is not in" in moved.errors[0] and "main" in moved.errors[0]
    assert _indexed(service) == before
    row = _service(tmp_path, str(repo), branch="release").sources()[0]
    assert row["failed_at"] and "release" in row["errors"][0] and row["synced_at"]


def test_sources_are_named_in_settings_and_checked(tmp_path: Path) -> None:
    from rag import SettingsError

    with pytest.raises(SettingsError, match="exactly one of sitemap or start_url"):
        load_settings(sources=[{"name": "site", "kind": "web"}])
    with pytest.raises(SettingsError, match='kind must be "folder", "git" or "web"'):
        load_settings(sources=[{"name": "a", "path": "x"}])
    with pytest.raises(SettingsError, match="two sources are named 'a'"):
        load_settings(sources=[{"name": "a", "kind": "folder", "path": "x"}, {"name": "a", "kind": "git", "url": "y"}])
    service = KbService(
        load_settings(index_dir=tmp_path / "index", sources=[{"name": "a", "kind": "folder", "path": "x"}])
    )
    with pytest.raises(SettingsError, match="No source named 'b'"):
        service.sync(["b"])


def test_two_sources_with_the_same_article_id_do_not_replace_each_other(tmp_path: Path) -> None:
    """Two folders holding an article with the same id: the second is reported as a duplicate, the first stays,
    and syncing again changes nothing (before, each sync replaced the other's article)."""
    import shutil

    for name in ("team", "vendor"):
        (tmp_path / name).mkdir()
        shutil.copy(ARTICLES[0], tmp_path / name / ARTICLES[0].name)
    shutil.copy(ARTICLES[1], tmp_path / "vendor" / ARTICLES[1].name)
    sources = [{"name": n, "kind": "folder", "path": str(tmp_path / n)} for n in ("team", "vendor")]
    service = KbService(load_settings(index_dir=tmp_path / "index", query_log=False, sources=sources))
    team, vendor = service.sync()
    assert team.ok and not team.errors
    assert vendor.added == [article_id(ARTICLES[1])]
    assert any("duplicate article id" in e and "team" in e for e in vendor.errors)
    articles = _indexed(service)
    assert articles[article_id(ARTICLES[0])]["source"] == "team"
    again = service.sync()
    assert all(not (r.added or r.changed or r.removed) for r in again)
    assert _indexed(service) == articles
