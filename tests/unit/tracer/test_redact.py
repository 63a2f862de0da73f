"""The one redaction rule: by key, by value anywhere in a string, and literal values of
statements and GraphQL; and the quick test that proves a span clean."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seamscope.tracer import redact
from seamscope.tracer.redact import (
    REDACTED,
    is_secret_key,
    json_may_hold_secret,
    may_hold_secret,
    redact_attributes,
    redact_name,
    redact_text,
    redact_value,
    scrub_graphql,
    scrub_statement,
    scrubbed_key,
)
from seamscope.tracer.rows import to_json


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        ("https://u:pw-1@h.example/x", "pw-1", "h.example/x"),
        ("see ftp://anon:pw-2@files.example and more", "pw-2", "and more"),
        # An unescaped @ in the password: the user info runs to the authority's last @.
        ("https://u:p@ss-pw-11@h.example/x?q=a@b", "ss-pw-11", "h.example/x?q=a@b"),
        ("/cb?user=a&pwd=pw-3&page=2", "pw-3", "page=2"),
        ("GET /cb?access_token=pw-4", "pw-4", "GET /cb?access_token="),
        ("X-Amz-Signature=pw-5&X-Amz-Date=1", "pw-5", "X-Amz-Date=1"),
        ("jwt eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl here", "eyJzdWIiOi", "here"),
        ("Authorization: Bearer pw-6-abc", "pw-6-abc", "Authorization: Bearer"),
        ("Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA", "Basic"),
        ("login failed: password=pw-7", "pw-7", "login failed"),
        ('{"password": "pw-8", "user": "a"}', "pw-8", '"user": "a"'),
        ("{'api_key': 'pw-9'}", "pw-9", "api_key"),
        ("aws_secret_access_key=pw-10", "pw-10", "aws_secret_access_key="),
        ("key AKIAABCDEFGHIJKLMNOP leaked", "AKIAABCDEFGHIJKLMNOP", "leaked"),
    ],
)
def test_secrets_anywhere_in_a_string(text: str, secret: str, kept: str) -> None:
    out = redact_text(text)
    assert secret not in out and REDACTED in out and kept in out


@pytest.mark.parametrize(
    "text",
    [
        "http://a/b?page=1",
        "GET /orders/{id}",
        "orders-q send",
        "https://mailchimp.example/3.0/lists?count=10",
        "a basic idea",
        "user@example.com",
        "status=200",
    ],
)
def test_plain_strings_stay(text: str) -> None:
    assert redact_text(text) == text


def test_values_by_key_in_arrays_and_nested_maps() -> None:
    attrs = {
        "http.request.header.x-auth": "pw-1",
        "aws.credentials": ["AKIAZZZZZZZZZZZZZZZZ", "wJalrXUtnFEMI"],
        "request.headers": {"authorization": "pw-2", "accept": "json", "inner": {"cookie": "c"}},
        "mirrors": ["plain", "https://u:pw-3@m.example/"],
        "gen_ai.usage.input_tokens": 12,
        "db.password": 1234,
        "llm.token_count.prompt": 30,
        "auth.enabled": True,
        "seamscope.token_source": "ours",
    }
    out = redact_attributes(attrs)
    assert out["http.request.header.x-auth"] == REDACTED
    assert out["aws.credentials"] == [REDACTED, REDACTED]
    assert out["request.headers"] == {
        "authorization": REDACTED,
        "accept": "json",
        "inner": {"cookie": REDACTED},
    }
    assert out["mirrors"] == ["plain", f"https://{REDACTED}@m.example/"]
    assert out["gen_ai.usage.input_tokens"] == 12  # a count, not a secret
    assert out["llm.token_count.prompt"] == 30
    assert out["db.password"] == REDACTED  # a numeric password is a password
    assert out["auth.enabled"] is True
    assert out["seamscope.token_source"] == "ours"


def test_statements_and_graphql_lose_their_literal_values() -> None:
    assert scrub_statement("UPDATE users SET password = 'pw''1' WHERE id = 42") == (
        "UPDATE users SET password = '?' WHERE id = ?"
    )
    assert scrub_statement("SELECT * FROM \"Orders\" WHERE pk = 'x'") == (
        "SELECT * FROM \"Orders\" WHERE pk = '?'"
    )
    item = '{"TableName": "Users", "Item": {"password": {"S": "pw-2"}, "n": {"N": 5}}}'
    assert json.loads(scrub_statement(item)) == {
        "TableName": "?",
        "Item": {"password": {"S": "?"}, "n": {"N": "?"}},
    }
    document = 'mutation { login(secret: "pw-3", pin: 1234, note: """pw-4""") { id } }'
    assert scrub_graphql(document) == 'mutation { login(secret: "?", pin: ?, note: "?") { id } }'
    assert redact_value("graphql.variables", '{"token": "pw-5", "n": [1, 2]}') == (
        '{"token":"?","n":["?","?"]}'
    )
    assert redact_value("graphql.variables", "not json pw-6") == REDACTED
    assert redact_value("db.operation.parameter.password", "pw-7") == REDACTED
    assert redact_value("db.query.text", ["SELECT 'pw-8'"]) == ["SELECT '?'"]


def test_unterminated_quotes_and_odd_statements() -> None:
    assert scrub_statement("SELECT 'never closed") == "SELECT '?'"
    assert scrub_graphql('{ a(s: "open') == '{ a(s: "?"'
    assert scrub_statement("") == ""


# Strings made of the pieces the rules look for, so that generated values often hold a secret.
_PIECES = st.sampled_from(
    [
        "a", "=", "?", "&", ";", "@", "://", "http", "token", "pwd", "password", "Bearer ",
        "Basic ", "eyJ", "eyJhbGciOi.", "AKIA", "ASIA", "ABCDEFGHIJKLMNOP", '"', "'", ":", " ",
        "{", "}", "[", "]", "x", "1", "_", "-", "/", ".", "\\", "auth", "secret", "key",
    ]
)  # fmt: skip
_TEXT = st.lists(_PIECES, max_size=24).map("".join)
_KEYS = st.sampled_from(
    ["url.full", "note", "x-auth", "db.statement", "graphql.variables", "k", "api_key", "n"]
)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_KEYS, children, max_size=3),
    max_leaves=8,
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_KEYS, _VALUES, max_size=5))
def test_the_quick_test_never_misses_what_the_rule_would_change(attrs: dict[str, Any]) -> None:
    """The span builder skips redaction when no key is scrubbed and the attributes' JSON
    passes json_may_hold_secret: that must only happen when redaction changes nothing."""
    if redact_attributes(attrs) != attrs:
        assert any(scrubbed_key(k) for k in attrs) or json_may_hold_secret(to_json(attrs))


@pytest.mark.parametrize(
    "attrs",
    [
        {"note": "jwt eyJhbGciOi.eyJzdWIiOi.c2ln"},
        {"note": "Bearer pw-1-abc"},
        {"note": "Basic dXNlcjpwYXNz"},
        {"note": "key AKIAABCDEFGHIJKLMNOP"},
        {"note": "key ASIAABCDEFGHIJKLMNOP"},
        {"note": '{"password": "pw-2"}'},  # in the JSON text only as \"
        {"note": "{'api_key': 'pw-3'}"},
        {"k": {"api_key": "pw-4"}},
        {"k": [{"api_key": "pw-5"}]},
        {"note": "see https://u:pw-6@h.example/x"},
        {"note": "login password=pw-7"},
    ],
)
def test_the_quick_test_sees_each_kind_of_secret(attrs: dict[str, Any]) -> None:
    """One example for each way in: the secret is found through this one check alone."""
    assert not any(scrubbed_key(k) for k in attrs)
    assert redact_attributes(attrs) != attrs
    assert json_may_hold_secret(to_json(attrs))


def test_a_map_after_the_first_item_of_an_array_is_not_passed_over() -> None:
    """The quick test once looked for a map only at an array's start ("[{"), not after it."""
    attrs = {"list": [None, {"x-auth": "kept-secret"}], "n": ["a", {"api_key": 7}]}
    assert not any(scrubbed_key(k) for k in attrs)
    assert json_may_hold_secret(to_json(attrs))
    assert redact_attributes(attrs) == {
        "list": [None, {"x-auth": REDACTED}],
        "n": ["a", {"api_key": REDACTED}],
    }


