"""What identifies the problem in a pasted ticket, error message or log: the signals triage searches for.

Error codes, exception types, HTTP statuses, quoted messages, products with versions and resource types
are pulled out whole, so BM25 can match them exactly (its tokenizer keeps ``AADSTS700213`` or
``0x80180014`` as one token). Timestamps, GUIDs, IP addresses, memory addresses and stack-frame lines are
noise for search: they differ in every ticket and are dropped from the query. No library does this for
free text (log parsers such as Drain need a corpus of the same log format), hence the patterns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

_TIMESTAMP = re.compile(
    r"\b\d{4}[-/.]\d{2}[-/.]\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"|\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),?\s+\d{1,2}\s+\w{3}\s+\d{4}\s+\d{2}:\d{2}:\d{2}(?:\s*\w+)?"
    r"|\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+\d{1,2}\s+\d{2}:\d{2}:\d{2}"
    r"|\b\d{1,2}/\d{1,2}/\d{2,4}\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AP]M)?"
    r"|\b\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\b",
    re.IGNORECASE,
)
_GUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE)
_IP = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b|\b(?:[0-9a-f]{1,4}:){4,7}[0-9a-f]{1,4}\b", re.IGNORECASE)
_ADDRESS = re.compile(r"\b0x[0-9a-f]{9,}\b|\b[0-9a-f]{16,}\b", re.IGNORECASE)  # pointers, hashes, long ids
# Upper-case only: "Error from server: …" is the message, "ERROR [app] …" is a log level.
_LEVEL = re.compile(
    r"^\s*\[?(?:TRACE|DEBUG|INFO|INFORMATION|NOTICE|WARN|WARNING|ERROR|ERR|FATAL|CRITICAL)\]?[:\s]+(?:\[[^\]]{1,40}\]\s*)?"
)
_FRAME = re.compile(
    r"^\s*(?:at\s+[\w.$<>`\[\]]+\(.*\)|at\s+[\w.$<>`]+\s+in\s+.*|File\s+\".*\",\s+line\s+\d+.*|\.\.\.\s+\d+\s+more"
    r"|goroutine\s+\d+.*|[\w/.-]+\.(?:go|py|js|ts|cs|java):\d+.*|\^+|~+)\s*$"
)
_FIELD_NOISE = re.compile(
    r"^\s*(?:trace|correlation|request|activity|session|tracking|operation)\s*[- ]?id\s*[:=]|^\s*timestamp\s*[:=]",
    re.IGNORECASE,
)

_ERROR_CODE = re.compile(
    r"\b(?:AADSTS\d{5,6}|(?i:0x[0-9a-f]{8}|80[0-9a-f]{6})|[A-Z][A-Z0-9]{1,9}[-_]\d{3,6}"
    r"|(?:ERROR|WSAE|STATUS|ERR)_[A-Z0-9_]{3,60}|[A-Z][a-z]{1,30}(?:[A-Z][a-z]{1,30}){0,8}(?:BackOff|Error|Failed|Failure|Exceeded"
    r"|NotFound|Forbidden|Denied|Unavailable|Full|Conflict|Invalid|Timeout|Limit))\b"
)
# The value of an error-code field: ARM/Graph JSON ("code": "InsufficientSubnetSize"), "Code: Forbidden".
# Only values shaped like identifiers (InsufficientSubnetSize, QUOTA_EXCEEDED): "code=exited" is not one.
_CODE_FIELD = re.compile(
    r"\b(?i:code|error_?code|reason)\"?\s*[:=]\s*\"?((?:[A-Z][a-z0-9]{1,30}){2,12}[A-Za-z0-9]{0,30}|[A-Z][A-Z0-9]{0,30}_[A-Z0-9_]{1,60})\b"
)
# Every repetition below is bounded: unbounded ones ("A." * 10,000) made extraction quadratic (6.5 s a ticket).
_EXCEPTION = re.compile(r"\b(?:[A-Za-z_]\w{0,60}\.){0,10}[A-Z]\w{0,60}(?:Exception|Error)\b(?=[:\s(]|$)")
_HTTP = re.compile(
    r"\b(?:HTTP(?:/\d(?:\.\d)?)?\s*|status(?:\s*code)?\s*[:=]?\s*|code\s*[:=]?\s*)?"
    r"([45]\d\d)\s*(?:\(?\s*(Bad Request|Unauthorized|Forbidden|Not Found|Conflict|Too Many Requests"
    r"|Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout)\)?)?",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"\"([^\"\n]{12,240})\"|“([^”\n]{12,240})”|(?<!\w)'([^'\n]{16,240})'(?!\w)")
_PRODUCT_VERSION = re.compile(
    r"\b([A-Z][\w+.-]{0,40}(?:\s+(?:[A-Z][\w+.-]{0,40}|\d{1,2})){0,2})\s+(v?\d+(?:\.\d+){1,3}|\d{2}H\d)\b(?![.:/-]\d)"
)
_AZURE_TYPE = re.compile(r"\bMicrosoft\.[A-Za-z]+/[A-Za-z]+(?:/[A-Za-z]+)?\b")
# Not "service", "node" or "cluster": too common to say what is affected.
_RESOURCES = (
    "pod",
    "deployment",
    "daemonset",
    "statefulset",
    "replicaset",
    "ingress",
    "node pool",
    "namespace",
    "persistentvolumeclaim",
    "configmap",
    "secret",
    "cronjob",
    "container app",
    "key vault",
    "storage account",
    "app service",
    "function app",
    "virtual machine",
    "scale set",
    "session host",
    "host pool",
    "load balancer",
    "virtual network",
    "subnet",
    "network security group",
    "private endpoint",
    "managed identity",
    "service principal",
    "app registration",
    "container registry",
)  # fmt: skip
_RESOURCE = re.compile(r"\b(" + "|".join(re.escape(r) for r in _RESOURCES) + r")s?\b", re.IGNORECASE)
_ERRORISH = re.compile(
    r"error|fail|exception|denied|unauthori[sz]ed|forbidden|timed? ?out|refused|not found|invalid|cannot|can't"
    r"|unable|fatal|panic|crash|unavailable|expired|no such|does not exist",
    re.IGNORECASE,
)
QUERY_CHARS = 700  # the embedding model reads ~256 tokens; BM25 gets the exact strings anyway


@dataclass
class Signals:
    """What a ticket says about its problem, each list in order of appearance, without duplicates."""

    error_codes: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    http_statuses: list[str] = field(default_factory=list)
    quoted: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    error_lines: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)  # noise removed: kind -> count

    def terms(self) -> list[str]:
        """The exact strings worth highlighting and matching."""
        return _unique(
            [*self.error_codes, *self.exceptions, *self.http_statuses, *self.quoted, *self.products, *self.resources]
        )

    def query(self, limit: int = QUERY_CHARS) -> str:
        """The search query: identifiers and quoted messages first, then the error lines, without noise."""
        # Resource types stay out: "pod" or "service" name the place of a problem, rarely the problem.
        parts = _unique(
            [*self.error_codes, *self.exceptions, *self.http_statuses, *self.quoted, *self.error_lines, *self.products]
        )
        out: list[str] = []
        size = 0
        for part in parts:
            if size + len(part) > limit and out:
                continue
            out.append(part)
            size += len(part) + 2
        return "\n".join(out)


def extract(text: str) -> Signals:
    """The signals in ``text`` (a ticket, an error message or a log excerpt)."""
    signals = Signals()
    lines: list[str] = []
    for raw in text.splitlines():
        if _FRAME.match(raw):
            _count(signals, "stack frames")
            continue
        if _FIELD_NOISE.match(raw):
            _count(signals, "ids and timestamps")
            continue
        line = raw
        for kind, pattern in (("timestamps", _TIMESTAMP), ("GUIDs", _GUID), ("IP addresses", _IP)):
            line, n = pattern.subn(" ", line)
            if n:
                _count(signals, kind, n)
        line, n = _ADDRESS.subn(" ", line)
        if n:
            _count(signals, "addresses and hashes", n)
        line = _LEVEL.sub("", line)
        line = re.sub(r"[ \t]{2,}", " ", line).strip(" \t|-:[]")
        if line:
            lines.append(line)
    clean = "\n".join(lines).replace("\\r\\n", " ").replace("\\n", " ")  # line breaks escaped inside JSON

    codes = [m.group(0) for m in _ERROR_CODE.finditer(clean)] + [m.group(1) for m in _CODE_FIELD.finditer(clean)]
    signals.error_codes = _unique(codes, key=lambda c: c.lower().removeprefix("0x"))  # 0x8024402C = 8024402c
    signals.exceptions = _unique(
        m.group(0) for m in _EXCEPTION.finditer(clean) if m.group(0) not in signals.error_codes
    )
    signals.http_statuses = _unique(
        f"{m.group(1)} {m.group(2).title()}" if m.group(2) else m.group(1)
        for m in _HTTP.finditer(clean)
        if m.group(2) or re.match(r"(?i)http|status|code", m.group(0))
    )
    signals.quoted = _unique(next(g for g in m.groups() if g).strip() for m in _QUOTED.finditer(clean))
    signals.products = _unique(f"{m.group(1)} {m.group(2)}" for m in _PRODUCT_VERSION.finditer(clean))
    signals.resources = _unique(
        [m.group(0) for m in _AZURE_TYPE.finditer(clean)] + [m.group(1).lower() for m in _RESOURCE.finditer(clean)]
    )
    signals.error_lines = _unique(line[:300] for line in lines if _ERRORISH.search(line))[:8]
    if not signals.error_lines:  # a ticket in prose: its first lines say what is wrong
        signals.error_lines = [line[:300] for line in lines[:3]]
    return signals


def error_codes_in(text: str) -> list[str]:
    """The error codes written in ``text`` (a section heading, say), lower-cased."""
    return _unique(m.group(0).lower() for m in _ERROR_CODE.finditer(text))


def _count(signals: Signals, kind: str, n: int = 1) -> None:
    signals.dropped[kind] = signals.dropped.get(kind, 0) + n


def _unique(items: Iterable[str], key: Callable[[str], str] = str.lower) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in items:
        folded = key(item)
        if item and folded not in seen:
            seen.add(folded)
            out.append(item)
    return out
