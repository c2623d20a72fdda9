"""``michelreco sweep`` (also ``sweep-params``): tune the finder's parameters against labelled events."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from michelreco.cli.common import (add_force_argument, add_quiet_argument, add_workers_argument, labels_or_guess,
                                   nonnegative_int, positive_int)

__all__ = ["add_sweep_arguments", "run_sweep_command", "register"]


def _fraction(text: str) -> float:
    """argparse type: a number in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def add_sweep_arguments(p: argparse.ArgumentParser) -> None:
    """Add the arguments of ``sweep-params`` (and ``michelreco sweep``) to ``p``."""
    p.add_argument("xyze", help="training events file (*_xyze_*.h5)")
    p.add_argument("labels", nargs="?", default=None,
                   help="its labels (default: the events file's name with _xyze_ replaced by _label_)")
    p.add_argument("--grid", required=True,
                   help="JSON/YAML: parameter -> list of values, or {min: a, max: b}. Finder parameters "
                        "(find-michels --help-params), or training settings (max_iter, learning_rate, "
                        "max_leaf_nodes, min_samples_leaf, l2_regularization): then each set trains its own model "
                        "on the tuning events")
    p.add_argument("--out", required=True,
                   help="folder for results.csv, best.yaml, sweep.png, sweep.json (its parent must exist)")
    p.add_argument("--events", type=positive_int, default=None, metavar="N",
                   help="use the first N events (default: all)")
    p.add_argument("--validation-fraction", type=_fraction, default=0.3,
                   help="fraction of the events kept out of the choice, to show over-tuning (default 0.3)")
    p.add_argument("--random", type=positive_int, default=None, metavar="K",
                   help="draw K parameter sets instead of trying every combination (needed for ranges)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="seed of the split and of random draws (default 0)")
    add_workers_argument(p)
    add_force_argument(p, "results (and discard an interrupted sweep's parts)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted sweep from DIR.parts (same inputs, split, grid and draws)")
    add_quiet_argument(p)


def run_sweep_command(args: argparse.Namespace) -> int:
    """Run a sweep on parsed arguments and print its best set; the exit status."""
    from michelreco.run.sweep import run_sweep

    labels = labels_or_guess(args.xyze, args.labels)
    try:
        best = run_sweep(args.xyze, labels, args.grid, args.out, events=args.events,
                         validation_fraction=args.validation_fraction, random=args.random, workers=args.workers,
                         seed=args.seed, progress=not args.quiet, force=args.force, resume=args.resume)
    except KeyboardInterrupt:
        parts = Path(str(args.out) + ".parts")
        if parts.is_dir():
            print(f"finished sets kept in {parts}: rerun the same command with --resume to continue",
                  file=sys.stderr)
        raise
    print(f"best set {best['set']}: tuning F1 {float(best['tune_f1']):.4f}, "
          f"validation F1 {float(best['validation_f1']):.4f}; parameters in {args.out}/best.yaml")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the subcommand parser(s) of this module to ``sub``."""
    p = sub.add_parser("sweep", help="tune finder parameters against labelled events (same as sweep-params)",
                       description="Tune MichelFinder parameters against labelled events: DIR/results.csv, "
                                   "DIR/best.yaml (usable as find-michels --config), DIR/sweep.png.")
    add_sweep_arguments(p)
    p.set_defaults(run=run_sweep_command)
