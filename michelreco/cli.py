"""Command-line entry points: ``find-michels`` and ``michelreco <command>``.

Errors in the input end the command with one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path

from . import __version__
from .errors import MichelrecoError

__all__ = ["main", "find_michels_main", "sweep_params_main"]

EXIT_INPUT_ERROR = 2
EXIT_EVENTS_FAILED = 3
EXIT_INTERRUPTED = 130


def _default_workers() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


# ---------------------------------------------------------------------------------------------- find
def _add_find_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", nargs="?", help="challenge events file (*_xyze_*.h5, dataset 'data')")
    p.add_argument("-o", "--output", help="solution file to write (HDF5, one row of Michel voxel indices per event)")
    p.add_argument("--workers", type=int, default=_default_workers(),
                   help="worker processes (default: all cores, %(default)s here)")
    p.add_argument("--config", help="finder parameters, a JSON or YAML mapping (e.g. a sweep's best.yaml)")
    p.add_argument("--start", type=int, default=0, help="first event to process (default 0)")
    p.add_argument("--stop", type=int, default=None, help="stop before this event (default: end of file)")
    p.add_argument("--force", action="store_true",
                   help="overwrite an existing output file (and discard the parts of an interrupted run)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from its checkpointed parts (OUTPUT.parts)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on a Dask cluster through its scheduler (tcp://HOST:PORT) instead of local processes")
    p.add_argument("--chunk", type=int, default=500,
                   help="events per task and per checkpoint (default 500)")
    p.add_argument("--dataset-name", default="solution", help="name of the solution dataset (default: solution)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--explain", metavar="JSONL",
                   help="also write every Michel candidate (features, rule verdicts, decision) as JSON lines")
    p.add_argument("--demo", action="store_true",
                   help="simulate a small sample in a temporary directory, run the finder on it and score it")
    p.add_argument("--demo-events", type=int, default=200, help="events in the --demo sample (default 200)")


def _finder_params(config_path) -> dict:
    from .config import load_mapping
    from .finder import MichelFinder

    if config_path is None:
        return {}
    params = load_mapping(config_path)
    try:
        MichelFinder(**params)          # validates names, types and the rule set
    except MichelrecoError as err:
        raise MichelrecoError(f"{config_path}: {err}") from None
    return params


def _run_find(args) -> int:
    from .parallel import run_file

    if args.workers < 1:
        raise MichelrecoError("--workers must be at least 1")
    params = _finder_params(args.config)
    if args.demo:
        return _run_demo(args, params)
    if not args.input or not args.output:
        raise MichelrecoError("give an INPUT file and -o OUTPUT (or --demo); see --help")
    from .parallel import dask_executor

    with dask_executor(args.scheduler) if args.scheduler else contextlib.nullcontext((None, args.workers)) as (
            executor, workers):
        failures = run_file(args.input, args.output, params, workers=workers, executor=executor,
                            start=args.start, stop=args.stop, force=args.force, resume=args.resume,
                            chunk=args.chunk, progress=not args.quiet, output_dataset=args.dataset_name,
                            explain_path=args.explain).failures
    if failures:
        print(f"{len(failures)} events failed and got empty rows; see {args.output}.errors.log", file=sys.stderr)
        return EXIT_EVENTS_FAILED
    return 0


def _run_demo(args, params) -> int:
    from .metrics import score_files
    from .parallel import run_file
    from .sim.generate import simulate_file

    with tempfile.TemporaryDirectory(prefix="michelreco-demo-") as tmp:
        prefix = Path(tmp) / "demo"
        print(f"simulating {args.demo_events} events in {tmp} ...", file=sys.stderr)
        paths = simulate_file(prefix, args.demo_events, seed=2025, workers=args.workers, progress=not args.quiet)
        solution = Path(tmp) / "demo_solution.h5"
        print("finding Michels ...", file=sys.stderr)
        run_file(paths.xyze, solution, params, workers=args.workers, progress=not args.quiet)
        table = score_files(solution, paths.labels)
    _print_scores(table, f"demo: {args.demo_events} simulated events (seed 2025)")
    return 0


# --------------------------------------------------------------------------------------------- score
def _print_scores(table, title: str) -> None:
    c = table.pooled
    has = table.has_michel
    with_m, without = table.subset(has).pooled, table.subset(~has)
    print(title)
    print(f"  events    {len(table)}")
    print(f"  F1        {c.f1:.4f}")
    print(f"  precision {c.precision:.4f}")
    print(f"  recall    {c.recall:.4f}")
    print(f"  TP {c.tp}  FP {c.fp}  FN {c.fn}")
    print(f"  events with a Michel: {int(has.sum())}, F1 {with_m.f1:.4f}")
    print(f"  events without: {len(without)}, FP voxels {without.pooled.fp} "
          f"in {int((without.fp > 0).sum())} events")


def _run_score(args) -> int:
    from .metrics import score_files

    table = score_files(args.solution, args.labels, dataset=args.dataset_name)
    if args.per_event:
        table.write_per_event_csv(args.per_event)
    if args.plot:
        from .plots import plot_block_f1
        plot_block_f1(table, args.block, args.plot)
    if args.json:
        has = table.has_michel
        without = table.subset(~has)
        out = {"events": len(table), **table.pooled.as_dict(), "empty_events": int(table.empty.sum()),
               "with_michel": {"events": int(has.sum()), **table.subset(has).pooled.as_dict()},
               "without_michel": {"events": len(without), "fp": without.pooled.fp,
                                  "events_with_fp": int((without.fp > 0).sum())}}
        print(json.dumps(out, indent=2))
    else:
        _print_scores(table, f"{args.solution} against {args.labels}")
    return 0


# ----------------------------------------------------------------------------------------------- sim
def _run_sim(args) -> int:
    from .sim.generate import simulate_file

    paths = simulate_file(args.out, args.events, seed=args.seed, workers=args.workers,
                          grouped=args.grouped, force=args.force, progress=not args.quiet)
    print(f"wrote {paths.xyze}, {paths.labels}, {paths.truth}")
    return 0


def _run_sim_stats(args) -> int:
    from .sim.stats import print_sim_stats

    print_sim_stats(args.prefix)
    return 0


# --------------------------------------------------------------------------------------------- bench
def _run_bench(args) -> int:
    from .bench import bench_dbscan, bench_finder, bench_read, bench_run, load_events

    params = _finder_params(args.config)
    events = load_events(args.input, args.events, tuple(args.voxels) if args.voxels else None)
    if not events:
        raise MichelrecoError(f"{args.input}: no events with a voxel count in {args.voxels}")
    out = {"finder": bench_finder(events, params, args.repeats),
           "dbscan": bench_dbscan(events[:args.dbscan_events], repeats=args.repeats)}
    if args.runs:
        stop = args.run_events
        out["read"] = bench_read(args.input, stop)
        out["runs"] = [bench_run(args.input, w, stop, params) for w in sorted({1, args.workers})]
        out["reference"] = bench_run(args.input, args.workers, args.reference_events,
                                     {**params, "clustering": "sklearn"})
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    finder, dbscan = out["finder"], out["dbscan"]
    print(f"finder, one core, events in memory: {finder['events']} events of {finder['mean_voxels']:.0f} voxels")
    print(f"  {finder['events_per_s']:.0f} events/s (median of {args.repeats}; "
          f"{finder['events'] / finder['seconds_max']:.0f}-{finder['events'] / finder['seconds_min']:.0f})")
    print(f"DBSCAN (eps {dbscan['eps']}, min_samples {dbscan['min_samples']}) on {dbscan['events']} events, "
          f"labels identical to scikit-learn's:")
    print(f"  ours {dbscan['ours_ms_per_event']:.3f} ms/event, scikit-learn {dbscan['sklearn_ms_per_event']:.2f} "
          f"ms/event: {dbscan['speedup']:.1f}x")
    if args.runs:
        read = out["read"]
        print(f"whole runs over {read['events']} events of the file:")
        print(f"  bare read pass        {read['events_per_s']:8.0f} events/s  {read['seconds']:7.1f} s")
        base = out["runs"][0]
        for run in out["runs"]:
            print(f"  find-michels, {run['workers']:2d} workers {run['events_per_s']:6.0f} events/s  "
                  f"{run['seconds']:7.1f} s  x{run['events_per_s'] / base['events_per_s']:.2f}  "
                  f"peak RSS per worker {run['peak_worker_rss_mb']:.0f} MB")
        ref = out["reference"]
        print(f"  scikit-learn DBSCAN in its place, {ref['workers']} workers, first {ref['events']} events: "
              f"{ref['events_per_s']:.0f} events/s (ours x{out['runs'][-1]['events_per_s'] / ref['events_per_s']:.1f})")
    return 0


# --------------------------------------------------------------------------------------------- sweep
def _add_sweep_arguments(p: argparse.ArgumentParser) -> None:
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
    p.add_argument("--workers", type=int, default=_default_workers(), help="worker processes (default: all cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _run_sweep(args) -> int:
    from .sweep import run_sweep

    best = run_sweep(args.xyze, args.labels, args.grid, args.out, events=args.events,
                     validation_fraction=args.validation_fraction, random=args.random, workers=args.workers,
                     seed=args.seed, progress=not args.quiet)
    print(f"best set {best['set']}: tuning F1 {float(best['tune_f1']):.4f}, "
          f"validation F1 {float(best['validation_f1']):.4f}; parameters in {args.out}/best.yaml")
    return 0


def sweep_params_main(argv=None) -> int:
    """``sweep-params TRAIN_XYZE TRAIN_LABELS --grid GRID --out DIR``"""
    parser = argparse.ArgumentParser(prog="sweep-params", description="Tune MichelFinder parameters against labels.")
    _add_sweep_arguments(parser)
    parser.set_defaults(run=_run_sweep)
    return _dispatch(parser, argv)


# ------------------------------------------------------------------------------------------ spectrum
def _run_spectrum(args) -> int:
    from .spectrum import measured_energies, truth_energies, truth_path_for, write_spectrum

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


# ------------------------------------------------------------------------------------ display, report
def _run_display(args) -> int:
    from .display import display_event

    display_event(args.xyze, args.event, args.out, labels_path=args.labels, solution_path=args.solution,
                  zoom_voxels=args.zoom, explain=args.explain)
    print(f"wrote {args.out}")
    return 0


def _run_report(args) -> int:
    from .report import make_report

    page = make_report(args.xyze, args.labels, args.solution, args.out, args.dataset_name)
    print(f"wrote {page}")
    return 0


# ---------------------------------------------------------------------------------------------- main
def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="michelreco", description="Classical Michel-electron finder for voxelized liquid-argon events.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("find", help="find Michel voxels in an events file (same as find-michels)",
                       description="Find Michel voxels in an events file.")
    _add_find_arguments(p)
    p.set_defaults(run=_run_find)

    p = sub.add_parser("score", help="score a solution file against labels (pooled precision/recall/F1)",
                       description="Score a solution file against a label file: pooled F1 over all voxels.")
    p.add_argument("solution", help="solution file (one row of Michel voxel indices per event)")
    p.add_argument("labels", help="label file (*_label_*.h5, dataset 'labels')")
    p.add_argument("--dataset-name", default=None, help="solution dataset (default: the file's only vlen int one)")
    p.add_argument("--json", action="store_true", help="print the scores as JSON")
    p.add_argument("--per-event", metavar="CSV", help="write per-event TP/FP/FN, precision, recall, F1")
    p.add_argument("--plot", metavar="PNG", help="plot F1 per block of events (needs matplotlib)")
    p.add_argument("--block", type=int, default=100, help="events per block for --plot (default 100)")
    p.set_defaults(run=_run_score)

    p = sub.add_parser("bench", help="benchmark the finder and DBSCAN on events of a file, in memory",
                       description="Events/s of the whole finder on one core (numba compilation excluded), "
                                   "and our DBSCAN against scikit-learn's on the same events.")
    p.add_argument("input", help="events file (*_xyze_*.h5)")
    p.add_argument("--events", type=int, default=1000, help="events to time (default 1000)")
    p.add_argument("--voxels", type=int, nargs=2, metavar=("MIN", "MAX"),
                   help="only events with a voxel count in [MIN, MAX]")
    p.add_argument("--dbscan-events", type=int, default=200, help="events for the DBSCAN comparison (default 200)")
    p.add_argument("--repeats", type=int, default=5, help="passes over the events; medians are quoted (default 5)")
    p.add_argument("--config", help="finder parameters (JSON or YAML)")
    p.add_argument("--runs", action="store_true",
                   help="also time whole runs over the file: a bare read pass, find-michels with 1 worker and "
                        "with --workers, and the reference pipeline with scikit-learn's DBSCAN")
    p.add_argument("--run-events", type=int, default=None, help="events of the file for --runs (default: all)")
    p.add_argument("--reference-events", type=int, default=1000,
                   help="events for the scikit-learn reference run, ~20x slower (default 1000)")
    p.add_argument("--workers", type=int, default=_default_workers(),
                   help="workers of the parallel runs (default: all cores, %(default)s here)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(run=_run_bench)

    p = sub.add_parser("sweep", help="tune finder parameters against labelled events (same as sweep-params)",
                       description="Tune MichelFinder parameters against labelled events: DIR/results.csv, "
                                   "DIR/best.yaml (usable as find-michels --config), DIR/sweep.png.")
    _add_sweep_arguments(p)
    p.set_defaults(run=_run_sweep)

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

    p = sub.add_parser("display", help="draw one event: energy, truth labels, prediction (PNG or HTML)",
                       description="Draw one event in 3D, coloured by energy, by truth label and by the "
                                   "prediction (found, wrong, missed). FILE.png through matplotlib, FILE.html "
                                   "interactive through plotly. Only that event is read.")
    p.add_argument("xyze", help="events file")
    p.add_argument("--event", type=int, required=True, help="event index")
    p.add_argument("--out", required=True, help="FILE.png or FILE.html")
    p.add_argument("--labels", help="label file (truth panel)")
    p.add_argument("--solution", help="solution file (prediction panel)")
    p.add_argument("--zoom", type=float, default=None, metavar="VOXELS",
                   help="show only this many voxels around the Michel voxels, each way")
    p.add_argument("--explain", action="store_true",
                   help="run the finder and mark its candidates' Bragg peaks (taken or rejected)")
    p.set_defaults(run=_run_display)

    p = sub.add_parser("report", help="HTML report of a solution: scores, stability, F1 by energy, displays",
                       description="Write DIR/index.html (opens with no server): scores, per-event table, "
                                   "F1 per block of events, F1 against Michel energy and voxel count, and "
                                   "displays of the best, worst and typical events.")
    p.add_argument("xyze", help="events file")
    p.add_argument("labels", help="label file")
    p.add_argument("solution", help="solution file")
    p.add_argument("--out", required=True, help="report directory")
    p.add_argument("--dataset-name", default=None, help="solution dataset (default: the only vlen int one)")
    p.set_defaults(run=_run_report)

    p = sub.add_parser("sim", help="simulate events in the challenge format, with labels and truth",
                       description="Simulate events: writes PREFIX_xyze.h5, PREFIX_label.h5, PREFIX_truth.npz.")
    p.add_argument("--events", type=int, required=True, help="number of events")
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same bytes")
    p.add_argument("--out", required=True, help="output prefix")
    p.add_argument("--workers", type=int, default=_default_workers(), help="worker processes (default: all cores)")
    p.add_argument("--grouped", action="store_true",
                   help="order voxels by truth particle like the real files (default: random order)")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_run_sim)

    p = sub.add_parser("sim-stats", help="calibration figures of a simulated sample beside the real targets",
                       description="Print the DESIGN.md §3 calibration figures of a simulated sample.")
    p.add_argument("prefix", help="prefix given to 'michelreco sim --out'")
    p.set_defaults(run=_run_sim_stats)
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
    _add_find_arguments(parser)
    parser.set_defaults(run=_run_find)
    return _dispatch(parser, argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
