"""The GraphQL operation of a request: one scanner over the document, no parser.

A GraphQL-over-HTTP request names its operation in the document (``query Orders { ... }``) and,
with several operations, in ``operationName``. The scanner reads the brackets and names of the
document, skipping strings and comments, and looks only at top-level definitions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from seamscope.tracer.hooks.common import MAX_BODY, Attrs

GRAPHQL_NAME = "graphql.operation.name"
GRAPHQL_TYPE = "graphql.operation.type"

_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")
_OPERATION_TYPES = ("query", "mutation", "subscription")
_IGNORED = frozenset(" \t\r\n,")


def _tokens(document: str) -> Iterator[str]:
    """The names and punctuation of a document, in order, without its strings, comments,
    white space and commas (the first MAX_BODY characters)."""
    i, n = 0, min(len(document), MAX_BODY)
    while i < n:
        c = document[i]
        if c == "#":
            end = document.find("\n", i, n)
            i = n if end < 0 else end + 1
        elif c == '"':
            if document.startswith('"""', i):
                end = document.find('"""', i + 3, n)
                i = n if end < 0 else end + 3
            else:
                i += 1
                while i < n and document[i] != '"':
                    i += 2 if document[i] == "\\" else 1
                i += 1
        elif match := _NAME.match(document, i, n):
            yield match.group()
            i = match.end()
        else:
            if c not in _IGNORED:
                yield c
            i += 1


def _skip_definition(tokens: Iterator[str], token: str | None) -> bool:
    """Consumes a definition up to the end of its selection set (token: its next one);
    False when the document ends first."""
    parens = 0
    while token is not None and (token != "{" or parens):
        if token == "(":
            parens += 1
        elif token == ")":
            parens = max(parens - 1, 0)
        token = next(tokens, None)
    if token is None:
        return False
    depth = 1
    for token in tokens:
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
            if depth == 0:
                return True
    return False


def graphql_operation(
    document: str, operation_name: str | None = None
) -> tuple[str, str | None] | None:
    """(type, name) of the operation a GraphQL document runs, or None if it has none.

    With several operations, operation_name picks one (as the server would).
    """
    found: list[tuple[str, str | None]] = []
    tokens = _tokens(document)
    depth = 0
    for token in tokens:
        if token in ("{", "("):
            if token == "{" and depth == 0:
                found.append(("query", None))  # the shorthand: a selection set alone
            depth += 1
        elif token in ("}", ")"):
            depth = max(depth - 1, 0)
        elif depth == 0 and token in _OPERATION_TYPES:
            following = next(tokens, None)
            named = following is not None and _NAME.match(following) is not None
            found.append((token, following if named else None))
            if not _skip_definition(tokens, next(tokens, None) if named else following):
                break
        elif depth == 0 and token == "fragment":
            if not _skip_definition(tokens, next(tokens, None)):
                break
    if not found:
        return None
    if operation_name:
        for op_type, name in found:
            if name == operation_name:
                return op_type, name
    return found[0]


def graphql_attributes(payload: Any) -> Attrs:
    """graphql.operation.* from a decoded GraphQL-over-HTTP request ({"query", "operationName"})."""
    if isinstance(payload, list) and payload:
        payload = payload[0]
    if not isinstance(payload, Mapping):
        return {}
    query = payload.get("query")
    if not isinstance(query, str):
        return {}
    name = payload.get("operationName")
    op = graphql_operation(query, name if isinstance(name, str) else None)
    if op is None:
        return {}
    attrs: Attrs = {GRAPHQL_TYPE: op[0]}
    if isinstance(name, str) and name:
        attrs[GRAPHQL_NAME] = name
    elif op[1]:
        attrs[GRAPHQL_NAME] = op[1]
    return attrs
