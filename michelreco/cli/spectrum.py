"""``michelreco spectrum``: the Michel energy spectrum against the toy Monte Carlo."""

from __future__ import annotations

__all__ = ["register"]


def _run_spectrum(args) -> int:
    from michelreco.analysis.spectrum import measured_energies, truth_energies, truth_path_for, write_spectrum

    spectra = {"labelled voxels (label 2)": measured_energies(args.xyze, labels_path=args.labels)}
    if args.solution:
        spectra["found voxels (solution)"] = measured_energies(args.xyze, solution_path=args.solution)
        if args.recover_radius_mm:
            spectra[f"found + photon blobs within {args.recover_radius_mm:g} mm"] = measured_energies(
                args.xyze, solution_path=args.solution, recover_radius_mm=args.recover_radius_mm)
    truth = args.truth or truth_path_for(args.xyze)
    if truth:
        spectra.update(truth_energies(truth))
    summaries = write_spectrum(spectra, args.out, toy_draws=args.toy_draws)
    print(f"{'spectrum':45s} {'Michels':>9s} {'mean':>7s} {'peak':>6s} {'q90':>6s} {'> 52.8 MeV':>10s}")
    for name, sm in summaries.items():
        print(f"{name:45s} {sm['n']:9d} {sm['mean_mev']:7.2f} {sm['peak_mev']:6.1f} {sm['q90_mev']:6.1f} "
              f"{100 * sm['above_endpoint']:9.2f}%")
    print(f"wrote {args.out}/spectrum.png and {args.out}/spectrum.csv")
    return 0



def register(sub) -> None:
    """Add the subcommand parser(s) of this module to ``sub``."""
    p = sub.add_parser("spectrum", help="Michel energy spectrum: toy MC against labelled and found voxels",
                       description="Michel energy spectrum: toy Monte Carlo variants against the spectrum of the "
                                   "labelled Michel voxels, of a solution's voxels, and of the simulator's truth.")
    p.add_argument("xyze", help="events file (*_xyze_*.h5)")
    p.add_argument("labels", help="its labels")
    p.add_argument("--solution", help="a solution file: the finder's (reconstructed) spectrum too")
    p.add_argument("--truth", help="simulator truth (PREFIX_truth.npz; found beside PREFIX_xyze.h5 by default)")
    p.add_argument("--out", required=True, help="directory for spectrum.png and spectrum.csv")
    p.add_argument("--recover-radius-mm", type=float, default=None,
                   help="with --solution: also add small detached blobs (photon activity) within this distance")
    p.add_argument("--toy-draws", type=int, default=10_000_000, help="toy MC draws per variant (default 10^7)")
    p.set_defaults(run=_run_spectrum)
