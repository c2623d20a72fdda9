"""``michelreco bench``: finder speed on one core (stage by stage), DBSCAN against scikit-learn, whole runs, read
paths."""

from __future__ import annotations

import argparse
import json

from michelreco.cli.common import add_workers_argument, finder_params, nonnegative_int, plural, positive_int
from michelreco.errors import MichelrecoError

__all__ = ["register"]


def _run_bench(args: argparse.Namespace) -> int:
    """``michelreco bench``: time the finder, DBSCAN and (``--runs``) whole runs; print or JSON."""
    from michelreco.bench.speed import (bench_dbscan, bench_finder, bench_read, bench_read_layouts, bench_run,
                                        bench_stages, load_events)

    params = finder_params(args.config)
    if args.voxels and args.voxels[0] > args.voxels[1]:
        raise MichelrecoError(f"--voxels {args.voxels[0]} {args.voxels[1]}: MIN is above MAX")
    voxels = tuple(args.voxels) if args.voxels else None
    if not load_events(args.input, 1, voxels):
        which = f" with a voxel count in {args.voxels[0]}..{args.voxels[1]}" if args.voxels else ""
        raise MichelrecoError(f"{args.input}: no events{which}")
    out = {}
    if args.runs:
        from michelreco.run.io import event_count

        # first, while this process is lean: forked workers start with its memory, and their peak is measured
        n = event_count(args.input)
        stop = min(args.run_events or n, n)
        runs = [bench_run(args.input, w, stop, params) for w in sorted({1, args.workers})]
        read = bench_read(args.input, stop)
        reference = bench_run(args.input, args.workers, min(args.reference_events, n),
                              {**params, "clustering": "sklearn"})
    events = load_events(args.input, args.events, voxels)
    out["finder"] = bench_finder(events, params, args.repeats)
    if params.get("clustering", "numba") == "numba":
        out["stages"] = bench_stages(events, params, args.repeats)
    out["dbscan"] = bench_dbscan(events[:args.dbscan_events], repeats=args.repeats)
    if args.runs:
        out.update(read=read, runs=runs, reference=reference)
    if args.read_layouts:
        out["read_layouts"] = bench_read_layouts(args.input, args.read_layouts, repeats=args.repeats)
    if args.json:
        for run in out.get("runs", []) + ([out["reference"]] if "reference" in out else []):
            run["rss_trace"] = [list(x) for x in run["rss_trace"]]
        print(json.dumps(out, indent=2))
        return 0
    _print(out, args)
    return 0


