"""A git source: fetch the branch with dulwich, then write into the source's mirror folder only the files that
changed since the last synced commit (tree diff), and remove the ones that were deleted or renamed away.

The mirror is a plain folder of the repository's files, so ingest reads it like any other folder (and its file
state cache sees the untouched files as unchanged); the objects are kept in a bare repository beside it, so the
next sync fetches and diffs only what is new.
"""

from __future__ import annotations

import fnmatch
import shutil
import threading
from pathlib import Path, PurePosixPath
from typing import Any

from rag.errors import SourceError, SyncCancelledError
from rag.index.store import Progress
from rag.ingest.loaders import IGNORED_NAMES, SUPPORTED_SUFFIXES
from rag.sources.config import GitSource
from rag.sources.state import Page, SyncState, write_atomic


def mirror_git(
    source: GitSource, folder: Path, state: SyncState, progress: Progress | None, cancel: threading.Event | None
) -> str:
    """Bring ``folder/files`` to the branch's newest commit and return it. ``state.pages`` is updated in place
    (the caller saves it once the articles are live)."""
    from dulwich.diff_tree import tree_changes
    from dulwich.repo import Repo

    repo_dir, files = folder / "repo.git", folder / "files"
    folder.mkdir(parents=True, exist_ok=True)
    # Any: dulwich's object and ref types (ShaFile, ObjectID, Ref) are wider than what a bare repo holds here
    repo: Any = Repo(str(repo_dir)) if (repo_dir / "HEAD").is_file() else Repo.init_bare(str(repo_dir), mkdir=True)
    with repo:
        commit = _fetch(source, repo)
        new_tree = repo[commit.encode()].tree
        old_tree = None
        if state.revision and files.is_dir() and state.revision.encode() in repo.object_store:
            old_tree = repo[state.revision.encode()].tree
        else:  # first sync, or the mirror was lost: write every file again
            shutil.rmtree(files, ignore_errors=True)
            state.pages.clear()
        changes = list(tree_changes(repo.object_store, old_tree, new_tree))
        total = len(changes)
        for done, change in enumerate(changes, 1):
            if cancel is not None and cancel.is_set():
                raise SyncCancelledError("Sync cancelled; the index is as it was before this source's sync.")
            old_path = change.old.path.decode("utf-8", "replace") if change.old and change.old.path else None
            new_path = change.new.path.decode("utf-8", "replace") if change.new and change.new.path else None
            if old_path and old_path != new_path:  # deleted, or renamed away
                _remove(files, old_path)
                state.pages.pop(old_path, None)
            if new_path and change.new and _wanted(source, new_path):
                data = repo[change.new.sha].as_raw_string()
                write_atomic(files / new_path, data)
                url = source.web_url.format(commit=commit, path=new_path) if source.web_url else ""
                state.pages[new_path] = Page(file=new_path, url=url, revision=commit)
            elif new_path:
                _remove(files, new_path)
                state.pages.pop(new_path, None)
            if progress:
                progress(f"{source.name}: files", done, total)
        files.mkdir(parents=True, exist_ok=True)
    return commit


def _fetch(source: GitSource, repo: Any) -> str:
    """Fetch the configured branch into ``repo``; the commit it points at."""
    from dulwich.client import get_transport_and_path
    from dulwich.errors import GitProtocolError, HangupException, NotGitRepository

    want = b"refs/heads/" + source.branch.encode()
    branches: list[str] = []

    def determine_wants(refs: dict[bytes, bytes], depth: int | None = None) -> list[bytes]:
        branches.extend(r.decode().removeprefix("refs/heads/") for r in refs if r.startswith(b"refs/heads/"))
        return [refs[want]] if want in refs else []

    try:
        client, path = get_transport_and_path(source.url, quiet=True)
        result: Any = client.fetch(path, repo, determine_wants=determine_wants)  # type: ignore[arg-type]
    except NotGitRepository:
        raise SourceError(source.name, f"{source.url} is not a git repository; check url in kbqa.toml") from None
    except (HangupException, GitProtocolError, OSError) as exc:
        raise SourceError(source.name, f"cannot fetch {source.url} ({exc}); check the URL and the network") from None
    head = result.refs.get(want)
    if head is None:
        known = ", ".join(sorted(branches)) or "none"
        raise SourceError(
            source.name, f"branch '{source.branch}' is not in {source.url} (branches: {known}); set branch in kbqa.toml"
        )
    return head.decode()


def _wanted(source: GitSource, path: str) -> bool:
    """A file ingest can read, under one of the source's paths, matching its include and exclude globs."""
    pure = PurePosixPath(path)
    if ".." in pure.parts or pure.is_absolute():
        return False  # never written outside the mirror, whatever a tree says
    if pure.suffix.lower() not in SUPPORTED_SUFFIXES or pure.name.lower() in IGNORED_NAMES:
        return False
    if any(part.startswith((".", "_")) for part in pure.parts[:-1]) or pure.name.startswith("."):
        return False  # what discover() skips in a folder, skipped here too
    if source.paths and not any(pure.is_relative_to(p.strip("/")) for p in source.paths):
        return False
    if source.include and not any(fnmatch.fnmatch(path, g) for g in source.include):
        return False
    return not any(fnmatch.fnmatch(path, g) for g in source.exclude)


def _remove(files: Path, relative: str) -> None:
    target = files / relative
    target.unlink(missing_ok=True)
    for parent in target.parents:  # empty folders left by a deletion go too
        if parent == files or not parent.is_relative_to(files):
            break
        try:
            parent.rmdir()
        except OSError:
            break
