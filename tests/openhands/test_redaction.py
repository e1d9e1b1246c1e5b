"""Redaction masks known secrets and credentials by their form, and leaves every other byte alone."""

from __future__ import annotations

import io
import json
import logging
import random
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oh_mcp.openhands.redaction import KnownSecrets, install_log_redaction, known, redact
from oh_mcp.shaping import window

TRIGGERS = ["token", "tokens", "authorization", "api_key", "session_api_key", "bearer", "secret", "password"]
CASES = [str.lower, str.upper, str.title, lambda w: w[:1].upper() + w[1:], lambda w: w]
SEPARATORS = [": ", "=", " ", '"', "'", '": "', "='", ", ", "; ", "\n", "\t", "(", ")", " = ", ": '"]
WORDS = [
    *"Implement a token bucket limiter and an Authorization header check the reply please".split(),
    *"we need to refresh it before it expires so store the secret in a vault not in code".split(),
    "Bearer",
    "Basic",
    "XY12",
    "4096",
    "1.11.0",
    "v2",
    "max_tokens",
    "tokenizer.encode(text)",
    "self.token",
    "getToken()",
    "headers['Authorization']",
    'os.environ["API_KEY"]',
    "req.headers.get('authorization')",
    "$TOKEN",
    "${API_KEY}",
    "<token>",
    "{token}",
    "sk-learn",
    "task-list",
    "sk-learn-contrib-package-names",
    "curl",
    "-H",
    "http://localhost:3000/api/v1/conversations",
    "@@ -1,3 +1,4 @@",
    "+    token = tokenizer.encode(s)",
    "-    return None",
    "def",
    "return",
    "None",
    "True",
    "é",
    "日本語",
]
PIECES = st.one_of(
    st.builds(lambda w, case: case(w), st.sampled_from(TRIGGERS), st.sampled_from(CASES)), st.sampled_from(WORDS)
)
TEXTS = st.builds(
    lambda lead, pairs: lead + "".join(piece + sep for piece, sep in pairs),
    st.sampled_from(["", *SEPARATORS]),
    st.lists(st.tuples(PIECES, st.sampled_from(SEPARATORS)), max_size=40),
)

ISSUE_MESSAGE = "Implement a token bucket limiter and an Authorization header check; the reply token: XY12 please"
PASSING = [
    ISSUE_MESSAGE,
    "token = tokenizer.encode(text)\nmax_tokens: 4096\nthe Authorization header\napi_key=None",
    "pip install sk-learn; see task-list and sk-learn-contrib-package-names",
    "curl -H 'Authorization: Bearer $TOKEN' -H \"Authorization: Bearer ${OPENHANDS_API_KEY}\" http://x/y",
    "Authorization: Basic authentication, Authorization: Bearer <token>, authorization: bearer getToken",
    "GET /search?q=token&sort=api_key and ?token=${TOKEN} and ?token=%s and ?api_key={key}",
    "url = f'postgresql://{user}:{password}@{host}/db'; docs: https://user:password@example.com",
    "session_api_key: str | None = None  # the Authorization: header carries it",
    "ghp_short xoxb- AKIA eyJ alone, eyJhbGciOi only",
    "authorization: bearer XY12=4096 and Authorization: Basic max_tokens=4096",
]


def _rand(n: int, alphabet: str = string.ascii_letters + string.digits, seed: int = 0) -> str:
    rng = random.Random(f"{n}{alphabet}{seed}")
    return "".join(rng.choice(alphabet) for _ in range(n))


UPPER = string.ascii_uppercase + string.digits
URLSAFE = string.ascii_letters + string.digits + "-_"
CREDENTIALS = [
    "sk-" + _rand(48),
    "sk-proj-" + _rand(40, URLSAFE) + "T3BlbkFJ" + _rand(40, URLSAFE),
    "sk-ant-api03-" + _rand(93, URLSAFE) + "AA",
    *(f"gh{kind}_" + _rand(36, seed=i) for i, kind in enumerate("pousr")),
    "github_pat_" + _rand(22) + "_" + _rand(59),
    *(f"xox{kind}-" + "1234567890-" + _rand(24, seed=i) for i, kind in enumerate("abprs")),
    "AKIA" + _rand(16, UPPER),
    "ASIA" + _rand(16, UPPER),
    "glpat-" + _rand(20, URLSAFE),
    "AIza" + _rand(35, URLSAFE),
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0." + _rand(43, URLSAFE),
]
CONTEXTS = [
    "here is my key {} for the deploy",
    '{{"api_key": "{}", "model": "gpt"}}',
    "https://api.example.com/v1/items?x=1&q={}#top",
    "Authorization: Bearer {}",
    "export OPENAI_API_KEY={}\n",
]