@pytest.mark.parametrize(
    "text",
    [
        "token=pw-1",  # the name at the very start of the text
        "=&token=pw-2",  # after an "=" at the very start
        "/?" + "a" * 64 + "credential" + "a" * 64 + "=pw-3",  # the longest name a rule takes
    ],
)
def test_the_quick_test_sees_a_name_at_the_edges_of_its_window(text: str) -> None:
    """A secret name right at the start of the text (or of a JSON string), or as far before
    its "=" as the rules look, is seen by the quick tests, as text and as attribute JSON."""
    assert "pw-" not in redact_text(text)
    assert may_hold_secret(text)
    attrs = {"note": text}
    assert redact_attributes(attrs) != attrs
    assert json_may_hold_secret(to_json(attrs))


@pytest.mark.parametrize(
    ("statement", "scrubbed"),
    [
        ("SELECT 1 WHERE a = 'it\\'s pw-1' AND b = c", "SELECT ? WHERE a = '?' AND b = c"),
        ("SELECT 1 WHERE a = 'pw-2\\'' AND b = 'x'", "SELECT ? WHERE a = '?' AND b = '?'"),
        ("SELECT 1 WHERE a = 'pw-3''' AND b = c", "SELECT ? WHERE a = '?' AND b = c"),
        ("SELECT 1 WHERE a = '' AND b = 'pw-4'", "SELECT ? WHERE a = '?' AND b = '?'"),
        ("'pw-5' AS note", "'?' AS note"),
    ],
)
def test_a_statement_literal_is_scrubbed_at_exactly_its_bounds(
    statement: str, scrubbed: str
) -> None:
    """Escaped and doubled quotes stay inside the literal, an empty one ends at once, one at
    the very start is a literal too: nothing of the secret leaks, nothing after it is lost."""
    assert scrub_statement(statement) == scrubbed


