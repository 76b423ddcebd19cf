"""The one error a user can fix. Entry points print a :class:`UserError` as one ``error:``
line and exit 2; every other exception is a bug and keeps its traceback."""

from __future__ import annotations


class UserError(Exception):
    """A mistake the user can fix: a bad path, a bad parameter, an unreadable input file."""


class MissingInputError(UserError, FileNotFoundError):
    """A file or folder the user named (or a stage needs from an earlier one) is not there."""


class BadInputError(UserError, ValueError):
    """An input or an argument is present but unusable (the message says why)."""
