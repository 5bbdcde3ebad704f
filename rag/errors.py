"""Typed errors. Library code raises these; the CLI and UI turn them into messages.

Every message says what is wrong and what to do next.
"""

from __future__ import annotations

from pathlib import Path


class KbqaError(Exception):
    """Base class for every error kbqa reports to a user."""

    exit_code = 1


class RecordsVersionError(KbqaError):
    """A query log or feedback file was written by a newer kbqa than this one."""

    exit_code = 2

    def __init__(self, path: Path, version: int, known: int) -> None:
        super().__init__(
            f"{path} has schema version {version}; this kbqa knows versions up to {known}. Upgrade kbqa, or point "
            "KBQA_QUERY_LOG_DB / KBQA_FEEDBACK_DB at another file (the file was left as it is)."
        )


class SettingsError(KbqaError):
    """The configuration is invalid (unknown key, bad value, unreadable config file)."""

    exit_code = 2


class IndexNotFoundError(KbqaError):
    """No index exists yet at the configured location."""

    exit_code = 3

    def __init__(self, index_dir: Path | str) -> None:
        super().__init__(
            f"No index found in {index_dir}. Run `kbqa ingest` to index corpus/ first "
            "(or set KBQA_INDEX_DIR or KBQA_CHROMA_URL to where your index lives)."
        )


class IndexMismatchError(KbqaError):
    """The index was built with another embedding model or chunking than the current settings."""

    exit_code = 3


class IndexBusyError(KbqaError):
    """Another ingest holds the index folder's lock."""

    exit_code = 5


class ChromaServerError(KbqaError):
    """The configured Chroma server cannot be reached or its URL is invalid."""

    exit_code = 4


class QuestionError(KbqaError):
    """The question cannot be answered as given (empty, too long, no words)."""

    exit_code = 2


class EmbeddingModelError(KbqaError):
    """The embedding model cannot be loaded."""


class LoadError(KbqaError):
    """One corpus file cannot be read; ingest reports it and goes on with the rest."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class CorpusPathError(KbqaError):
    """A path given to ingest does not exist: nothing is read, nothing indexed changes."""

    exit_code = 2


class IndexWriteError(KbqaError):
    """The index folder cannot be written: read-only, owned by another user, or its disk is full."""

    exit_code = 2


class CalibrationError(KbqaError):
    """The questions cannot calibrate the thresholds as given."""

    exit_code = 2


class EvalSetError(KbqaError):
    """The eval set file cannot be used as given."""

    exit_code = 2


class FeedbackError(KbqaError):
    """Feedback cannot be recorded as given."""

    exit_code = 2


class UploadError(KbqaError):
    """The upload is refused; the message says why and what to send instead."""

    exit_code = 2


class NliModelError(KbqaError):
    """The configured NLI model cannot be loaded."""


class LlmError(KbqaError):
    """The LLM is not configured, not installed, or failed; the message says which and what to do."""

    exit_code = 2


class LlmUnavailableError(LlmError):
    """The configured LLM failed to answer (down, unreachable, timed out)."""

    exit_code = 4


class SourceError(KbqaError):
    """A source could not be synced (unreachable, not a git repository, no such branch, no sitemap...). Its
    articles already in the index stay as they were."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"Source '{source}': {problem}. Its articles already in the index are kept.")
        self.source = source


class SyncCancelledError(KbqaError):
    """A sync was stopped by the user before it finished; what was already live stays live."""

    exit_code = 130


def exit_code_of(name: str) -> int:
    """The exit code the error class called ``name`` has; 1 for a name kbqa does not define. Errors that came
    back from a server by name (ui/remote.py) exit as they would have in-process."""
    known = globals().get(name)
    return known.exit_code if isinstance(known, type) and issubclass(known, KbqaError) else 1
