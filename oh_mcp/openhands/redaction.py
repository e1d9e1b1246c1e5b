"""Secret redaction: known secret values, and credentials recognisable by their form alone.

Coding conversations are full of the words "token", "authorization" and "api_key", so nothing is
masked because of a word near it: only a value oh-mcp knows to be secret, or a string whose own
shape makes it a credential (an `Authorization:` header value, a key-like URL query parameter, a
password in a URL, a well-known token format, a private key block). Everything else passes
through byte for byte.

Used by the client for error texts, by the MCP layer for results, and by a log record factory.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

MASK = "***"
Replacement = str | Callable[[re.Match[str]], str]


def _random_looking(value: str) -> bool:
    """Generated credentials carry digits, or (when long) mixed case; words and identifiers
    ("sk-learn-contrib-…", "Password", "getToken") do not."""
    if any(c.isdigit() for c in value):
        return True
    return len(value) >= 16 and any(c.isupper() for c in value[1:]) and any(c.islower() for c in value)


def _whole(match: re.Match[str]) -> str:
    return MASK if _random_looking(match.group(0)) else match.group(0)


def _tail(match: re.Match[str]) -> str:
    """Keep the label (group 1), mask the value (group 2)."""
    return match.group(1) + MASK


def _tail_if_random(match: re.Match[str]) -> str:
    return match.group(1) + MASK if _random_looking(match.group(2)) else match.group(0)


_START = r"(?<![A-Za-z0-9_-])"  # a token starts at a word edge, so "task-list" never holds "sk-…"
_END = r"(?![A-Za-z0-9_-])"
# Each shape: lower-case needles one of which must be in the text (a cheap test that spares most
# texts the regex), the pattern, and its replacement. No quote or backslash in any value: masking
# must never cut through a JSON string's escapes.
_SHAPES: tuple[tuple[tuple[str, ...], re.Pattern[str], Replacement], ...] = (
    (
        ("private key-----",),
        re.compile(r"(-----BEGIN [A-Z ]*PRIVATE KEY-----)[A-Za-z0-9+/=\s\\:,.-]+?(?=-----END [A-Z ]*PRIVATE KEY-----)"),
        _tail,
    ),
    (
        ("authorization",),
        re.compile(
            r"(\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?(?:bearer|basic|token)\s+)([A-Za-z0-9._~+/-]{8,}=*)",
            re.IGNORECASE,
        ),
        _tail_if_random,
    ),
    (
        ("?", "&"),
        re.compile(
            r"([?&](?:session_api_key|api_key|apikey|api-key|access_token|refresh_token|id_token|auth_token|token|"
            r"tkn|client_secret|secret|password|x-amz-signature|x-amz-security-token|x-amz-credential|sig)=)"
            r"(?!%[sd(])([^&#\s\"'<>\\{}$]+)",
            re.IGNORECASE,
        ),
        _tail,
    ),
    # A password in a URL (postgres://user:pw@host); never a template such as {password} or ${PW}.
    (
        ("://",),
        re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@\"'\\{}$<>]+:)([^/\s@\"'\\{}$<>%()]+)(?=@)", re.IGNORECASE),
        _tail_if_random,
    ),
    (("sk-",), re.compile(_START + r"sk-[A-Za-z0-9_-]{20,}" + _END), _whole),
    (
        ("ghp_", "gho_", "ghs_", "ghu_", "ghr_", "github_pat_"),
        re.compile(_START + r"(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})" + _END),
        _whole,
    ),
    (("glpat-",), re.compile(_START + r"glpat-[A-Za-z0-9_-]{20,}" + _END), _whole),
    (("xox",), re.compile(_START + r"xox[abprs]-[A-Za-z0-9-]{10,}" + _END), _whole),
    # These prefixes never start a word, so the form alone is enough.
    (("akia", "asia"), re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Za-z0-9])"), MASK),
    (("aiza",), re.compile(_START + r"AIza[0-9A-Za-z_-]{35}" + _END), MASK),
    (("eyj",), re.compile(_START + r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*" + _END), MASK),
)


def mask_shapes(text: str) -> str:
    """Mask what is a credential by its form alone."""
    lowered = text.lower()
    for needles, pattern, replace in _SHAPES:
        if any(needle in lowered for needle in needles):
            text = pattern.sub(replace, text)
    return text


# A key shorter than this is too short to be a credential (a local OpenHands accepts any key, even
# "e"): it is masked only where it stands as a whole token, never inside a word.
MIN_SECRET_LENGTH = 16


def mask_values(text: str, secrets: Iterable[str]) -> str:
    """Mask every occurrence of each secret, even inside a longer word or overlapping another one;
    a secret shorter than MIN_SECRET_LENGTH only where it stands alone."""
    spans: list[tuple[int, int]] = []
    for secret in secrets:
        if not secret or secret not in text:  # the common case, answered in C
            continue
        start = text.find(secret)
        while start != -1:
            end = start + len(secret)
            if len(secret) >= MIN_SECRET_LENGTH or _stands_alone(text, start, end):
                spans.append((start, end))
            start = text.find(secret, start + 1)
    if not spans:
        return text
    parts: list[str] = []
    done = 0
    for start, end in _merged(spans):
        parts += [text[done:start], MASK]
        done = end
    return "".join(parts) + text[done:]


def _word_char(char: str) -> bool:
    return char.isalnum() or char in "_-"


def _stands_alone(text: str, start: int, end: int) -> bool:
    return (start == 0 or not _word_char(text[start - 1])) and (end == len(text) or not _word_char(text[end]))


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask the given secret values, then credential shapes. Nothing else changes."""
    return mask_shapes(mask_values(text, secrets))


