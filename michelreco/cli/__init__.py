"""Command-line entry points: ``find-michels``, ``sweep-params`` and ``michelreco COMMAND``.

One module per command family registers its subcommand parser(s). Every command ends the same way:

- 0 on success;
- 2 with one line on stderr for bad input or usage (``PROG: error: FILE: problem``), never a traceback;
- 3 when some events failed and got empty rows (``find-michels``, see ``SOLUTION.errors.log``);
- 130 on Ctrl-C and 143 on SIGTERM, after the same clean-up (finished parts kept, workers stopped);
- 141, quietly, when the reader of the standard output went away (``michelreco score ... | head``);
- 1 with one line for an internal error (``MICHELRECO_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from michelreco import __version__
from michelreco.cli import bench, diagnose, display, find, score, sim, spectrum, sweep, train
from michelreco.cli.common import (EXIT_EVENTS_FAILED, EXIT_INPUT_ERROR, EXIT_INTERRUPTED, EXIT_OUTPUT_CLOSED,
                                   EXIT_TERMINATED, OneLineParser, silence_stdout, stdout_reader_gone)
from michelreco.errors import MichelrecoError

__all__ = ["main", "find_michels_main", "sweep_params_main", "EXIT_INPUT_ERROR", "EXIT_EVENTS_FAILED",
           "EXIT_INTERRUPTED", "EXIT_TERMINATED"]


def _build_parser() -> argparse.ArgumentParser:
    """The ``michelreco`` parser with every command's subparser."""
    parser = OneLineParser(
        prog="michelreco", description="Classical Michel-electron finder for voxelized liquid-argon events.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (find, score, train, diagnose, bench, sweep, spectrum, display, sim):
        module.register(sub)
    return parser


def _dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse ``argv``, run the command, and turn every way it can end into its exit status."""
    from michelreco.run.outputs import os_error_message
    from michelreco.run.workers import Terminated, sigterm_as_interrupt

    args = parser.parse_args(argv)
    prog = parser.prog if getattr(args, "command", None) is None else f"{parser.prog} {args.command}"
    try:
        with sigterm_as_interrupt():
            return args.run(args)
    except MichelrecoError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except OSError as err:
        if isinstance(err, BrokenPipeError) and stdout_reader_gone():
            silence_stdout()             # ``| head`` read what it wanted: stop quietly, as Unix tools do
            return EXIT_OUTPUT_CLOSED
        print(f"{prog}: error: {os_error_message(err)}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except Terminated:
        print(f"{prog}: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # noqa: BLE001 - a user sees one line, a developer asks for the traceback
        if os.environ.get("MICHELRECO_DEBUG"):
            raise
        text = str(err).strip().splitlines()[0] if str(err).strip() else ""
        print(f"{prog}: internal error: {type(err).__name__}{': ' + text if text else ''} (please report it; "
              f"MICHELRECO_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """``michelreco COMMAND ...``"""
    return _dispatch(_build_parser(), argv)


def find_michels_main(argv: Sequence[str] | None = None) -> int:
    """``find-michels INPUT -o OUTPUT ...``"""
    parser = OneLineParser(
        prog="find-michels",
        description="Find Michel-electron voxels in a challenge events file and write a solution file.",
        epilog="Example: find-michels challenge_xyze_1e6.h5 -o solution.h5 --workers 8.  "
               "Quick look: find-michels --demo")
    find.add_find_arguments(parser)
    parser.set_defaults(run=find.run_find)
    return _dispatch(parser, argv)


def sweep_params_main(argv: Sequence[str] | None = None) -> int:
    """``sweep-params TRAIN_XYZE [TRAIN_LABELS] --grid GRID --out DIR``"""
    parser = OneLineParser(prog="sweep-params", description="Tune MichelFinder parameters against labels.")
    sweep.add_sweep_arguments(parser)
    parser.set_defaults(run=sweep.run_sweep_command)
    return _dispatch(parser, argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