@pytest.mark.parametrize(
    ("document", "scrubbed"),
    [
        ('query { f(a: """pw-1 "quoted" x""") { id } }', 'query { f(a: "?") { id } }'),
        ('query { f(a: """a""pw-2""", b: 1) }', 'query { f(a: "?", b: ?) }'),
        ('query { f(a: """""", b: "pw-3") }', 'query { f(a: "?", b: "?") }'),
        ('query { f(a: """""a pw-4""", b: c) }', 'query { f(a: "?", b: c) }'),
        ('query { f(a: "", b: "pw-5") { id } }', 'query { f(a: "?", b: "?") { id } }'),
        ('query { f(a: """pw-6', 'query { f(a: "?"'),
        ('"pw-7" query { id }', '"?" query { id }'),
    ],
)
def test_a_graphql_literal_is_scrubbed_at_exactly_its_bounds(document: str, scrubbed: str) -> None:
    """Block strings end at three quotes (not two, not the opening ones), an empty string or
    block ends at once, an unterminated block runs to the end."""
    assert scrub_graphql(document) == scrubbed


def test_a_graphql_document_is_scrubbed_for_its_key() -> None:
    """The span builder skips the attributes of a span whose keys are not scrubbed and whose
    JSON looks clean: a document with only numbers in it looks clean."""
    attrs = {"graphql.document": "query { user(id: 4711) { name } }"}
    assert not json_may_hold_secret(to_json(attrs))
    assert scrubbed_key("graphql.document")
    assert redact_attributes(attrs) == {"graphql.document": "query { user(id: ?) { name } }"}


def test_deeply_nested_json_does_not_raise() -> None:
    """Too deep for json (RecursionError): taken as not JSON, never an exception in the
    traced service."""
    deep = "[" * 100_000 + "]" * 100_000
    assert redact_value("db.statement", deep) == deep  # no literal in it
    assert redact_value("graphql.variables", deep) == REDACTED


def test_the_cache_of_secret_keys_holds_100_000_keys_and_no_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(redact, "_secret_keys", {})
    for i in range(100_010):
        assert is_secret_key(f"k{i}.token") and not is_secret_key(f"k{i}.n")
        assert len(redact._secret_keys) <= 100_000
    assert len(redact._secret_keys) == 100_000


def test_the_cache_of_span_names_holds_10_000_names_and_no_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(redact, "_names", {})
    most = 0
    for i in range(10_010):
        assert redact_name(f"GET /x?token=pw-{i}") == f"GET /x?token={REDACTED}"
        most = max(most, len(redact._names))
    assert most == 10_000
