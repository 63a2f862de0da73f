"""The httpx hooks: the GraphQL operation of an outgoing request, from its body or query string.

Only bodies already in memory are read; a streamed body is never consumed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, cast
from urllib.parse import parse_qs

from seamscope.tracer.hooks.common import MAX_BODY, Attrs, guarded, record
from seamscope.tracer.hooks.graphql import (
    GRAPHQL_NAME,
    GRAPHQL_TYPE,
    graphql_attributes,
    graphql_operation,
)


def _request_body(stream: Any) -> bytes | None:
    """The body of an httpx request if held in memory and small (never consumes a stream)."""
    try:
        import httpx
    except ImportError:  # pragma: no cover - the httpx hook only runs with httpx loaded
        return None
    if not isinstance(stream, httpx.ByteStream):
        return None
    # A ByteStream yields its one bytes object, again on every iteration: nothing is copied.
    for chunk in cast(Iterable[bytes], stream):
        return chunk if isinstance(chunk, bytes) and len(chunk) <= MAX_BODY else None
    return None


def _url_query(url: Any) -> str:
    raw = getattr(url, "query", None)
    if isinstance(raw, bytes):
        return raw.decode("latin-1")
    if isinstance(url, tuple) and len(url) == 4 and isinstance(url[3], bytes):
        _, _, query = url[3].partition(b"?")
        return query.decode("latin-1")
    return ""


def httpx_request_attributes(request: Any) -> Attrs:
    """GraphQL operation of an httpx request (RequestInfo), from its JSON body or query string."""
    method = getattr(request, "method", b"")
    if isinstance(method, bytes):
        method = method.decode("latin-1")
    if method == "POST":
        headers = getattr(request, "headers", None)
        content_type = ""
        if headers is not None:
            content_type = str(headers.get("content-type", "")).lower()
        if content_type and "json" not in content_type and "graphql" not in content_type:
            return {}
        body = _request_body(getattr(request, "stream", None))
        if not body or b"query" not in body:
            return {}
        if "application/graphql" in content_type:
            op = graphql_operation(body.decode("utf-8", "replace"))
            if op is None:
                return {}
            return {GRAPHQL_TYPE: op[0], **({GRAPHQL_NAME: op[1]} if op[1] else {})}
        return graphql_attributes(json.loads(body))
    if method == "GET":
        query = _url_query(getattr(request, "url", None))
        if "query=" not in query or len(query) > MAX_BODY:
            return {}
        params = parse_qs(query)
        payload = {k: v[0] for k, v in params.items() if k in ("query", "operationName")}
        return graphql_attributes(payload)
    return {}


@guarded
def httpx_request_hook(span: Any, request: Any) -> None:
    """httpx instrumentor request_hook (sync clients)."""
    record(span, httpx_request_attributes(request))


@guarded
def httpx_response_hook(span: Any, request: Any, response: Any) -> None:
    """httpx instrumentor response_hook: nothing to add yet; kept so chaining stays uniform."""


async def httpx_async_request_hook(span: Any, request: Any) -> None:
    """httpx instrumentor async_request_hook (reads only bodies already in memory)."""
    httpx_request_hook(span, request)


async def httpx_async_response_hook(span: Any, request: Any, response: Any) -> None:
    httpx_response_hook(span, request, response)
