"""The one exception type for problems a user can act on."""

from __future__ import annotations


class SeamscopeError(Exception):
    """A user mistake or an environment problem. The message says what and where, in one line.

    The command line prints it without a traceback and exits with status 2.
    """