@settings(max_examples=1000)
@given(TEXTS)
def test_prose_and_code_with_every_trigger_word_come_back_byte_for_byte(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize("text", PASSING)
def test_ordinary_coding_texts_pass_unchanged(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize("credential", CREDENTIALS, ids=[c[:7] for c in CREDENTIALS])
@pytest.mark.parametrize("context", CONTEXTS)
def test_each_well_known_credential_format_is_masked_in_prose_json_urls_and_headers(
    credential: str, context: str
) -> None:
    text = context.format(credential)
    masked = redact(text)
    assert credential not in masked
    assert masked == context.format("***"), masked


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc123def456", "Authorization: Bearer ***"),
        ('{"Authorization": "Basic dXNlcjpwYXNzd29yZA=="}', '{"Authorization": "Basic ***"}'),
        ("proxy-authorization: token q1w2e3r4t5y6", "proxy-authorization: token ***"),
        (
            "GET http://h:8000/x?session_api_key=abc123XYZ&limit=5&token=zz9&access_token=a.b",
            "GET http://h:8000/x?session_api_key=***&limit=5&token=***&access_token=***",
        ),
        ("vscode at http://h/?tkn=0f9e8d7c&folder=/w", "vscode at http://h/?tkn=***&folder=/w"),
        ("DATABASE_URL=postgres://app:s3cr3t-pw@db:5432/app", "DATABASE_URL=postgres://app:***@db:5432/app"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK==\n-----END RSA PRIVATE KEY-----",
            "-----BEGIN RSA PRIVATE KEY-----***-----END RSA PRIVATE KEY-----",
        ),
    ],
)
def test_credential_values_are_masked_and_their_labels_kept(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("credential", CREDENTIALS, ids=[c[:7] for c in CREDENTIALS])
def test_masking_a_credential_inside_json_text_keeps_the_json_valid(credential: str) -> None:
    document = json.dumps({"text": f'say "{credential}" and \\ then Authorization: Bearer {credential}', "n": 1})
    assert json.loads(redact(document)) == {"text": 'say "***" and \\ then Authorization: Bearer ***', "n": 1}


def test_a_known_key_is_masked_even_inside_a_longer_word() -> None:
    key = "k3y-abc-123-def-456"
    assert redact(f"prefix{key}suffix and {key}", [key]) == "prefix***suffix and ***"


def test_a_key_too_short_to_be_a_credential_is_masked_only_where_it_stands_alone() -> None:
    # A local OpenHands takes any key, even "e"; masking it inside words would wreck every result.
    text = 'type "text" and e, e-mail, key=e; "e" (e)'
    assert redact(text, ["e"]) == 'type "text" and ***, e-mail, key=***; "***" (***)'
    assert redact("k3y-abc-123 and xk3y-abc-123", ["k3y-abc-123"]) == "*** and xk3y-abc-123"


def test_overlapping_known_keys_are_masked_as_one_stretch() -> None:
    assert redact("xx abcdefghijklmnopqrstu yy", ["abcdefghijklmnop", "fghijklmnopqrstu"]) == "xx *** yy"


@pytest.mark.parametrize("split", range(1, 16))
def test_a_known_key_straddling_a_window_boundary_shows_in_neither_window(split: int) -> None:
    key = "sess-" + _rand(11)  # 16 characters, not a well-known format: only its value gives it away
    text = "a" * (100 - split) + key + "b" * 50
    first, next_offset = window(redact(text, [key]), 0, 100)
    assert next_offset is not None
    second, _ = window(redact(text, [key]), next_offset, 100)
    for part in (first, second):
        assert not any(key[i : i + 4] in part for i in range(len(key) - 3)), part
    assert first + second == "a" * (100 - split) + "***" + "b" * 50


def test_known_secrets_keep_configured_keys_and_the_most_recent_others() -> None:
    keys = KnownSecrets(capacity=2)
    keys.add("configured-key", pin=True)
    for value in ("user-1", "user-2", "user-3", None, ""):
        keys.add(value)
    assert sorted(keys.values()) == ["configured-key", "user-2", "user-3"]
    keys.add("user-2")
    keys.add("user-4")
    assert sorted(keys.values()) == ["configured-key", "user-2", "user-4"]
    keys.add("configured-key")  # the same key sent again as a per-user key stays configured
    keys.add("user-4", pin=True)
    keys.add("user-5")
    keys.add("user-6")
    assert sorted(keys.values()) == ["configured-key", "user-4", "user-5", "user-6"]


def test_log_records_from_any_logger_are_scrubbed_of_known_keys_and_credentials() -> None:
    install_log_redaction()
    key = "known-" + _rand(20, seed=7)
    known.add(key)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    log = logging.getLogger("httpx.test_redaction")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        log.info("using %s for GET http://h/x?token=%s", key, "t0k3n")
        log.info("the Authorization header and max_tokens=%d stay", 4096)
        try:
            raise ValueError(f"upstream quoted {key}")
        except ValueError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
    out = stream.getvalue()
    assert key not in out and "t0k3n" not in out
    assert "using *** for GET http://h/x?token=***" in out
    assert "the Authorization header and max_tokens=4096 stay" in out
    assert "ValueError: upstream quoted ***" in out
