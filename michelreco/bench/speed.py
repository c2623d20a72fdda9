"""Benchmarks: the finder on events held in memory (per core, and DBSCAN against scikit-learn), and whole runs
over a file (a bare read pass, runs with 1 and N workers, the scikit-learn reference pipeline).

Timings exclude numba's compilation (one warm-up call first) and reading; each figure is the median of
``repeats`` passes over the same events, so a noisy machine shows in the spread, not in the figure.
"""

from __future__ import annotations

import time

import numpy as np

from michelreco.bench.dbscan import dbscan_voxels
from michelreco.errors import InputError
from michelreco.reco.finder import MichelFinder
from michelreco.run.io import event_count, iter_events

__all__ = ["load_events", "bench_finder", "bench_dbscan", "bench_read", "bench_run"]


def load_events(path, n_events: int, voxel_range: tuple[int, int] | None = None) -> list[np.ndarray]:
    """The first ``n_events`` events of a file whose voxel count lies in ``voxel_range`` (inclusive)."""
    out = []
    for _, xyze in iter_events(path):
        if voxel_range is None or voxel_range[0] <= len(xyze) <= voxel_range[1]:
            out.append(xyze)
            if len(out) == n_events:
                break
    return out


def _median_time(fn, events, repeats: int) -> tuple[float, float, float]:
    """Median, min and max wall time (s) of ``fn`` over all events, ``repeats`` passes."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for xyze in events:
            fn(xyze)
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), min(times), max(times)


def bench_finder(events: list[np.ndarray], params: dict | None = None, repeats: int = 5) -> dict:
    """Events per second of ``MichelFinder.find`` on one core (median of ``repeats`` passes)."""
    finder = MichelFinder(**(params or {}))
    finder.find(max(events, key=len))            # compile / load the numba cache
    med, lo, hi = _median_time(finder.find, events, repeats)
    return {"events": len(events), "mean_voxels": float(np.mean([len(x) for x in events])),
            "seconds_median": med, "seconds_min": lo, "seconds_max": hi,
            "events_per_s": len(events) / med}


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


def bench_read(path, stop: int | None = None) -> dict:
    """Events per second of a bare read pass (block-wise, with the input checks), no finding."""
    t0 = time.perf_counter()
    n = voxels = 0
    for _, xyze in iter_events(path, 0, stop):
        n += 1
        voxels += len(xyze)
    seconds = time.perf_counter() - t0
    return {"events": n, "seconds": seconds, "events_per_s": n / seconds, "mean_voxels": voxels / max(n, 1)}


def bench_run(path, workers: int, stop: int | None = None, params: dict | None = None, chunk: int = 500) -> dict:
    """Wall time of a whole ``find-michels`` run (read, find, checkpoint, write) into a temporary file.

    Always through a pool of fresh worker processes, even of one, so the peak memory is a worker's own.
    """
    import tempfile
    from pathlib import Path

    from michelreco.run.parallel import run_file, warm_up
    from michelreco.run.workers import worker_pool

    warm_up(path, 0, params or {})          # compilation is not what is measured
    with tempfile.TemporaryDirectory(prefix="michelreco-bench-") as tmp, worker_pool(workers) as pool:
        t0 = time.perf_counter()
        summary = run_file(path, Path(tmp) / "solution.h5", params, workers=workers, stop=stop, chunk=chunk,
                           progress=False, executor=pool)
        seconds = time.perf_counter() - t0
    events = stop if stop is not None else event_count(path)
    return {"workers": workers, "events": events, "seconds": seconds, "events_per_s": events / seconds,
            "peak_worker_rss_mb": summary.peak_worker_rss_mb}


