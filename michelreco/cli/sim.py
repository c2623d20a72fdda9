"""``michelreco sim`` and ``sim-stats``: simulated samples in the challenge format, and their calibration."""

from __future__ import annotations

from michelreco.cli.common import default_workers

__all__ = ["register"]


def _run_sim(args) -> int:
    from michelreco.sim.generate import simulate_file

    paths = simulate_file(args.out, args.events, seed=args.seed, workers=args.workers,
                          grouped=args.grouped, force=args.force, progress=not args.quiet)
    print(f"wrote {paths.xyze}, {paths.labels}, {paths.truth}")
    return 0


def _run_sim_stats(args) -> int:
    from michelreco.sim.stats import print_sim_stats

    print_sim_stats(args.prefix)
    return 0


def register(sub) -> None:
    """Add the subcommand parser(s) of this module to ``sub``."""
    p = sub.add_parser("sim", help="simulate events in the challenge format, with labels and truth",
                       description="Simulate events: writes PREFIX_xyze.h5, PREFIX_label.h5, PREFIX_truth.npz.")
    p.add_argument("--events", type=int, required=True, help="number of events")
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same bytes")
    p.add_argument("--out", required=True, help="output prefix")
    p.add_argument("--workers", type=int, default=default_workers(), help="worker processes (default: all cores)")
    p.add_argument("--grouped", action="store_true",
                   help="order voxels by truth particle like the real files (default: random order)")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_run_sim)

    p = sub.add_parser("sim-stats", help="calibration figures of a simulated sample beside the real targets",
                       description="Print the DESIGN.md §3 calibration figures of a simulated sample.")
    p.add_argument("prefix", help="prefix given to 'michelreco sim --out'")
    p.set_defaults(run=_run_sim_stats)
