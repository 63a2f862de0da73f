"""Secrets out of span data, by value as well as by key: the one rule for everything that
leaves a traced process or reaches a file (the store, the spool, the tee, an owner).

What is redacted (docs/schema.md lists it for users):

- the whole value of an attribute whose key names a secret (authorization, cookie, token,
  secret, password, api key, credential, signature, session key, private or access key, a
  header such as ``x-auth``), numbers too (a PIN), booleans not; token counts (``tokens``,
  ``token_count``) name no secret;
- anywhere in any string (attribute values, inside arrays and nested maps, span names, status
  messages, event names): ``user:password@`` in URLs, the values of query parameters with
  secret-looking names, JSON Web Tokens, ``Bearer``/``Basic`` credentials, ``password=...``
  and quoted ``"password": "..."`` pairs, AWS access key ids;
- the literal values of statements and GraphQL: ``db.statement`` / ``db.query.text`` (quoted
  strings and numbers; every value of a JSON statement), ``graphql.document`` (strings and
  numbers), ``graphql.variables`` (every value), ``db.*.parameter.*`` (whole).

It is built for the hot path: `may_hold_secret` / `json_may_hold_secret` (a few substring
tests over a string, or over a span's attribute JSON) prove the common span clean, and only the
rare one takes the slow path; keys are judged once per key set by the caller (`scrubbed_key`).
Every expression is bounded, so the time stays linear in the text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

REDACTED = "REDACTED"
LITERAL = "?"

_WORDS = (
    r"authoriz|authentic|cookie|token(?!s|[-_.]?counts?)|secret|passw|pwd|api[-_.]?key|apikey|credential"
    r"|creds?(?![a-z])|signature|session[-_.]?(?:key|token|secret)|private[-_.]?key"
    r"|access[-_.]?key|security[-_.]?token"
)
_SECRET_KEY = re.compile(rf"(?i)(?:{_WORDS}|(?:^|[^a-z])auth(?:$|[^a-z]))")

STATEMENT_KEYS = frozenset({"db.statement", "db.query.text"})
GRAPHQL_DOCUMENT_KEYS = frozenset({"graphql.document"})
GRAPHQL_VARIABLES_KEYS = frozenset({"graphql.variables"})
_PARAMETER_KEY = re.compile(r"^db\.(?:operation|query)\.parameter\.")

# The rules that rewrite text. Every repeat is bounded: linear time on hostile input.
_STOP = r"\s\"'<>\\"
# Starts with a literal, which the regex engine looks for quickly. The user info runs to the
# authority's last @ (a password may hold an unescaped one); each scan ends at the next /.
_USERINFO = re.compile(rf"://[^/?#{_STOP}]{{1,512}}@")
_PARAM_WORDS = r"token|key|secret|passw|pwd|sig|auth|credential|code|session"
_QUERY_PARAM = re.compile(
    rf"(?i)((?:^|[?&;#])[^=&#?{_STOP}]{{0,64}}?(?:{_PARAM_WORDS})[^=&#{_STOP}]{{0,64}}=)"
    rf"[^&#{_STOP}]*"
)
# Only at the start of a run of token characters, and possessive: each run is read once.
_JWT = re.compile(
    r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}+\.eyJ[A-Za-z0-9_-]{4,}+\.[A-Za-z0-9_-]*+"
)
_BEARER = re.compile(r"([Bb]earer)\s+[A-Za-z0-9._~+/=-]{4,}+|([Bb]asic)\s+[A-Za-z0-9+/]{6,}+={0,2}")
_KV_WORDS = (
    r"password|passwd|pwd|secret|api[-_]?key|access[-_]?key|private[-_]?key|auth[-_]?token"
    r"|access[-_]?token|refresh[-_]?token|id[-_]?token|token|credentials?"
)
# password=..., "password": "...", 'password': '...' (a bare "password: x" is not caught).
_KEY_VALUE = re.compile(
    rf"(?i)((?<![A-Za-z])(?:{_KV_WORDS})\w{{0,30}}(?:\s{{0,3}}=|[\"']\s{{0,3}}[=:])\s{{0,3}})"
    r"(\"[^\"]{0,512}\"|'[^']{0,512}'|[^\s,;&\"'}\])]{1,512})"
)
_AWS_KEY_ID = re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])")


# Every query parameter or key=value pair the rules redact has one of these words before its
# "=" (the name, at most 130 characters back): a "=" with none of them is no secret's.
_EQUALS_WORDS = ("token", "key", "secret", "passw", "pwd", "sig", "auth", "credential", "code",
                 "session")  # fmt: skip
_EQUALS_REACH = 140


def _suspicious_equals(text: str) -> bool:
    i = text.find("=")
    while i >= 0:
        window = text[max(0, i - _EQUALS_REACH) : i]
        # A name never spans a quote (a quoted one is caught by the quote test).
        window = window[window.rfind('"') + 1 :].lower()
        for word in _EQUALS_WORDS:
            if word in window:
                return True
        i = text.find("=", i + 1)
    return False


def may_hold_secret(text: str) -> bool:
    """False when no rule of `redact_text` can change text: a few substring tests, which
    every match of every rule contains one of (quicker than any regular expression)."""
    return (
        "eyJ" in text
        or "earer" in text
        or "asic" in text
        or "AKIA" in text
        or "ASIA" in text
        or '"' in text
        or "'" in text
        or ("@" in text and "://" in text)
        or ("=" in text and _suspicious_equals(text))
    )


def json_may_hold_secret(text: str) -> bool:
    """The same for the JSON of attributes: also true when a value is a map (its keys may name
    secrets). Quotes inside values are escaped there (\\"), apostrophes are not."""
    return (
        "eyJ" in text
        or "earer" in text
        or "asic" in text
        or "AKIA" in text
        or "ASIA" in text
        or '\\"' in text
        or "'" in text
        or ":{" in text
        or "[{" in text
        or ",{" in text
        or ("@" in text and "://" in text)
        or ("=" in text and _suspicious_equals(text))
    )


_secret_keys: dict[str, bool] = {}


def is_secret_key(key: str) -> bool:
    """Whether an attribute key names a secret (our own ``seamscope.*`` keys never do)."""
    known = _secret_keys.get(key)
    if known is None:
        known = bool(_SECRET_KEY.search(key)) and not key.startswith("seamscope.")
        if len(_secret_keys) < 100_000:
            _secret_keys[key] = known
    return known


def scrubbed_key(key: str) -> bool:
    """Whether an attribute's value is rewritten for its key alone (secret, statement,
    GraphQL, parameter): decided once per key set by the span builder."""
    return (
        is_secret_key(key)
        or key in STATEMENT_KEYS
        or key in GRAPHQL_DOCUMENT_KEYS
        or key in GRAPHQL_VARIABLES_KEYS
        or bool(_PARAMETER_KEY.match(key))
    )


def _quoted_value(match: re.Match[str]) -> str:
    value = match.group(2)
    if value[:1] in "\"'":
        return f"{match.group(1)}{value[0]}{REDACTED}{value[0]}"
    return match.group(1) + REDACTED


def _bearer(match: re.Match[str]) -> str:
    return f"{match.group(1) or match.group(2)} {REDACTED}"


_names: dict[str, str] = {}


def redact_name(name: str) -> str:
    """redact_text for span names, which repeat: remembered (up to a bound)."""
    known = _names.get(name)
    if known is None:
        known = redact_text(name)
        if len(_names) >= 10_000:
            _names.clear()
        _names[name] = known
    return known


def redact_text(text: str) -> str:
    """text with every secret the rules find replaced by REDACTED."""
    if not may_hold_secret(text):
        return text
    # Each rule only where its anchor is.
    if "@" in text:
        text = _USERINFO.sub(f"://{REDACTED}@", text)
    if "=" in text:
        text = _QUERY_PARAM.sub(rf"\g<1>{REDACTED}", text)
    if "eyJ" in text:
        text = _JWT.sub(REDACTED, text)
    if "earer" in text or "asic" in text:
        text = _BEARER.sub(_bearer, text)
    if "=" in text or '"' in text or "'" in text:
        text = _KEY_VALUE.sub(_quoted_value, text)
    if "AKIA" in text or "ASIA" in text:
        text = _AWS_KEY_ID.sub(REDACTED, text)
    return text


def redact_url(url: str) -> str:
    """Drops user:password@ and the values of query parameters that look like secrets."""
    return redact_text(url)


_NUMBER = re.compile(r"(?<![\w$.])-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.])")


_QUOTE_OR_ESCAPE = {q: re.compile(rf"[\\{q}]") for q in "'\""}


def _closing(text: str, quote: str, start: int, doubled: bool) -> int:
    """Where the string opened just before start ends (its closing quote), or len(text)."""
    find = _QUOTE_OR_ESCAPE[quote].search
    pos = start
    while True:
        match = find(text, pos)
        if match is None:
            return len(text)
        at = match.start()
        if text[at] == "\\":
            pos = at + 2
        elif doubled and text.startswith(quote * 2, at):
            pos = at + 2
        else:
            return at


def _scrub_quoted(text: str, quote: str, *, block: bool = False) -> str:
    """Replaces the contents of every string quoted with quote by LITERAL, in one linear scan
    (a backslash escapes; SQL doubles the quote instead, GraphQL has triple-quoted blocks)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        j = text.find(quote, i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        out.append(f"{quote}{LITERAL}{quote}")
        if block and text.startswith(quote * 3, j):
            end = text.find(quote * 3, j + 3)
            i = n if end < 0 else end + 3
        else:
            i = _closing(text, quote, j + 1, doubled=not block) + 1
    return "".join(out)


def _scrub_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scrub_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_json(v) for v in value]
    return None if value is None else LITERAL


def _json_literals(text: str) -> str | None:
    """A JSON document with every value replaced (keys kept), or None when it is not JSON."""
    stripped = text.lstrip()
    if not stripped.startswith(("{", "[")):
        return None
    try:
        return json.dumps(_scrub_json(json.loads(text)), separators=(",", ":"))
    except (ValueError, RecursionError):
        return None


def scrub_statement(text: str) -> str:
    """A database statement without its literal values: every value of a JSON statement, or
    the quoted strings and numbers of SQL (identifiers in double quotes stay)."""
    as_json = _json_literals(text)
    if as_json is not None:
        return as_json
    return _NUMBER.sub(LITERAL, _scrub_quoted(redact_text(text), "'"))


def scrub_graphql(text: str) -> str:
    """A GraphQL document without its string and number literals (names stay)."""
    return _NUMBER.sub(LITERAL, _scrub_quoted(redact_text(text), '"', block=True))


def scrub_variables(text: str) -> str:
    """GraphQL variables (JSON) without their values; REDACTED when they are not JSON."""
    as_json = _json_literals(text)
    return REDACTED if as_json is None else as_json


def _by_key(key: str, value: str) -> str | None:
    if key in STATEMENT_KEYS:
        return scrub_statement(value)
    if key in GRAPHQL_DOCUMENT_KEYS:
        return scrub_graphql(value)
    if key in GRAPHQL_VARIABLES_KEYS:
        return scrub_variables(value)
    return None


def redact_value(key: str, value: Any) -> Any:
    """value (of any attribute type, nested arrays and maps too) with its secrets redacted;
    the same object when there is nothing to redact."""
    if value is None or value.__class__ is bool:
        return value
    if value.__class__ in (int, float):
        # A PIN or a numeric password is a secret too; counts ("tokens") never match the key.
        return REDACTED if is_secret_key(key) or _PARAMETER_KEY.match(key) else value
    if is_secret_key(key) or _PARAMETER_KEY.match(key):
        if isinstance(value, (list, tuple)):
            return [redact_value(key, v) for v in value]
        return REDACTED
    if isinstance(value, str):
        scrubbed = _by_key(key, value)
        return redact_text(value) if scrubbed is None else scrubbed
    if isinstance(value, (list, tuple)):
        items = [redact_value(key, v) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    if isinstance(value, Mapping):
        inner = {k: redact_value(str(k), v) for k, v in value.items()}
        return value if all(inner[k] is v for k, v in value.items()) else inner
    return value


def redact_attributes(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of attrs with every secret redacted (see the module's docstring)."""
    return {k: redact_value(k, v) for k, v in attrs.items()}
