"""``michelreco diagnose``: where the F1 goes, by cause and (on simulated files) by Michel category."""

from __future__ import annotations

import argparse
import json

from michelreco.cli.common import add_selection_arguments, finder_params, labels_or_guess, positive_int

__all__ = ["register"]


def _run_diagnose(args: argparse.Namespace) -> int:
    """``michelreco diagnose``: print where the F1 goes (or its JSON)."""
    from michelreco.analysis.diagnose import diagnose_files
    from michelreco.reco.finder import MichelFinder

    labels = labels_or_guess(args.xyze, args.labels)
    finder = MichelFinder(**finder_params(args.config, args.model, args.rules))
    d = diagnose_files(args.xyze, labels, args.solution, finder, args.truth, args.events).as_dict()
    if args.json:
        print(json.dumps(d, indent=2))
        return 0
    a, p = d["actual"], d["perfect"]
    n = max(d["michel_voxels"], 1)
    print(f"{d['events']:,} events, {d['michel_voxels']:,} Michel voxels (label 2)")
    print(f"  in some candidate (coverage)     {d['covered_voxels']:>9,}  {d['coverage']:7.2%}")
    print(f"  actual        F1 {a['f1']:.4f}  precision {a['precision']:.4f}  recall {a['recall']:.4f}"
          f"  ({'the solution given' if args.solution else 'the finder'})")
    print(f"  perfect selection of the same candidates: F1 {p['f1']:.4f}  precision {p['precision']:.4f}  "
          f"recall {p['recall']:.4f}")
    r = d["perfect_one_reading"]
    print(f"  ... one reading per cluster and end: F1 {r['f1']:.4f}  precision {r['precision']:.4f}  "
          f"recall {r['recall']:.4f}")
    c = d["perfect_finished"]
    print(f"  ... finished as find does, the cut model at the peaks (the finder's ceiling): F1 {c['f1']:.4f}  "
          f"precision {c['precision']:.4f}  recall {c['recall']:.4f}")
    print("Michel voxels lost, by cause:")
    for cause, voxels in d["lost"].items():
        print(f"  {cause:30s} {voxels:>9,}  {voxels / n:7.2%} of Michel voxels")
    print("false voxels, by cause:")
    for cause, voxels in d["false"].items():
        print(f"  {cause:30s} {voxels:>9,}")
    if d["by_category"]:
        print("by Michel category (simulator truth):")
        for cat, row in d["by_category"].items():
            found = row["found"] / max(row["michel_voxels"], 1)
            print(f"  {cat:30s} {row['michel_voxels']:>9,} voxels, found {found:7.2%}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the subcommand parser(s) of this module to ``sub``."""
    p = sub.add_parser("diagnose", help="where F1 is lost: candidate coverage, perfect selection, causes",
                       description="Judge the finder's candidates against labels: the share of Michel voxels "
                                   "inside any candidate, the F1 a perfect choice of those candidates would reach, "
                                   "the actual F1 (the finder's, or a --solution's), and every lost or false voxel "
                                   "by cause (no candidate / candidate rejected / boundary; wrong candidate / "
                                   "boundary). On simulated files the truth file splits Michel voxels by category "
                                   "(attached and contained, electron leaving, muon end outside).")
    p.add_argument("xyze", help="events file (*_xyze_*.h5)")
    p.add_argument("labels", nargs="?", help="its labels (default: found by replacing '_xyze_' with '_label_')")
    p.add_argument("--solution", help="judge this solution file instead of the finder's own choice")
    p.add_argument("--truth", help="simulator truth (PREFIX_truth.npz; found beside PREFIX_xyze.h5 by default)")
    p.add_argument("--config", help="finder parameters (JSON/YAML)")
    add_selection_arguments(p)
    p.add_argument("--events", type=positive_int, default=None, metavar="N", help="the first N events (default: all)")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON")
    p.set_defaults(run=_run_diagnose)
