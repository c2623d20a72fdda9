"""Benchmarks: the finder on events held in memory (per core, stage by stage, and DBSCAN against scikit-learn),
and whole runs over a file (read paths and layouts, runs with 1 and N workers and where their time goes, the
scikit-learn reference pipeline).

In-memory timings exclude numba's compilation (one warm-up call first) and reading. They are CPU time of this
process (``time.process_time``): on a machine shared with other jobs, wall time measures the others too, CPU
time much less. Each figure is the median of ``repeats`` passes over the same events.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
from numba import njit

from michelreco.bench.dbscan import dbscan_voxels
from michelreco.errors import InputError
from michelreco.reco.canonical import canonical_voxels
from michelreco.reco.candidates import clusters_in_order, event_candidates
from michelreco.reco.finder import MichelFinder, checked_event
from michelreco.reco.graph import voxel_graph
from michelreco.reco.track import cluster_skeleton
from michelreco.run.io import EVENTS_DATASET, check_xyze_row, event_count, iter_events, iter_rows

__all__ = ["load_events", "bench_finder", "bench_stages", "bench_dbscan", "bench_read", "bench_read_layouts",
           "bench_run", "STAGES", "READ_LAYOUTS"]

STAGES = ("input checks", "canonical order", "neighbour graph and clusters", "skeletons",
          "candidates and features", "selection", "voxels at the cut, faint voxels, gathering")
"""The finder's stages as ``bench_stages`` times them (skeletons are timed on their own and taken out of the
candidates, which build them)."""


def load_events(path: str | os.PathLike, n_events: int, voxel_range: tuple[int, int] | None = None) -> list[np.ndarray]:
    """The first ``n_events`` events of a file whose voxel count lies in ``voxel_range`` (inclusive)."""
    out = []
    for _, xyze in iter_events(path):
        if voxel_range is None or voxel_range[0] <= len(xyze) <= voxel_range[1]:
            out.append(xyze)
            if len(out) == n_events:
                break
    return out


def _median_time(fn, events, repeats: int, clock=time.process_time) -> tuple[float, float, float]:
    """Median, min and max time (s, CPU time by default) of ``fn`` over all events, ``repeats`` passes."""
    times = []
    for _ in range(repeats):
        t0 = clock()
        for xyze in events:
            fn(xyze)
        times.append(clock() - t0)
    return float(np.median(times)), min(times), max(times)


def bench_finder(events: list[np.ndarray], params: dict | None = None, repeats: int = 5) -> dict:
    """Events per second of ``MichelFinder.find`` on one core: CPU time, median of ``repeats`` passes.

    Parameters
    ----------
    events : list of ndarray
        Events, (N, 4) each.
    params : dict, optional
        Finder parameters.
    repeats : int
        Passes over the events.

    Returns
    -------
    dict
        ``events``, ``mean_voxels``, ``seconds_median`` / ``_min`` / ``_max`` (CPU time of a pass),
        ``events_per_s`` (from the median), ``wall_seconds_median`` (one more set of passes, wall clock).
    """
    finder = MichelFinder(**(params or {}))
    finder.warm_up(max(events, key=len))         # compile / load the numba cache
    med, lo, hi = _median_time(finder.find, events, repeats)
    wall, _, _ = _median_time(finder.find, events, repeats, clock=time.perf_counter)
    return {"events": len(events), "mean_voxels": float(np.mean([len(x) for x in events])),
            "seconds_median": med, "seconds_min": lo, "seconds_max": hi,
            "events_per_s": len(events) / med, "wall_seconds_median": wall}


@njit(cache=True, nogil=True)
def _skeletons(xyz, labels, indptr, nbrs, min_voxels, min_branch_hops, max_chains):
    """The skeleton of every cluster of at least ``min_voxels`` voxels, as ``event_candidates`` builds them;
    returns the number of chains."""
    n = xyz.shape[0]
    if n == 0:
        return 0
    sizes, starts, order = clusters_in_order(labels)
    n_clusters = sizes.shape[0]
    dist = np.full(n, -1, np.int64)
    pred = np.full(n, -1, np.int64)
    root = np.full(n, -1, np.int64)
    chains = 0
    for c in range(n_clusters):
        if sizes[c] >= min_voxels:
            _, ptr, _ = cluster_skeleton(order[starts[c]:starts[c + 1]], xyz, indptr, nbrs, dist, pred, root,
                                         min_branch_hops, max_chains)
            chains += ptr.shape[0] - 1
    return chains


def bench_stages(events: list[np.ndarray], params: dict | None = None, repeats: int = 5) -> dict:
    """CPU time per event of each stage of the finder (``STAGES``), median of ``repeats`` passes.

    The stages are run one after the other on every event as ``MichelFinder.find`` runs them; the skeletons
    are also built on their own (``cluster_skeleton`` on every cluster the candidates analyse) and their time
    is taken out of the candidates'.

    Parameters
    ----------
    events : list of ndarray
        Events, (N, 4) each.
    params : dict, optional
        Finder parameters.
    repeats : int
        Passes over the events.

    Returns
    -------
    dict
        ``ms_per_event``: stage name -> median CPU ms per event; ``total_ms``: their sum; ``chains_per_event``,
        ``candidates_per_event``.
    """
    finder = MichelFinder(**(params or {}))
    p = finder.get_params()
    settings = finder._settings
    if p["clustering"] != "numba":
        raise InputError("bench_stages times the finder's own neighbour graph (clustering 'numba')")
    min_voxels, hops, max_chains = int(p["min_cluster_voxels"]), int(p["min_branch_hops"]), int(p["max_chains"])
    finder.warm_up(max(events, key=len))
    clock = time.process_time
    passes = []
    chains = candidates = 0
    for _ in range(repeats):
        acc = np.zeros(len(STAGES))
        chains = candidates = 0
        for xyze in events:
            t0 = clock()
            checked = checked_event(xyze)
            t1 = clock()
            index, xyz, xyz_f, energy = canonical_voxels(checked, float(p["energy_threshold_mev"]))
            t2 = clock()
            labels, indptr, nbrs = voxel_graph(xyz, p["eps_voxels"], validate=False)
            t3 = clock()
            chains += _skeletons(xyz_f, labels, indptr, nbrs, min_voxels, hops, max_chains)
            t4 = clock()
            feats, ptr, vox = event_candidates(xyz_f, energy, labels, indptr, nbrs, settings)
            t5 = clock()
            ok = finder.decide(feats)
            t6 = clock()
            found = finder._after_selection(index, (xyz_f, energy, labels), feats, ptr, vox, ok)
            finder.with_low_voxels(checked, found)
            t7 = clock()
            candidates += feats.shape[0]
            acc += (t1 - t0, t2 - t1, t3 - t2, t4 - t3, (t5 - t4) - (t4 - t3), t6 - t5, t7 - t6)
        passes.append(acc / len(events) * 1e3)
    med = np.median(passes, axis=0)
    return {"events": len(events), "ms_per_event": {name: float(v) for name, v in zip(STAGES, med)},
            "total_ms": float(med.sum()), "chains_per_event": chains / len(events),
            "candidates_per_event": candidates / len(events)}


def bench_dbscan(events: list[np.ndarray], eps: float = 1.8, min_samples: int = 1, repeats: int = 3) -> dict:
    """Median time per event of our DBSCAN and of scikit-learn's on the same events, labels checked equal."""
    from sklearn.cluster import DBSCAN

    coords = [np.ascontiguousarray(x[:, :3]) for x in events if len(x)]      # scikit-learn refuses empty ones
    if not coords:
        raise InputError("no event with voxels to compare DBSCAN on")
    sk = DBSCAN(eps=eps, min_samples=min_samples)
    for c in coords:
        if not np.array_equal(dbscan_voxels(c, eps, min_samples), sk.fit_predict(c)):
            raise AssertionError("DBSCAN labels differ from scikit-learn's")
    ours, _, _ = _median_time(lambda c: dbscan_voxels(c, eps, min_samples), coords, repeats)
    theirs, _, _ = _median_time(sk.fit_predict, coords, repeats)
    return {"events": len(coords), "eps": eps, "min_samples": min_samples,
            "ours_ms_per_event": 1e3 * ours / len(coords), "sklearn_ms_per_event": 1e3 * theirs / len(coords),
            "speedup": theirs / ours}


