"""Benchmarks of the finder on events held in memory: whole finder per core, and DBSCAN against scikit-learn.

Timings exclude numba's compilation (one warm-up call first) and reading; each figure is the median of
``repeats`` passes over the same events, so a noisy machine shows in the spread, not in the figure.
"""

from __future__ import annotations

import time

import numpy as np

from .cluster import dbscan_voxels
from .finder import MichelFinder
from .io import iter_events

__all__ = ["load_events", "bench_finder", "bench_dbscan"]


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
    finder.find(events[0])                       # compile / load the numba cache
    med, lo, hi = _median_time(finder.find, events, repeats)
    return {"events": len(events), "mean_voxels": float(np.mean([len(x) for x in events])),
            "seconds_median": med, "seconds_min": lo, "seconds_max": hi,
            "events_per_s": len(events) / med}


def bench_dbscan(events: list[np.ndarray], eps: float = 1.8, min_samples: int = 1, repeats: int = 3) -> dict:
    """Median time per event of our DBSCAN and of scikit-learn's on the same events, labels checked equal."""
    from sklearn.cluster import DBSCAN

    coords = [np.ascontiguousarray(x[:, :3]) for x in events]
    sk = DBSCAN(eps=eps, min_samples=min_samples)
    for c in coords:
        if not np.array_equal(dbscan_voxels(c, eps, min_samples), sk.fit_predict(c)):
            raise AssertionError("DBSCAN labels differ from scikit-learn's")
    ours, _, _ = _median_time(lambda c: dbscan_voxels(c, eps, min_samples), coords, repeats)
    theirs, _, _ = _median_time(sk.fit_predict, coords, repeats)
    return {"events": len(coords), "eps": eps, "min_samples": min_samples,
            "ours_ms_per_event": 1e3 * ours / len(coords), "sklearn_ms_per_event": 1e3 * theirs / len(coords),
            "speedup": theirs / ours}
