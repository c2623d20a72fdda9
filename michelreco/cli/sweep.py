"""``michelreco sweep`` (also ``sweep-params``): tune the finder's parameters against labelled events."""

from __future__ import annotations

import argparse

from michelreco.cli.common import default_workers

__all__ = ["add_sweep_arguments", "run_sweep_command", "register"]


def add_sweep_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("xyze", help="training events file (*_xyze_*.h5)")
    p.add_argument("labels", help="its labels (*_label_*.h5)")
    p.add_argument("--grid", required=True, help="JSON/YAML: parameter -> list of values, or {min: a, max: b}")
    p.add_argument("--out", required=True, help="directory for results.csv, best.yaml, sweep.png")
    p.add_argument("--events", type=int, default=None, help="use the first N events (default: all)")
    p.add_argument("--validation-fraction", type=float, default=0.3,
                   help="fraction of the events kept out of the choice, to show over-tuning (default 0.3)")
    p.add_argument("--random", type=int, default=None, metavar="K",
                   help="draw K parameter sets instead of trying every combination (needed for ranges)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split and of random draws (default 0)")
    p.add_argument("--workers", type=int, default=default_workers(), help="worker processes (default: all cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run_sweep_command(args) -> int:
    from michelreco.run.sweep import run_sweep

    best = run_sweep(args.xyze, args.labels, args.grid, args.out, events=args.events,
                     validation_fraction=args.validation_fraction, random=args.random, workers=args.workers,
                     seed=args.seed, progress=not args.quiet)
    print(f"best set {best['set']}: tuning F1 {float(best['tune_f1']):.4f}, "
          f"validation F1 {float(best['validation_f1']):.4f}; parameters in {args.out}/best.yaml")
    return 0


def register(sub) -> None:
    """Add the subcommand parser(s) of this module to ``sub``."""
    p = sub.add_parser("sweep", help="tune finder parameters against labelled events (same as sweep-params)",
                       description="Tune MichelFinder parameters against labelled events: DIR/results.csv, "
                                   "DIR/best.yaml (usable as find-michels --config), DIR/sweep.png.")
    add_sweep_arguments(p)
    p.set_defaults(run=run_sweep_command)