def bench_read(path: str | os.PathLike, stop: int | None = None) -> dict:
    """Events per second of a bare read pass (block-wise, with the input checks a run makes), no finding.

    Returns
    -------
    dict
        ``events``, ``seconds`` (wall), ``cpu_seconds``, ``events_per_s`` (wall), ``mean_voxels``.
    """
    t0, c0 = time.perf_counter(), time.process_time()
    n = voxels = 0
    for i, raw in iter_rows(path, EVENTS_DATASET, 0, stop):
        xyze = check_xyze_row(raw, i, path, duplicates=False)     # as find_in_range reads
        n += 1
        voxels += len(xyze)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"events": n, "seconds": seconds, "cpu_seconds": cpu, "events_per_s": n / seconds,
            "mean_voxels": voxels / max(n, 1)}


READ_LAYOUTS = {
    "contiguous (as written here)": {},
    "chunked 1,000 rows": {"chunks": (1000,)},
    "chunked 1,000, gzip 4": {"chunks": (1000,), "compression": "gzip", "compression_opts": 4},
    "chunked 1,000, shuffle + gzip 4": {"chunks": (1000,), "shuffle": True, "compression": "gzip",
                                        "compression_opts": 4},
    "chunked 100, lzf": {"chunks": (100,), "compression": "lzf"},
}
"""HDF5 layouts of the events dataset that ``bench_read_layouts`` compares: h5py ``create_dataset`` options.
Filters act on the dataset's own chunks, which for vlen rows hold the rows' references; the rows' values are
stored in the file's global heap."""


