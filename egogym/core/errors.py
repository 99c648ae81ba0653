"""Errors a user can fix.

`UserError` is the one exception class every layer raises for bad input (a flag, a file,
a key, a config value): the command line prints it as one line naming the thing and the
fix, and exits with code 2. It lives in the core so that every layer can raise it without
importing the command line (and so that `python -m egogym.cli` catches the same class).
"""
from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""
