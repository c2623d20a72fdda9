"""Parameter sweeps of MichelFinder against labelled events.

A grid (JSON or YAML) names finder parameters and their values: a list (every value is tried), or
``{min: a, max: b}`` (drawn uniformly in random search; integers for integer parameters). Without
ranges and without ``random``, every combination is tried; with ``random`` K, K combinations are drawn.

The events are split once into a tuning part and a validation part. Candidates (clusters, skeletons,
features) depend only on the pipeline parameters, so they are built once per event for each distinct
set of pipeline values, in parallel; every rule-parameter set is then judged on them (a compiled rule
program per set), which costs a fraction of a finder run. Results are appended to ``DIR/results.csv``
as sets finish: an interrupted sweep keeps them, and a rerun with the same DIR skips them.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import yaml

from michelreco.config import check_params, load_mapping
from michelreco.errors import InputError
from michelreco.reco.finder import PIPELINE_PARAMETERS, MichelFinder
from michelreco.run.io import event_count, iter_events, iter_labels, write_bytes_atomically
from michelreco.analysis.metrics import Counts, event_counts
from michelreco.run.parallel import event_ranges, ordered_results, progress_bar

__all__ = ["load_grid", "parameter_sets", "split_events", "run_sweep"]

_COUNT_COLUMNS = ("tp", "fp", "fn", "precision", "recall", "f1")


def load_grid(path) -> dict:
    """A validated grid: parameter name -> list of values, or {"min": a, "max": b}."""
    grid = load_mapping(path)
    if not grid:
        raise InputError(f"{path}: the grid names no parameter")
    defaults = MichelFinder().get_params()
    for name, spec in grid.items():
        where = f"{path}: parameter '{name}'"
        if name not in defaults:
            raise InputError(f"{path}: unknown parameter '{name}'")
        if isinstance(spec, dict):
            if set(spec) != {"min", "max"}:
                raise InputError(f"{where}: a range is {{min: a, max: b}}")
            check_params({name: spec["min"]}, defaults, where=str(path))
            check_params({name: spec["max"]}, defaults, where=str(path))
            if not isinstance(defaults[name], (int, float)) or spec["min"] > spec["max"]:
                raise InputError(f"{where}: a range needs numbers with min <= max")
        elif isinstance(spec, list):
            if not spec:
                raise InputError(f"{where}: empty list of values")
            for value in spec:
                check_params({name: value}, defaults, where=str(path))
        else:
            raise InputError(f"{where}: give a list of values or {{min: a, max: b}}")
    return grid


def parameter_sets(grid: dict, random: int | None = None, seed: int = 0) -> list[dict]:
    """The parameter sets of a grid: all combinations, or ``random`` draws."""
    defaults = MichelFinder().get_params()
    ranges = [name for name, spec in grid.items() if isinstance(spec, dict)]
    if random is None:
        if ranges:
            raise InputError(f"parameters {', '.join(ranges)} are ranges: give --random K to draw K sets")
        names = list(grid)
        return [check_params(dict(zip(names, values)), defaults) for values in itertools.product(*grid.values())]
    rng = np.random.default_rng(seed)
    sets = []
    for _ in range(random):
        draw = {}
        for name, spec in grid.items():
            if isinstance(spec, dict):
                if isinstance(defaults[name], int) and not isinstance(defaults[name], bool):
                    draw[name] = int(rng.integers(spec["min"], spec["max"] + 1))
                else:
                    draw[name] = float(rng.uniform(spec["min"], spec["max"]))
            else:
                draw[name] = spec[int(rng.integers(len(spec)))]
        sets.append(check_params(draw, defaults))
    return sets


def split_events(n: int, validation_fraction: float, seed: int = 0) -> np.ndarray:
    """Boolean mask of the validation events (a seeded random choice of the given fraction)."""
    if not 0.0 <= validation_fraction < 1.0:
        raise InputError("--validation-fraction must be in [0, 1)")
    mask = np.zeros(n, bool)
    mask[np.random.default_rng(seed).permutation(n)[:int(round(validation_fraction * n))]] = True
    return mask


def _key(params: dict) -> str:
    return json.dumps(params, sort_keys=True)


def _candidates_of_range(xyze_path, labels_path, start, stop, pipeline: dict):
    """Per event of [start, stop): candidate features, voxel lists, kept-voxel indices and truth mask."""
    finder = MichelFinder(**pipeline)
    out = []
    for (i, xyze), (_, labels) in zip(iter_events(xyze_path, start, stop), iter_labels(labels_path, start, stop)):
        if len(labels) != len(xyze):
            raise InputError(f"{labels_path}: event {i}: {len(labels)} labels for {len(xyze)} voxels")
        out.append((*finder.candidates(xyze), labels))
    return out


def _judge(cached, finder: MichelFinder, validation: np.ndarray) -> np.ndarray:
    """Pooled TP/FP/FN of one parameter set on the cached events: rows tuning, validation."""
    counts = np.zeros((2, 3), np.int64)
    for i, (index, feats, ptr, vox, labels) in enumerate(cached):
        counts[int(validation[i])] += event_counts(finder.choose(index, feats, ptr, vox), labels)
    return counts


def _row(set_id: int, params: dict, counts: np.ndarray, names: list[str]) -> dict:
    row = {"set": set_id, **{name: params[name] for name in names}}
    for part, c in zip(("tune", "validation"), counts):
        scores = Counts(*map(int, c))
        for col in _COUNT_COLUMNS:
            row[f"{part}_{col}"] = getattr(scores, col)
    return row


def _write_csv(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_bytes_atomically(path, buf.getvalue().encode())


def run_sweep(xyze_path, labels_path, grid_path, out_dir, *, events: int | None = None,
              validation_fraction: float = 0.3, random: int | None = None, workers: int = 1, seed: int = 0,
              progress: bool = True, chunk: int = 200) -> dict:
    """Run a sweep; write DIR/results.csv, DIR/best.yaml, DIR/sweep.png. Returns the best row."""
    from michelreco.analysis.plots import pyplot

    pyplot()                                          # fail now, not after the sweep, if matplotlib is missing
    grid = load_grid(grid_path)
    sets = parameter_sets(grid, random, seed)
    names = list(grid)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    n = event_count(xyze_path) if events is None else min(events, event_count(xyze_path))
    if event_count(labels_path, "labels") < n:
        raise InputError(f"{labels_path}: fewer events than {xyze_path}")
    validation = split_events(n, validation_fraction, seed)
    results_path = out_dir / "results.csv"
    rows, done = [], set()
    if results_path.exists():                         # a rerun skips the sets already finished
        with open(results_path) as f:
            for row in csv.DictReader(f):
                rows.append(row)
                done.add(_key(check_params({k: yaml.safe_load(row[k]) for k in names},
                                           MichelFinder().get_params())))
    todo = [(i, p) for i, p in enumerate(sets) if _key(p) not in done]
    pipeline_names = [name for name in names if name in PIPELINE_PARAMETERS]
    groups: dict[str, list] = {}
    for i, p in todo:
        groups.setdefault(_key({k: p[k] for k in pipeline_names}), []).append((i, p))
    bar = progress_bar(len(todo), progress, unit="set")
    pool = ProcessPoolExecutor(max_workers=workers) if workers > 1 else None
    try:
        for group in groups.values():
            pipeline = {k: group[0][1][k] for k in pipeline_names}
            tasks = [(str(xyze_path), str(labels_path), lo, hi, pipeline) for lo, hi in event_ranges(0, n, chunk)]
            cached = [ev for part in ordered_results(pool, _candidates_of_range, workers, tasks) for ev in part]
            for i, params in group:
                rows.append(_row(i, params, _judge(cached, MichelFinder(**params), validation), names))
                _write_csv(results_path, rows)
                bar.update(1)
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    best = max(rows, key=lambda r: float(r["tune_f1"]))
    best_params = check_params({k: yaml.safe_load(str(best[k])) for k in names}, MichelFinder().get_params())
    header = (f"# best of {len(rows)} parameter sets by pooled F1 on {int((~validation).sum())} tuning events:\n"
              f"# tuning F1 {float(best['tune_f1']):.4f}; validation F1 {float(best['validation_f1']):.4f} on "
              f"{int(validation.sum())} events\n")
    write_bytes_atomically(out_dir / "best.yaml", (header + yaml.safe_dump(best_params, sort_keys=True)).encode())
    _plot(rows, names, out_dir / "sweep.png")
    return best


def _plot(rows: list[dict], names: list[str], path: Path) -> None:
    """F1 on the tuning part against each swept parameter."""
    from michelreco.analysis.plots import pyplot, save_figure

    plt = pyplot()
    cols = min(len(names), 3)
    lines = -(-len(names) // cols)
    fig, axes = plt.subplots(lines, cols, figsize=(4.5 * cols, 3.2 * lines), squeeze=False)
    f1 = [float(r["tune_f1"]) for r in rows]
    for ax, name in zip(axes.ravel(), names):
        values = [yaml.safe_load(str(r[name])) for r in rows]
        ax.scatter(values, f1, s=12)
        ax.set_xlabel(name)
        ax.set_ylabel("F1 (tuning events)")
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
