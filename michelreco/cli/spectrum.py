"""``michelreco spectrum``: the Michel energy spectrum against the toy Monte Carlo."""

from __future__ import annotations

import argparse
import sys

from michelreco.cli.common import (add_force_argument, add_quiet_argument, labels_or_guess, positive_float,
                                   positive_int)

__all__ = ["register"]


def _truth(args, n_events: int):
    """The truth spectra: of --truth (refused with one line when it is not ours or does not match), or of the
    PREFIX_truth.npz found beside the events (skipped with a note when it is not ours)."""
    from michelreco.analysis.spectrum import truth_energies, truth_event_count, truth_path_for
    from michelreco.errors import InputError

    path = args.truth or truth_path_for(args.xyze)
    if path is None:
        return None, {}
    try:
        n_truth = truth_event_count(path)
        if n_truth is not None and n_truth != n_events:
            raise InputError(f"{path} describes {n_truth} events but {args.xyze} has {n_events}")
        return path, truth_energies(path)
    except InputError as err:
        if args.truth:
            raise
        print(f"note: {err}; the truth spectra are left out", file=sys.stderr)
        return None, {}


def _run_spectrum(args: argparse.Namespace) -> int:
    """``michelreco spectrum``: write spectrum.png and spectrum.csv, print the summaries."""
    from michelreco.analysis.plots import pyplot
    from michelreco.analysis.spectrum import DEFAULT_TOY_DRAWS, measured_energies, write_spectrum
    from michelreco.run.io import event_count
    from michelreco.run.outputs import check_output, output_directory

    pyplot()                                            # matplotlib missing: say so before any work
    labels = labels_or_guess(args.xyze, args.labels)
    n_events = event_count(args.xyze)
    truth_path, truth = _truth(args, n_events)
    inputs = [args.xyze, labels, args.solution, truth_path]
    check_output(args.out, inputs, args.force, folder=True)
    progress = not args.quiet
    spectra = {"labelled voxels (label 2)": measured_energies(args.xyze, labels_path=labels, progress=progress)}
    if args.solution:
        spectra["found voxels (solution)"] = measured_energies(args.xyze, solution_path=args.solution,
                                                               dataset=args.dataset_name, progress=progress)
        if args.recover_radius_mm:
            spectra[f"found + photon blobs within {args.recover_radius_mm:g} mm"] = measured_energies(
                args.xyze, solution_path=args.solution, recover_radius_mm=args.recover_radius_mm,
                dataset=args.dataset_name, progress=progress)
    spectra.update(truth)
    with output_directory(args.out, inputs, args.force) as tmp:
        summaries = write_spectrum(spectra, tmp, toy_draws=args.toy_draws or DEFAULT_TOY_DRAWS, progress=progress)
    print(f"{'spectrum':45s} {'Michels':>9s} {'mean':>7s} {'peak':>6s} {'q90':>6s} {'> 52.8 MeV':>10s}")
    for name, sm in summaries.items():
        print(f"{name:45s} {sm['n']:9d} {sm['mean_mev']:7.2f} {sm['peak_mev']:6.1f} {sm['q90_mev']:6.1f} "
              f"{100 * sm['above_endpoint']:9.2f}%")
    print(f"wrote {args.out}/spectrum.png and {args.out}/spectrum.csv")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the subcommand parser(s) of this module to ``sub``."""
    p = sub.add_parser("spectrum", help="Michel energy spectrum: toy MC against labelled and found voxels",
                       description="Michel energy spectrum: toy Monte Carlo variants against the spectrum of the "
                                   "labelled Michel voxels, of a solution's voxels, and of the simulator's truth.")
    p.add_argument("xyze", help="events file (*_xyze_*.h5)")
    p.add_argument("labels", nargs="?", default=None,
                   help="its labels (default: the events file's name with _xyze_ replaced by _label_)")
    p.add_argument("--solution", help="a solution file: the finder's (reconstructed) spectrum too")
    p.add_argument("--dataset-name", default=None, help="solution dataset (default: the only vlen int one)")
    p.add_argument("--truth", help="simulator truth (PREFIX_truth.npz; found beside PREFIX_xyze.h5 by default)")
    p.add_argument("--out", required=True, help="folder for spectrum.png and spectrum.csv (its parent must exist)")
    add_force_argument(p, "results folder")
    p.add_argument("--recover-radius-mm", type=positive_float, default=None,
                   help="with --solution: also add small detached blobs (photon activity) within this distance")
    p.add_argument("--toy-draws", type=positive_int, default=None, metavar="N",
                   help="toy MC draws per variant (default 500,000: a smooth curve in about a second; more are "
                        "drawn in batches, with a progress bar)")
    add_quiet_argument(p)
    p.set_defaults(run=_run_spectrum)
