"""The ``[[sources]]`` of kbqa.toml: what each kind of source needs to be read and kept in step."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class _Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Short name shown in citations and `kbqa sources list` (lowercase, digits, - or _).")

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError(f"source name '{name}' must be lowercase letters, digits, '-' or '_' (e.g. team-kb)")
        return name


class FolderSource(_Source):
    """A folder (or file) on this machine: what `kbqa ingest PATH` reads."""

    kind: Literal["folder"] = "folder"
    path: Path


class GitSource(_Source):
    """A git repository, by URL (https://, ssh://, file://) or local path; only the files under ``paths``."""

    kind: Literal["git"] = "git"
    url: str
    branch: str = "main"
    paths: list[str] = Field(default_factory=list, description="Sub-folders to read (default: the whole tree).")
    include: list[str] = Field(default_factory=list, description="Glob patterns a file's path must match.")
    exclude: list[str] = Field(default_factory=list, description="Glob patterns that leave a file out.")
    web_url: str | None = Field(
        None,
        description="Where a file is read on the web, with {commit} and {path}, e.g. "
        "https://github.com/org/docs/blob/{commit}/{path}; citations link there.",
    )


class WebSource(_Source):
    """A web site: the pages its sitemap lists, or the pages linked from ``start_url``."""

    kind: Literal["web"] = "web"
    sitemap: str | None = None
    start_url: str | None = None
    include: list[str] = Field(default_factory=list, description="URL substrings a page must contain (any).")
    exclude: list[str] = Field(default_factory=list, description="URL substrings that leave a page out.")
    max_pages: int = Field(500, ge=1, le=100_000)
    delay_s: float = Field(1.0, ge=0, description="Pause between requests to the site (politeness).")
    timeout_s: float = Field(20.0, gt=0, description="Give up on a page after this many seconds.")
    max_page_bytes: int = Field(5_000_000, ge=1024, description="Pages larger than this are skipped.")

    @model_validator(mode="after")
    def _one_entry(self) -> WebSource:
        if (self.start_url is None) == (self.sitemap is None):
            raise ValueError(f"web source '{self.name}' needs exactly one of sitemap or start_url")
        return self


Source = Annotated[FolderSource | GitSource | WebSource, Field(discriminator="kind")]


def parse_duration(text: str) -> float:
    """Seconds in "90s", "30m", "2h", "1d" or a bare number of seconds."""
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"'{text}' is not a duration; write it like 90s, 30m, 2h or 1d")
    return float(match.group(1)) * _SECONDS[match.group(2)]