def _print(out: dict, args: argparse.Namespace) -> None:
    """The benchmark's results as a few aligned lines."""
    finder, dbscan = out["finder"], out["dbscan"]
    print(f"finder, one core, events in memory: {finder['events']} events of {finder['mean_voxels']:.0f} voxels")
    print(f"  {finder['events_per_s']:.0f} events/s of CPU time ({1e3 * finder['seconds_median'] / finder['events']:.3f}"
          f" ms per event; median of {args.repeats}, passes {finder['events'] / finder['seconds_max']:.0f}-"
          f"{finder['events'] / finder['seconds_min']:.0f}); wall clock {finder['events'] / finder['wall_seconds_median']:.0f}")
    if "stages" in out:
        stages = out["stages"]
        print(f"  stages, CPU ms per event ({stages['chains_per_event']:.1f} skeleton chains and "
              f"{stages['candidates_per_event']:.1f} candidates per event):")
        for name, ms in stages["ms_per_event"].items():
            print(f"    {name:30s} {ms:7.3f}  {100 * ms / stages['total_ms']:4.0f}%")
    print(f"DBSCAN (eps {dbscan['eps']}, min_samples {dbscan['min_samples']}) on {dbscan['events']} events, "
          f"labels identical to scikit-learn's:")
    print(f"  ours {dbscan['ours_ms_per_event']:.3f} ms/event, scikit-learn {dbscan['sklearn_ms_per_event']:.2f} "
          f"ms/event: {dbscan['speedup']:.1f}x")
    if "runs" in out:
        read = out["read"]
        print(f"whole runs over {read['events']} events of the file:")
        print(f"  bare read pass        {read['events_per_s']:8.0f} events/s  {read['seconds']:7.1f} s")
        base = out["runs"][0]
        for run in out["runs"]:
            print(f"  find-michels, {plural(run['workers'], 'worker'):10s} {run['events_per_s']:6.0f} events/s  "
                  f"{run['seconds']:7.1f} s  x{run['events_per_s'] / base['events_per_s']:.2f}")
            print(f"    CPU: finder {run['finder_cpu_s']:.1f} s, reading and checks {run['read_cpu_s']:.1f} s, "
                  f"parent (results, checkpoints, writing) {run['parent_cpu_s']:.1f} s: overhead "
                  f"{100 * run['overhead']:.1f}% of the finder; finder CPU / (workers x wall) "
                  f"{100 * run['wall_efficiency']:.0f}%")
            print(f"    memory per worker: {run['rss_first_mb']:.0f} MB after the first range, "
                  f"{run['rss_last_mb']:.0f} MB after the last, peak {run['peak_worker_rss_mb']:.0f} MB")
        ref = out["reference"]
        print(f"  scikit-learn DBSCAN in its place, {plural(ref['workers'], 'worker')}, first {ref['events']} events: "
              f"{ref['events_per_s']:.0f} events/s (ours x{out['runs'][-1]['events_per_s'] / ref['events_per_s']:.1f})")
    if "read_layouts" in out:
        print("read paths (the file's first events copied into each layout, read from the page cache):")
        for row in out["read_layouts"]:
            print(f"  {row['layout']:34s} block {row['block']:5d} rows ({row['block_mb']:5.1f} MB): "
                  f"{row['events_per_s']:7.0f} events/s, {row['mb_per_s']:6.0f} MB/s, "
                  f"{row['cpu_us_per_event']:5.0f} us CPU per event; file {row['file_mb']:.0f} MB")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the subcommand parser(s) of this module to ``sub``."""
    p = sub.add_parser("bench", help="benchmark the finder and DBSCAN on events of a file, in memory",
                       description="Events/s of the whole finder on one core (numba compilation excluded; CPU "
                                   "time, which a shared machine disturbs less than wall time), the time of each "
                                   "stage, and our DBSCAN against scikit-learn's on the same events.")
    p.add_argument("input", help="events file (*_xyze_*.h5)")
    p.add_argument("--events", type=positive_int, default=1000, help="events to time (default 1000)")
    p.add_argument("--voxels", type=nonnegative_int, nargs=2, metavar=("MIN", "MAX"),
                   help="only events with a voxel count in [MIN, MAX]")
    p.add_argument("--dbscan-events", type=positive_int, default=200,
                   help="events for the DBSCAN comparison (default 200)")
    p.add_argument("--repeats", type=positive_int, default=5,
                   help="passes over the events; medians are quoted (default 5)")
    p.add_argument("--config", help="finder parameters (JSON or YAML)")
    p.add_argument("--runs", action="store_true",
                   help="also time whole runs over the file: a bare read pass, find-michels with 1 worker and "
                        "with --workers (where the CPU time went, memory per worker), and the reference "
                        "pipeline with scikit-learn's DBSCAN")
    p.add_argument("--run-events", type=positive_int, default=None,
                   help="events of the file for --runs (default: all)")
    p.add_argument("--reference-events", type=positive_int, default=1000,
                   help="events for the scikit-learn reference run, ~20x slower (default 1000)")
    p.add_argument("--read-layouts", type=positive_int, default=None, metavar="N",
                   help="also copy the first N events into several HDF5 layouts (chunked, compressed) in a "
                        "temporary folder and time reading them with several block sizes")
    add_workers_argument(p, "workers of the parallel runs")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(run=_run_bench)
