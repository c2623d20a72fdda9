"""``find-michels`` (also ``michelreco find``): a whole events file to a solution file; ``--demo``."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from michelreco.cli.common import (EXIT_EVENTS_FAILED, add_force_argument, add_quiet_argument,
                                   add_selection_arguments, add_workers_argument, finder_params, nonnegative_int,
                                   plural, positive_int)
from michelreco.cli.score import print_scores
from michelreco.errors import MichelrecoError

if TYPE_CHECKING:
    from michelreco.run.parallel import RunSummary

__all__ = ["add_find_arguments", "run_find", "register"]


class _HelpParams(argparse.Action):
    """``--help-params``: print the schema's parameter table and exit, like ``--help``."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        from michelreco.reco.schema import parameter_table

        print(parameter_table())
        parser.exit()


def add_find_arguments(p: argparse.ArgumentParser) -> None:
    """Add the arguments of ``find-michels`` (and ``michelreco find``) to ``p``."""
    p.add_argument("input", nargs="?", help="challenge events file (*_xyze_*.h5, dataset 'data')")
    p.add_argument("-o", "--output", help="solution file to write (HDF5, one row of Michel voxel indices per event)")
    add_workers_argument(p)
    p.add_argument("--config", help="finder parameters, a JSON or YAML mapping (e.g. a sweep's best.yaml)")
    add_selection_arguments(p)
    p.add_argument("--help-params", action=_HelpParams,
                   help="list every finder parameter (for --config) with default, unit, range and meaning, and exit")
    p.add_argument("--start", type=nonnegative_int, default=0, metavar="I",
                   help="first event to process (default 0); the solution then holds events I.. and records I, "
                        "which 'michelreco score' reads")
    p.add_argument("--stop", type=nonnegative_int, default=None, metavar="J",
                   help="stop before this event (default: end of file)")
    add_force_argument(p, "output files (and discard the parts of an interrupted run)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from its checkpointed parts (OUTPUT.parts)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on a Dask cluster through its scheduler (tcp://HOST:PORT) instead of local processes")
    p.add_argument("--chunk", type=positive_int, default=500,
                   help="events per task and per checkpoint (default 500)")
    p.add_argument("--dataset-name", default="solution", help="name of the solution dataset (default: solution)")
    add_quiet_argument(p)
    p.add_argument("--explain", metavar="JSONL",
                   help="also write every Michel candidate (features, rule verdicts, decision) as JSON lines")
    p.add_argument("--demo", action="store_true",
                   help="simulate a small sample in a temporary directory, run the finder on it and score it")
    p.add_argument("--demo-events", type=positive_int, default=200, metavar="N",
                   help="events in the --demo sample (default 200)")


def summary_line(summary: RunSummary, output: str | os.PathLike) -> str:
    """The one line that ends a successful run: events, Michel voxels found, time, rate (after any compiling),
    output."""
    from michelreco.run.parallel import COMPILE_NOTICE_S

    failed = f", {plural(len(summary.failures), 'event')} failed" if summary.failures else ""
    compiled = (f" after {summary.warm_up_seconds:.0f} s of compiling" if summary.warm_up_seconds > COMPILE_NOTICE_S
                else "")
    return (f"{plural(summary.events, 'event')}: Michel voxels found in {summary.michel_events} "
            f"({summary.michel_voxels:,} voxels){failed}; {summary.seconds:.1f} s, "
            f"{summary.events_per_s:,.0f} events/s{compiled}; wrote {output}")


def run_find(args: argparse.Namespace) -> int:
    """Run ``find-michels`` on parsed arguments; the exit status (3 when some events failed)."""
    from michelreco.run.parallel import dask_executor, errors_log_path, run_file

    params = finder_params(args.config, args.model, args.rules, note=not args.quiet)
    if args.demo:
        return _run_demo(args, params)
    if not args.input or not args.output:
        raise MichelrecoError("give an INPUT file and -o OUTPUT (or --demo); see --help")
    try:
        with dask_executor(args.scheduler) if args.scheduler else contextlib.nullcontext((None, args.workers)) as (
                executor, workers):
            summary = run_file(args.input, args.output, params, workers=workers, executor=executor,
                               start=args.start, stop=args.stop, force=args.force, resume=args.resume,
                               chunk=args.chunk, progress=not args.quiet, output_dataset=args.dataset_name,
                               explain_path=args.explain, inputs=[x for x in (args.config, args.model) if x])
    except KeyboardInterrupt:
        parts = Path(str(args.output) + ".parts")
        if parts.is_dir():
            print(f"finished ranges kept in {parts}: rerun the same command with --resume to continue",
                  file=sys.stderr)
        raise
    print(summary_line(summary, args.output))
    if summary.failures:
        print(f"{plural(len(summary.failures), 'event')} failed and got empty rows; see "
              f"{errors_log_path(args.output)}", file=sys.stderr)
        return EXIT_EVENTS_FAILED
    return 0


def _run_demo(args: argparse.Namespace, params: dict) -> int:
    """``--demo``: simulate a small sample in a temporary folder, find its Michels and print the scores."""
    from michelreco.analysis.metrics import score_files
    from michelreco.run.parallel import run_file
    from michelreco.sim.generate import simulate_file

    with tempfile.TemporaryDirectory(prefix="michelreco-demo-") as tmp:
        prefix = Path(tmp) / "demo"
        print(f"simulating {args.demo_events} events in {tmp} ...", file=sys.stderr)
        paths = simulate_file(prefix, args.demo_events, seed=2025, workers=args.workers, progress=not args.quiet)
        solution = Path(tmp) / "demo_solution.h5"
        print("finding Michels ...", file=sys.stderr)
        summary = run_file(paths.xyze, solution, params, workers=args.workers, progress=not args.quiet)
        print(summary_line(summary, "a temporary solution file"), file=sys.stderr)
        table = score_files(solution, paths.labels)
    print_scores(table, f"demo: {args.demo_events} simulated events (seed 2025), the finder's solution "
                        f"against the simulator's labels")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the subcommand parser(s) of this module to ``sub``."""
    p = sub.add_parser("find", help="find Michel voxels in an events file (same as find-michels)",
                       description="Find Michel voxels in an events file.")
    add_find_arguments(p)
    p.set_defaults(run=run_find)