def _read_pass(path, block: int) -> tuple[float, float, int, float]:
    """Read every row of ``path`` in slices of ``block`` rows; (wall s, CPU s, values read, checksum: the sum of
    each row's first value)."""
    t0, c0 = time.perf_counter(), time.process_time()
    values = 0
    check = 0.0
    for _, row in iter_rows(path, EVENTS_DATASET, 0, None, block=block):
        values += row.size
        if row.size:
            check += float(row[0])
    return time.perf_counter() - t0, time.process_time() - c0, values, check


def bench_read_layouts(path: str | os.PathLike, n_events: int = 2000, blocks: tuple[int, ...] = (100, 500, 1000),
                       repeats: int = 3, tmpdir: str | os.PathLike | None = None) -> list[dict]:
    """Read speed of the first ``n_events`` events copied into each layout of ``READ_LAYOUTS``, per read block.

    Every copy is read whole ``repeats`` times per block size (the file is in the page cache after the first:
    this measures h5py and the filters, not the disk). The memory a read holds is one block of rows.

    Parameters
    ----------
    path : path-like
        An events file.
    n_events : int
        Events copied.
    blocks : tuple of int
        Rows per HDF5 read.
    repeats : int
        Passes per layout and block (medians quoted).
    tmpdir : path-like, optional
        Where the copies go (a temporary folder, removed after).

    Returns
    -------
    list of dict
        One per (layout, block): ``layout``, ``block``, ``file_mb``, ``events_per_s``, ``mb_per_s`` (of
        values read), ``cpu_us_per_event``, ``block_mb`` (values held by one block, on average), ``values`` and
        ``checksum`` (what was read: the same for every layout).
    """
    n = min(n_events, event_count(path))
    rows = [row for _, row in iter_rows(path, EVENTS_DATASET, 0, n)]
    mean_bytes = float(np.mean([r.nbytes for r in rows])) if rows else 0.0
    out = []
    with tempfile.TemporaryDirectory(prefix="michelreco-read-", dir=tmpdir) as tmp:
        for k, (name, options) in enumerate(READ_LAYOUTS.items()):
            copy = Path(tmp) / f"layout{k}_xyze.h5"
            with h5py.File(copy, "w") as f:
                if "chunks" in options:
                    options = {**options, "chunks": (max(min(options["chunks"][0], n), 1),)}
                ds = f.create_dataset(EVENTS_DATASET, (n,), dtype=h5py.vlen_dtype(np.float32), **options)
                for lo in range(0, n, 1000):
                    block = np.empty(min(1000, n - lo), dtype=object)
                    block[:] = rows[lo:lo + 1000]
                    ds[lo:lo + len(block)] = block
            size_mb = os.path.getsize(copy) / 2 ** 20
            for block in blocks:
                _read_pass(copy, block)                       # page cache
                passes = [_read_pass(copy, block) for _ in range(repeats)]
                wall = float(np.median([p[0] for p in passes]))
                cpu = float(np.median([p[1] for p in passes]))
                values, check = passes[0][2], passes[0][3]
                out.append({"layout": name, "block": block, "file_mb": size_mb, "events_per_s": n / wall,
                            "mb_per_s": values * 4 / 2 ** 20 / wall, "cpu_us_per_event": cpu / n * 1e6,
                            "block_mb": min(block, n) * mean_bytes / 2 ** 20, "values": values,
                            "checksum": check})
            copy.unlink()
    return out


