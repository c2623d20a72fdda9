"""What every command shares: exit codes, one-line errors, option types and options spelled the same way
everywhere, the default worker count, finder parameters from a config file, labels found from events."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import NoReturn

from michelreco.errors import InputError, MichelrecoError

__all__ = ["EXIT_INPUT_ERROR", "EXIT_EVENTS_FAILED", "EXIT_INTERRUPTED", "EXIT_TERMINATED", "EXIT_OUTPUT_CLOSED",
           "OneLineParser", "stdout_reader_gone", "silence_stdout",
           "positive_int", "nonnegative_int", "positive_float", "default_workers", "finder_params",
           "add_workers_argument", "add_force_argument", "add_quiet_argument", "plural", "labels_or_guess",
           "add_selection_arguments"]

EXIT_INPUT_ERROR = 2
EXIT_EVENTS_FAILED = 3
EXIT_INTERRUPTED = 130        # 128 + SIGINT
EXIT_TERMINATED = 143         # 128 + SIGTERM
EXIT_OUTPUT_CLOSED = 141      # 128 + SIGPIPE: the reader of the standard output went away (``| head``)


def stdout_reader_gone() -> bool:
    """Whether the standard output is a pipe whose reader has closed it (a poll reports an error on it)."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):   # no poll on this platform, or no real stdout
        return False


def silence_stdout() -> None:
    """Point the standard output at the null device, so that the interpreter's last flush has nowhere to fail."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, sys.stdout.fileno())
    os.close(null)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line (``PROG: error: ...; see PROG --help``), exit 2."""

    def error(self, message: str) -> NoReturn:
        """Print one line and exit with status 2."""
        self.exit(EXIT_INPUT_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _integer(text: str) -> int:
    """An integer option value, or an argparse error in plain words."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def nonnegative_int(text: str) -> int:
    """argparse type: a whole number >= 0."""
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def default_workers() -> int:
    """How many cores may this process use?"""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 worker``, ``2 workers``."""
    return f"{n} {word if n == 1 else (words or word + 's')}"


def add_workers_argument(p: argparse.ArgumentParser, what: str = "worker processes") -> None:
    """``--workers N`` (at least 1; default: the cores this process may use), the same in every command."""
    p.add_argument("--workers", type=positive_int, default=default_workers(), metavar="N",
                   help=f"{what} (at least 1; default: all cores, %(default)s here)")


def add_force_argument(p: argparse.ArgumentParser, what: str = "outputs") -> None:
    """``--force``: replace existing outputs (never an input), the same in every command."""
    p.add_argument("--force", action="store_true",
                   help=f"replace existing {what} (an input is never replaced, even with --force)")


def add_quiet_argument(p: argparse.ArgumentParser) -> None:
    """``--quiet``: no progress bar nor notices on stderr."""
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def add_selection_arguments(p: argparse.ArgumentParser) -> None:
    """``--model FILE`` and ``--rules``: how the finder chooses among its candidates."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("--model", metavar="FILE",
                       help="choose candidates with this model (from 'michelreco train'; default: the model shipped "
                            "with the package)")
    group.add_argument("--rules", action="store_true",
                       help="choose candidates with the hand rules instead of a model (interpretable; see "
                            "--help-params for their thresholds)")


def finder_params(config_path: str | os.PathLike | None, model: str | os.PathLike | None = None,
                  rules: bool = False, note: bool = True) -> dict:
    """Finder parameters of a JSON/YAML file, checked by building a finder.

    Parameters
    ----------
    config_path : path-like or None
        The file (``None``: no parameters).
    model : path-like, optional
        A model file (``--model``): ``selection="model"`` with this model.
    rules : bool
        ``--rules``: ``selection="rules"`` (the hand rules); ignored when ``model`` is given.
    note : bool
        Say on stderr, in one line, which pipeline parameters differ from those the model was trained with
        (``MichelFinder.pipeline_differences``).

    Returns
    -------
    dict
        Parameter name -> value (``{}`` for none).

    Raises
    ------
    MichelrecoError
        One line naming the file and the parameter (unknown, wrong type, outside its range).
    """
    from michelreco.config import load_mapping
    from michelreco.reco.finder import MichelFinder
    from michelreco.reco.schema import TRAINING_PARAMETERS

    # a config may also hold training settings (a sweep's best.yaml): ``michelreco train`` reads them
    params = {} if config_path is None else {k: v for k, v in load_mapping(config_path).items()
                                             if k not in TRAINING_PARAMETERS}
    if model is not None:
        params.update(selection="model", model=str(model))
    elif rules:
        params["selection"] = "rules"
    if config_path is None:
        finder = MichelFinder(**params)          # a bad --model file: one line
    else:
        try:
            finder = MichelFinder(**params)      # validates names, types, ranges and the rule set
        except MichelrecoError as err:
            text = str(err)
            raise MichelrecoError(text if text.startswith(str(config_path)) else f"{config_path}: {text}") from None
    differences = finder.pipeline_differences() if note else []
    if differences:
        print(f"note: the model was trained with {', '.join(differences)}: its candidates differ from those it "
              "learned from; train one with these parameters (michelreco train --config)", file=sys.stderr)
    return params


def labels_or_guess(xyze: str | os.PathLike, labels: str | os.PathLike | None) -> Path:
    """The label file given, or the one named after the events file when none is given.

    The README's rule: ``*_xyze_*`` becomes ``*_label_*`` (``sample_xyze.h5`` -> ``sample_label.h5``). The
    label file found is named on stderr.

    Parameters
    ----------
    xyze : path-like
        The events file.
    labels : path-like or None
        The label file given on the command line.

    Returns
    -------
    pathlib.Path
        The label file.

    Raises
    ------
    InputError
        When none is given and the rule finds no file.
    """
    from michelreco.run.io import label_path_for

    if labels is not None:
        return Path(labels)
    try:
        guess = label_path_for(xyze)
    except InputError:
        raise InputError(f"{xyze}: give the LABELS file (it cannot be found from this name: the README's rule "
                         f"replaces '_xyze_' with '_label_')") from None
    if not guess.exists():
        raise InputError(f"{guess}: no such file (the labels of {xyze}, found by replacing '_xyze' with "
                         f"'_label'); give LABELS")
    print(f"labels: {guess}", file=sys.stderr)
    return guess
