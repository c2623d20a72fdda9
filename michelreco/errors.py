"""Exceptions raised on bad input: the command line turns them into one-line messages."""

__all__ = ["MichelrecoError", "InputError"]


class MichelrecoError(Exception):
    """Base class of the errors michelreco reports to the user without a traceback."""


class InputError(MichelrecoError):
    """An input file, dataset, row or option is not what the challenge format requires."""