def bench_run(path: str | os.PathLike, workers: int, stop: int | None = None, params: dict | None = None,
              chunk: int = 500) -> dict:
    """A whole ``find-michels`` run (read, find, checkpoint, write) into a temporary file, and where its time went.

    Always through a pool of fresh worker processes, even of one, so the peak memory is a worker's own.

    Parameters
    ----------
    path : path-like
        The events file.
    workers : int
        Worker processes.
    stop : int, optional
        Events [0, stop) (default: all).
    params : dict, optional
        Finder parameters.
    chunk : int
        Events per range.

    Returns
    -------
    dict
        ``workers``, ``events``, ``seconds`` (wall, the pool's start included, the warm-up not), ``events_per_s``;
        ``finder_cpu_s`` (the workers' CPU time inside the finder), ``read_cpu_s`` (their other CPU time in the
        ranges: reading and input checks), ``parent_cpu_s`` (receiving results, checkpoints, writing),
        ``overhead`` (read + parent CPU over the finder's), ``wall_efficiency`` (finder CPU over workers x wall);
        ``peak_worker_rss_mb``, ``rss_first_mb`` / ``rss_last_mb`` (a worker's resident memory after its first
        and after the last range), ``rss_trace``.
    """
    from michelreco.run.parallel import run_file
    from michelreco.run.workers import worker_pool

    with tempfile.TemporaryDirectory(prefix="michelreco-bench-") as tmp, worker_pool(workers) as pool:
        t0 = time.perf_counter()
        summary = run_file(path, Path(tmp) / "solution.h5", params, workers=workers, stop=stop, chunk=chunk,
                           progress=False, executor=pool)
        # the warm-up (compiling, or loading the compiled cache, in a child process) is not what is measured
        seconds = time.perf_counter() - t0 - summary.warm_up_seconds
    events = stop if stop is not None else event_count(path)
    finder = summary.find_seconds
    read = summary.task_cpu_seconds - finder
    trace = summary.rss_trace
    return {"workers": workers, "events": events, "seconds": seconds, "events_per_s": events / seconds,
            "finder_cpu_s": finder, "read_cpu_s": read, "parent_cpu_s": summary.parent_cpu_seconds,
            "overhead": (read + summary.parent_cpu_seconds) / finder if finder > 0 else float("nan"),
            "wall_efficiency": finder / (workers * seconds) if seconds > 0 else float("nan"),
            "peak_worker_rss_mb": summary.peak_worker_rss_mb,
            "rss_first_mb": trace[0][1] if trace else 0.0, "rss_last_mb": trace[-1][1] if trace else 0.0,
            "rss_trace": trace}


