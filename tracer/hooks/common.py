"""What every hook shares: it never raises into the service, sets attributes only on a recording
span, and runs before the caller's own hook of the same kind."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, cast

_log = logging.getLogger("seamscope.tracer.hooks")

MAX_BODY = 64 * 1024
"""Longest text a hook reads (a message body, a GraphQL document)."""
MAX_ENTRIES = 100
"""Most entries (events put, messages received) a hook looks at per call."""

Attrs = dict[str, str | list[str]]
F = TypeVar("F", bound=Callable[..., Any])


def guarded(fn: F) -> F:
    """Runs fn, swallowing (and logging at debug level) anything it raises."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception:  # noqa: BLE001 - a hook must never break the service's call
            _log.debug("seamscope hook %s failed", fn.__name__, exc_info=True)
            return None

    return cast(F, wrapper)


def record(span: Any, attrs: Attrs) -> None:
    """Sets attrs on span if it records."""
    if attrs and span is not None and span.is_recording():
        span.set_attributes(attrs)


def span_attributes(span: Any) -> Mapping[str, Any]:
    """The attributes span carries so far (empty for anything that is no SDK span)."""
    attrs = getattr(span, "attributes", None)
    return attrs if isinstance(attrs, Mapping) else {}


def chain(ours: Callable[..., Any], theirs: Any) -> Callable[..., Any]:
    """A sync hook that runs ours (guarded) and then the caller's own hook, if any."""
    if not callable(theirs):
        return ours

    def chained(*args: Any) -> Any:
        ours(*args)
        return theirs(*args)

    return chained


def chain_async(ours: Callable[..., Awaitable[None]], theirs: Any) -> Callable[..., Awaitable[Any]]:
    """An async hook that awaits ours and then the caller's own hook (sync or async)."""
    if not callable(theirs):
        return ours

    async def chained(*args: Any) -> Any:
        await ours(*args)
        result = theirs(*args)
        if inspect.isawaitable(result):
            return await result
        return result

    return chained