class KnownSecrets:
    """The secrets this process holds for every caller: configured keys (kept for good) and the
    sandbox session keys OpenHands has handed out (the most recent ones, so a long-lived hosted
    server stays small). Nothing a caller sends goes here: a caller's own key is a secret of that
    caller's requests only (`request_secrets`), so no header can change what another caller sees
    or push a real key out."""

    def __init__(self, capacity: int = 4096) -> None:
        self._capacity = capacity
        self._pinned: set[str] = set()
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._snapshot: tuple[str, ...] = ()

    def add(self, value: str | None, *, pin: bool = False) -> None:
        if not value:
            return
        with self._lock:
            if value in self._pinned:
                return
            if pin:
                self._pinned.add(value)
                self._recent.pop(value, None)
            elif value in self._recent:
                self._recent.move_to_end(value)
                return
            else:
                self._recent[value] = None
                if len(self._recent) > self._capacity:
                    self._recent.popitem(last=False)
            self._snapshot = (*self._pinned, *self._recent)

    def values(self) -> tuple[str, ...]:
        return self._snapshot


known = KnownSecrets()
_request_secrets: ContextVar[tuple[str, ...]] = ContextVar("oh_mcp_request_secrets", default=())


@contextmanager
def request_secrets(*values: str | None) -> Iterator[None]:
    """Treat `values` as secrets for what runs inside (one caller's request): results, errors and log
    lines made there mask them; nothing outside sees them."""
    token = _request_secrets.set((*_request_secrets.get(), *(v for v in values if v)))
    try:
        yield
    finally:
        _request_secrets.reset(token)


def secrets_in_scope() -> tuple[str, ...]:
    """Every secret to mask here: the process's known ones and the current request's own."""
    own = _request_secrets.get()
    return (*known.values(), *own) if own else known.values()


def scrub_known(text: str, extra: Iterable[str] = ()) -> str:
    """`redact` with every secret in scope here, plus `extra`."""
    return redact(text, (*secrets_in_scope(), *extra))


def _scrub_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except (TypeError, ValueError, KeyError):
        message = f"{record.msg} {record.args!r}"
    clean = scrub_known(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        clean = scrub_known(text)
        if clean != text:
            record.exc_text = clean


def install_log_redaction() -> None:
    """Scrub every log record this process makes, from any library and whatever handlers are set up
    later (the CLI reconfigures logging after the server is built). Idempotent."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "oh_mcp_redacts", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _scrub_record(record)
        return record

    factory.oh_mcp_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
