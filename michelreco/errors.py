"""Exceptions raised on bad input: the command line turns them into one-line messages."""

__all__ = ["MichelrecoError", "InputError", "EventInputError", "DuplicateVoxelsError"]


class MichelrecoError(Exception):
    """Base class of the errors michelreco reports to the user without a traceback."""


class InputError(MichelrecoError):
    """An input file, dataset, row or option is not what the challenge format requires."""


class EventInputError(InputError):
    """An event's voxels are not a valid event (found by the finder's own check); ``reason`` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class DuplicateVoxelsError(Exception):
    """Raised by the compiled canonical sort when two voxels share a place (the finder says which)."""
