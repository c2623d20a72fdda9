"""``michelreco sim`` and ``sim-stats``: simulated samples in the challenge format, and their calibration."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from michelreco.cli.common import default_workers
from michelreco.errors import InputError

if TYPE_CHECKING:
    from michelreco.sim.generate import EventConfig

__all__ = ["register", "event_config"]

_PRESET_HELP = ("default: the real data's conditions (sub-MeV halo, lateral spread, Supera's per-particle "
                "voxel threshold and delta rule, pion/proton nuclear interactions, soft rain from the argon "
                "around the image); clean: the first simulator, easier than the real files (for comparison)")


def _range(text: str) -> tuple[int, int]:
    """'LO-HI' or 'N' as an inclusive (LO, HI) count range."""
    try:
        lo, _, hi = text.partition("-")
        lo, hi = int(lo), int(hi or lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or LO-HI, got {text!r}") from None
    if not 0 <= lo <= hi:
        raise argparse.ArgumentTypeError(f"expected 0 <= LO <= HI, got {text!r}")
    return lo, hi


def event_config(args: argparse.Namespace) -> EventConfig:
    """The ``EventConfig`` of a ``sim`` command line: the preset, then the options given explicitly."""
    from dataclasses import replace

    from michelreco.sim.generate import PRESETS

    config = PRESETS[args.preset]
    changes = {name: getattr(args, name) for name in
               ("vertices", "rain", "rain_start", "world_margin_mm", "knockon_min_mev", "lateral_spread_mm",
                "hadronic_scale") if getattr(args, name) is not None}
    if args.rain_max_mev is not None:
        changes["rain_species"] = tuple((pdg, w, min(lo, args.rain_max_mev), args.rain_max_mev)
                                        if abs(pdg) == 13 else (pdg, w, lo, hi)
                                        for pdg, w, lo, hi in config.rain_species)
    try:
        return replace(config, **changes)
    except InputError as err:
        raise InputError(f"sim: {err}") from None


def _run_sim(args: argparse.Namespace) -> int:
    """``michelreco sim``: simulate a sample (events, labels, truth)."""
    from michelreco.sim.generate import simulate_file

    if args.events < 1:
        raise InputError("--events must be at least 1")
    if args.workers < 1:
        raise InputError("--workers must be at least 1")
    config = event_config(args)
    paths = simulate_file(args.out, args.events, seed=args.seed, workers=args.workers,
                          grouped=args.grouped, force=args.force, progress=not args.quiet, config=config)
    print(f"wrote {paths.xyze}, {paths.labels}, {paths.truth}")
    return 0


def _run_sim_stats(args: argparse.Namespace) -> int:
    """``michelreco sim-stats``: print a sample's calibration figures; 1 with ``--check`` when one is out of band."""
    from michelreco.sim.stats import print_sim_stats

    bad = print_sim_stats(args.prefix, as_json=args.json)
    return 1 if (args.check and bad) else 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the subcommand parser(s) of this module to ``sub``."""
    p = sub.add_parser(
        "sim", help="simulate events in the challenge format, with labels and truth",
        description="Simulate events: writes PREFIX_xyze.h5, PREFIX_label.h5 and PREFIX_truth.npz. The default "
                    "reproduces the real data's calibration figures (see 'michelreco sim-stats' and "
                    "docs/simulation.md); the options below override the preset's values.",
        epilog="Example: michelreco sim --events 1000 --seed 1 --out /tmp/s1 && michelreco sim-stats /tmp/s1")
    p.add_argument("--events", type=int, required=True, help="number of events")
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed and options give the same bytes")
    p.add_argument("--out", required=True, help="output prefix")
    p.add_argument("--workers", type=int, default=default_workers(),
                   help="worker processes (default: all cores); the output does not depend on it")
    p.add_argument("--preset", choices=("default", "clean"), default="default", help=_PRESET_HELP)
    g = p.add_argument_group("event content (override the preset)")
    g.add_argument("--vertices", type=_range, metavar="LO-HI",
                   help="multi-particle vertices per event, uniform in the image (default 1-3)")
    g.add_argument("--rain", type=_range, metavar="LO-HI",
                   help="rain particles per event: cosmic-like muons and protons (default 1-4)")
    g.add_argument("--rain-start", choices=("outside", "faces", "world"),
                   help="where rain starts: uniform in the world outside the image, isotropic (default); on a "
                        "world face aimed into the image (clean); anywhere in the world")
    g.add_argument("--rain-max-mev", type=float, metavar="MEV", dest="rain_max_mev",
                   help="highest rain-muon kinetic energy, MeV (default 400; clean 3000): softer rain stops more "
                        "muons around the image, whose Michels enter without their muon")
    g.add_argument("--world-margin-mm", type=float, metavar="MM",
                   help="the world extends this far beyond the image on every side, mm (default 250; clean 400)")
    g = p.add_argument_group("physics (override the preset)")
    g.add_argument("--lateral-spread-mm", type=float, metavar="MM",
                   help="width of the lateral profile of deposited energy that reaches neighbouring voxels, mm "
                        "(default 0.35; 0 = none; needs the default per-particle-voxel threshold)")
    g.add_argument("--knockon-min-mev", type=float, metavar="MEV",
                   help="sub-MeV knock-on electrons above this are made and walked, MeV (default 0.3; 0 = none)")
    g.add_argument("--hadronic-scale", type=float, metavar="X",
                   help="scale of the pion/proton nuclear cross sections (default 1; 0 = no interactions)")
    p.add_argument("--grouped", action="store_true",
                   help="order voxels by truth particle like the real files (default: random order)")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_run_sim)

    p = sub.add_parser("sim-stats", help="calibration figures of a simulated sample beside the real targets",
                       description="Print the calibration figures of a simulated sample beside the real data's, "
                                   "each with its accepted band (OUT marks a figure outside it).")
    p.add_argument("prefix", help="prefix given to 'michelreco sim --out'")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (figure: value, fractions as 0-1; bands; out_of_band; config)")
    p.add_argument("--check", action="store_true", help="exit with status 1 when a figure is outside its band")
    p.set_defaults(run=_run_sim_stats)
