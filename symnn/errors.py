"""The one exception type for bad input: the CLI turns it into `symnn: error: ...` and exit 2."""

from __future__ import annotations


class UserInputError(ValueError):
    """Bad input from a user: the message names the problem and how to fix it, on one line."""
