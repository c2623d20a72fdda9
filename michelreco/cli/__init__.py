"""Command-line entry points: ``find-michels``, ``sweep-params`` and ``michelreco COMMAND``.

One module per command family registers its subcommand parser(s); errors in the input end a command with one
line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from michelreco import __version__
from michelreco.cli import bench, display, find, score, sim, spectrum, sweep
from michelreco.cli.common import EXIT_EVENTS_FAILED, EXIT_INPUT_ERROR, EXIT_INTERRUPTED
from michelreco.errors import MichelrecoError

__all__ = ["main", "find_michels_main", "sweep_params_main", "EXIT_INPUT_ERROR", "EXIT_EVENTS_FAILED",
           "EXIT_INTERRUPTED"]


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="michelreco", description="Classical Michel-electron finder for voxelized liquid-argon events.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (find, score, bench, sweep, spectrum, display, sim):
        module.register(sub)
    return parser


def _dispatch(parser: argparse.ArgumentParser, argv) -> int:
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (MichelrecoError, OSError) as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def main(argv=None) -> int:
    """``michelreco COMMAND ...``"""
    return _dispatch(_build_parser(), argv)


def find_michels_main(argv=None) -> int:
    """``find-michels INPUT -o OUTPUT ...``"""
    parser = argparse.ArgumentParser(
        prog="find-michels",
        description="Find Michel-electron voxels in a challenge events file and write a solution file.",
        epilog="Example: find-michels challenge_xyze_1e6.h5 -o solution.h5 --workers 8.  "
               "Quick look: find-michels --demo")
    find.add_find_arguments(parser)
    parser.set_defaults(run=find.run_find)
    return _dispatch(parser, argv)


def sweep_params_main(argv=None) -> int:
    """``sweep-params TRAIN_XYZE TRAIN_LABELS --grid GRID --out DIR``"""
    parser = argparse.ArgumentParser(prog="sweep-params", description="Tune MichelFinder parameters against labels.")
    sweep.add_sweep_arguments(parser)
    parser.set_defaults(run=sweep.run_sweep_command)
    return _dispatch(parser, argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
