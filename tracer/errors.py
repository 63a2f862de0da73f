"""The one exception type for problems a user can act on."""

from __future__ import annotations


class SeamscopeError(Exception):
    """A user mistake or an environment problem. The message says what and where, in one line.

    The command line prints it without a traceback and exits with status 2.
    """


def install_hint(extra: str) -> str:
    """How to install one of seamscope's extras. seamscope is installed from a clone (README):
    `pip install 'seamscope[extra]'` would ask PyPI, which has no seamscope."""
    return f"pip install './seamscope[{extra}]' (the path of your seamscope clone)"


def is_interrupt(exc: BaseException) -> bool:
    """Ctrl-C: a KeyboardInterrupt, or the RuntimeError("Query interrupted") DuckDB raises in its
    place when the SIGINT comes during a query (its handler takes the signal meanwhile)."""
    return isinstance(exc, KeyboardInterrupt) or (
        isinstance(exc, RuntimeError) and str(exc) == "Query interrupted"
    )
