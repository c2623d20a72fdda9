"""What every command shares: exit codes, the default worker count, finder parameters from a config file."""

from __future__ import annotations

import os

from michelreco.errors import MichelrecoError

__all__ = ["EXIT_INPUT_ERROR", "EXIT_EVENTS_FAILED", "EXIT_INTERRUPTED", "default_workers", "finder_params"]

EXIT_INPUT_ERROR = 2
EXIT_EVENTS_FAILED = 3
EXIT_INTERRUPTED = 130


def default_workers() -> int:
    """How many cores may this process use?"""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def finder_params(config_path) -> dict:
    """Finder parameters of a JSON/YAML file (``{}`` for none), checked by building a finder."""
    from michelreco.config import load_mapping
    from michelreco.reco.finder import MichelFinder

    if config_path is None:
        return {}
    params = load_mapping(config_path)
    try:
        MichelFinder(**params)          # validates names, types and the rule set
    except MichelrecoError as err:
        raise MichelrecoError(f"{config_path}: {err}") from None
    return params
