"""Parameter sweeps of MichelFinder against labelled events.

A grid (JSON or YAML) names finder parameters and their values: a list (every value is tried), or
``{min: a, max: b}`` (drawn uniformly in random search; integers for integer parameters). Without
ranges and without ``random``, every combination is tried; with ``random`` K, K combinations are drawn.
Every value, and every drawn set as a whole, is checked against the finder's parameter schema.

The events are split once into a tuning part and a validation part. Candidates (clusters, skeletons,
features) depend only on the pipeline parameters, so they are built once per event for each distinct
set of pipeline values, in parallel; every selection set (rule thresholds, model threshold) is then judged on
them, which costs a fraction of a finder run. A grid may also name training settings (``max_iter``,
``learning_rate``, ``max_leaf_nodes``, ``min_samples_leaf``, ``l2_regularization``): each such set trains its own
model on the tuning events (fitted on 75% of them, its threshold chosen on the other 25%, where its tuning
scores are counted), jointly with any pipeline parameters of the grid, and is scored as ``find`` would use it
(with a cut model fitted once on the same 75%); ``best.yaml`` then feeds ``michelreco train --config``.

While it runs, a sweep keeps its finished sets in ``DIR.parts/results.csv`` beside a manifest (the
sweep's fingerprint: package version, both input files, events, split, seed, grid, number of draws);
``--resume`` continues an interrupted sweep with the same fingerprint and refuses another with one line.
When every set is done, ``DIR`` (``results.csv``, ``best.yaml``, ``sweep.png``, ``sweep.json`` with the
fingerprint) is built aside and swapped in whole (``outputs.output_directory``); ``DIR.parts`` is removed.
A second sweep on the same ``DIR`` while one runs is refused (``checkpoint.open_parts``).
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import shutil
from os import PathLike
from pathlib import Path

import numpy as np
import yaml

from michelreco import __version__
from michelreco.analysis.metrics import Counts, event_counts
from michelreco.config import check_params, load_mapping
from michelreco.constants import MICHEL_LABEL
from michelreco.errors import InputError, MichelrecoError
from michelreco.reco.finder import PIPELINE_PARAMETERS, MichelFinder
from michelreco.reco.candidates import one_reading_per_cluster
from michelreco.reco.cut_voxels import finished_voxels
from michelreco.reco.model import MODEL_FEATURES, TreeModel
from michelreco.reco.schema import ALL_PARAMETERS, RULE_PARAMETERS, TRAINING_PARAMETERS
from michelreco.run.checkpoint import input_fingerprint, open_parts
from michelreco.run.io import LABELS_DATASET, check_label_row, event_count, iter_events, iter_labels
from michelreco.run.outputs import check_output, output_directory, write_bytes_atomically
from michelreco.run.parallel import event_ranges, ordered_results, progress_bar
from michelreco.run.train import TRAIN_DEFAULTS, fit_cut_model, fit_with_threshold, holdout_mask, table_of_events
from michelreco.run.workers import worker_pool

__all__ = ["load_grid", "parameter_sets", "split_events", "run_sweep", "sweep_fingerprint"]

_COUNT_COLUMNS = ("tp", "fp", "fn", "precision", "recall", "f1")


def _known() -> dict:
    """Every name a grid may hold -> its default: the finder's parameters and the training settings."""
    return {**MichelFinder().get_params(), **TRAIN_DEFAULTS}


def load_grid(path: str | PathLike) -> dict:
    """A validated grid: parameter name -> list of values, or {"min": a, "max": b}."""
    grid = load_mapping(path)
    if not grid:
        raise InputError(f"{path}: the grid names no parameter")
    defaults = _known()
    for name, spec in grid.items():
        where = f"{path}: parameter '{name}'"
        if name not in defaults:
            raise InputError(f"{path}: unknown parameter '{name}'")
        if isinstance(spec, dict):
            if set(spec) != {"min", "max"}:
                raise InputError(f"{where}: a range is {{min: a, max: b}}")
            check_params({name: spec["min"]}, defaults, where=str(path))
            check_params({name: spec["max"]}, defaults, where=str(path))
            if _spec(name).kind not in (int, float) or spec["min"] > spec["max"]:
                raise InputError(f"{where}: a range needs numbers with min <= max")
        elif isinstance(spec, list):
            if not spec:
                raise InputError(f"{where}: empty list of values")
            for value in spec:
                check_params({name: value}, defaults, where=str(path))
        else:
            raise InputError(f"{where}: give a list of values or {{min: a, max: b}}")
    if any(name in TRAINING_PARAMETERS for name in grid):
        # each set trains its own model on the tuning events: nothing else may choose the candidates
        clash = [name for name in grid if name in RULE_PARAMETERS or name in ("selection", "model")]
        if clash:
            raise InputError(f"{path}: training settings train a model per set; {', '.join(clash)} cannot be "
                             f"swept with them (sweep rule thresholds with selection 'rules' separately)")
    elif "selection" not in grid and any(name in RULE_PARAMETERS for name in grid):
        grid["selection"] = ["rules"]      # rule thresholds only matter when the hand rules choose
    return grid


def _spec(name: str):
    """The schema entry of a grid name."""
    return TRAINING_PARAMETERS.get(name) or ALL_PARAMETERS[name]


def parameter_sets(grid: dict, random: int | None = None, seed: int = 0) -> list[dict]:
    """The parameter sets of a grid: all combinations, or ``random`` draws."""
    defaults = _known()
    ranges = [name for name, spec in grid.items() if isinstance(spec, dict)]
    if random is None:
        if ranges:
            raise InputError(f"parameters {', '.join(ranges)} are ranges: give --random K to draw K sets")
        names = list(grid)
        return [_whole_set(check_params(dict(zip(names, values)), defaults), k)
                for k, values in enumerate(itertools.product(*grid.values()))]
    if random < 1:
        raise InputError(f"--random must be at least 1, got {random}")
    rng = np.random.default_rng(seed)
    sets = []
    for _ in range(random):
        draw = {}
        for name, spec in grid.items():
            if isinstance(spec, dict):
                if _spec(name).kind is int:
                    draw[name] = int(rng.integers(spec["min"], spec["max"] + 1))
                else:
                    draw[name] = float(rng.uniform(spec["min"], spec["max"]))
            else:
                draw[name] = spec[int(rng.integers(len(spec)))]
        sets.append(_whole_set(check_params(draw, defaults), len(sets)))
    return sets


def _whole_set(params: dict, k: int) -> dict:
    """A parameter set checked as a whole (orderings between parameters), or InputError naming it."""
    try:
        MichelFinder(**{k: v for k, v in params.items() if k not in TRAINING_PARAMETERS})
    except MichelrecoError as err:
        raise InputError(f"parameter set {k} of the grid ({_key(params)}) is not valid: {err}") from None
    return params


def split_events(n: int, validation_fraction: float, seed: int = 0) -> np.ndarray:
    """Boolean mask of the validation events (a seeded random choice of the given fraction)."""
    if not 0.0 <= validation_fraction < 1.0:
        raise InputError("--validation-fraction must be in [0, 1)")
    mask = np.zeros(n, bool)
    mask[np.random.default_rng(seed).permutation(n)[:int(round(validation_fraction * n))]] = True
    return mask


def _key(params: dict) -> str:
    """A parameter set as canonical JSON (the same set, the same key)."""
    return json.dumps(params, sort_keys=True)


def _candidates_of_range(xyze_path, labels_path, start, stop, pipeline: dict):
    """Per event of [start, stop): kept-voxel indices, candidate features, voxel lists, the voxels near the peaks
    (``MichelFinder.candidates_and_cut``), the event itself (its faint voxels join the chosen ones, as ``find``
    adds them) and the labels."""
    finder = MichelFinder(**pipeline)
    out = []
    for (i, xyze), (_, labels) in zip(iter_events(xyze_path, start, stop), iter_labels(labels_path, start, stop)):
        check_label_row(labels, len(xyze), i, labels_path)
        out.append((*finder.candidates_and_cut(xyze), xyze, labels))
    return out


def _judge(cached, choose, validation: np.ndarray, use: np.ndarray | None = None) -> np.ndarray:
    """Pooled TP/FP/FN on the cached events (those flagged in ``use``, all by default) of a selection ``choose``
    (an event's candidates, cut rows and voxels -> the voxels taken, as ``MichelFinder.choose``): rows tuning,
    validation."""
    counts = np.zeros((2, 3), np.int64)
    for i, (*candidates, labels) in enumerate(cached):
        if use is None or use[i]:
            counts[int(validation[i])] += event_counts(choose(*candidates), labels)
    return counts


class _Trainer:
    """Sets with training settings: each trains a model on the tuning events, as ``michelreco train`` does.

    The ensemble is fitted on 75% of the tuning events and its threshold chosen on the other 25%
    (``model_threshold`` in the set overrides it); a set's tuning scores are counted on those held-back
    events only, which the fit never saw, and its validation scores on the validation events. The voxels near
    the taken peaks are then decided again as ``find`` does, by a cut model (``train.fit_cut_model``) fitted
    once on the same 75%: its settings are not swept.
    """

    def __init__(self, cached: list, validation: np.ndarray, seed: int, finder: MichelFinder):
        self.validation, self.seed, self.finder = validation, seed, finder
        tuning = np.flatnonzero(~validation)
        self.table = table_of_events([cached[i] for i in tuning], finder)
        self.held = holdout_mask(len(tuning), 0.25, seed)
        self.use = validation.copy()
        self.use[tuning[self.held]] = True
        self.cut_model = fit_cut_model(self.table.subset(~self.held), seed)
        # the cut model's verdicts on the events scored, once for every set: (cut rows, verdicts) per event
        self.cached = [(index, feats, ptr, vox, self._at_cut(cut) if use else (None, None), xyze, labels)
                       for (index, feats, ptr, vox, cut, xyze, labels), use in zip(cached, self.use)]

    def _at_cut(self, cut: tuple) -> tuple:
        """An event's cut rows and the cut model's verdict on each (no rows, no model: whole candidates)."""
        if self.cut_model is None or not len(cut[2]):
            return None, None
        return cut, self.cut_model.decide(cut[2])

    def model(self, params: dict) -> TreeModel:
        """The model a set trains (its training settings; the threshold chosen on the held-back events), with the
        cut model."""
        settings = {k: v for k, v in params.items() if k in TRAINING_PARAMETERS}
        clf, threshold, _ = fit_with_threshold(self.table, self.held, settings, self.seed)
        model = TreeModel.from_sklearn(clf, MODEL_FEATURES, threshold)
        model.cut_model = self.cut_model
        return model

    def counts(self, params: dict) -> np.ndarray:
        """Tuning (held-back part) and validation TP/FP/FN of the model trained with the set's settings."""
        model = self.model(params)
        t = params.get("model_threshold")
        nodes = params.get("cut_voxels", ALL_PARAMETERS["cut_voxels"].default) == "nodes"

        def choose(index, feats, ptr, vox, at_cut, xyze):
            take = one_reading_per_cluster(feats, model.decide(feats, t))
            found = finished_voxels(index, ptr, vox, take, *((None, None) if nodes else at_cut))
            return self.finder.with_low_voxels(xyze, found)

        return _judge(self.cached, choose, self.validation, self.use)


def _row(set_id: int, params: dict, counts: np.ndarray, names: list[str]) -> dict:
    """One results.csv row: the set, its parameters, tuning and validation counts and scores."""
    row = {"set": set_id, **{name: params[name] for name in names}}
    for part, c in zip(("tune", "validation"), counts):
        scores = Counts(*map(int, c))
        for col in _COUNT_COLUMNS:
            row[f"{part}_{col}"] = getattr(scores, col)
    return row


def _csv_bytes(rows: list[dict]) -> bytes:
    """The results table as CSV (the csv module quotes what needs it)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode()


def sweep_fingerprint(xyze_path: str | PathLike, labels_path: str | PathLike, grid: dict, *, events: int,
                      validation_fraction: float, random: int | None, seed: int) -> dict:
    """What identifies a sweep's results: version, inputs, events, split, seed, grid and number of draws.

    Parameters
    ----------
    xyze_path, labels_path : path-like
        The training events and labels (fingerprinted by ``checkpoint.input_fingerprint``).
    grid : dict
        The grid as loaded.
    events : int
        Events used.
    validation_fraction : float
        The split.
    random : int or None
        Random draws, or ``None`` for every combination.
    seed : int
        Seed of the split and the draws.

    Returns
    -------
    dict
        JSON-normalized (as it reads back from ``manifest.json`` and ``sweep.json``).
    """
    return json.loads(json.dumps({
        "version": __version__, "xyze": input_fingerprint(xyze_path), "labels": input_fingerprint(labels_path),
        "events": events, "validation_fraction": validation_fraction, "seed": seed, "random": random,
        "grid": grid}, sort_keys=True))


def _difference(old: dict | None, new: dict) -> str:
    """What differs between two sweep fingerprints, in the user's terms."""
    if old is None:
        return "its manifest is missing or unreadable"
    names = {"xyze": "events file", "labels": "label file", "events": "--events",
             "validation_fraction": "--validation-fraction", "seed": "--seed", "random": "--random",
             "grid": "grid", "version": "michelreco version"}
    diff = [names.get(k, k) for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    return "made with another " + ", ".join(diff)


def _finished_rows(parts: Path, names: list[str]) -> list[dict]:
    """The rows an interrupted sweep finished in ``parts`` (none where they cannot be read back whole)."""
    results = parts / "results.csv"
    if not results.exists():
        return []
    try:
        with open(results, newline="") as f:
            rows = list(csv.DictReader(f))
        for row in rows:
            check_params({k: yaml.safe_load(row[k]) for k in names}, _known())
            float(row["tune_f1"])
    except (OSError, ValueError, KeyError, yaml.YAMLError, MichelrecoError):
        return []                       # unreadable: compute every set again
    return rows


def run_sweep(xyze_path: str | PathLike, labels_path: str | PathLike, grid_path: str | PathLike,
              out_dir: str | PathLike, *, events: int | None = None, validation_fraction: float = 0.3,
              random: int | None = None, workers: int = 1, seed: int = 0, progress: bool = True, chunk: int = 200,
              force: bool = False, resume: bool = False) -> dict:
    """Run a sweep; write DIR/results.csv, DIR/best.yaml, DIR/sweep.png, DIR/sweep.json. Returns the best row.

    Parameters
    ----------
    xyze_path, labels_path, grid_path : path-like
        Training events, their labels, the grid.
    out_dir : path-like
        The results folder (replaced only with ``force``; built aside and swapped in when complete).
    events : int, optional
        Use the first ``events`` events (at least 1; default all).
    validation_fraction : float
        Fraction of the events kept out of the choice, in [0, 1), leaving at least one tuning event.
    random : int, optional
        Draw this many sets (at least 1) instead of every combination.
    workers : int
        Worker processes (at least 1).
    seed : int
        Seed of the split and of the draws.
    progress : bool
        Progress bar.
    chunk : int
        Events per task.
    force, resume : bool
        Replace an existing DIR (and discard an interrupted sweep's parts); continue an interrupted sweep.

    Returns
    -------
    dict
        The best row of results.csv (by F1 on the tuning events).
    """
    from michelreco.analysis.plots import pyplot

    pyplot()                                          # fail now, not after the sweep, if matplotlib is missing
    if events is not None and events < 1:
        raise InputError(f"--events must be at least 1, got {events}")
    if workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    if chunk < 1:
        raise InputError(f"--chunk must be at least 1, got {chunk}")
    out_dir = Path(out_dir)
    inputs = [xyze_path, labels_path, grid_path]
    check_output(out_dir, inputs, force, folder=True)
    grid = load_grid(grid_path)
    sets = parameter_sets(grid, random, seed)
    names = list(grid)
    n_file, n_labels = event_count(xyze_path), event_count(labels_path, LABELS_DATASET)
    if n_labels != n_file:
        raise InputError(f"{xyze_path} has {n_file} events but {labels_path} has {n_labels}")
    n = n_file if events is None else min(events, n_file)
    validation = split_events(n, validation_fraction, seed)
    if validation.all():
        raise InputError(f"--validation-fraction {validation_fraction} leaves no tuning event of {n}")
    fingerprint = sweep_fingerprint(xyze_path, labels_path, grid, events=n, validation_fraction=validation_fraction,
                                    random=random, seed=seed)
    parts = Path(str(out_dir) + ".parts")
    lock, resumed = open_parts(parts, fingerprint, resume, force, _difference,
                               "an interrupted sweep left its results here")
    rows = _finished_rows(parts, names) if resumed else []
    with contextlib.closing(lock) if lock is not None else contextlib.nullcontext():    # held until the end
        done = {_key(check_params({k: yaml.safe_load(str(row[k])) for k in names}, _known())) for row in rows}
        todo = [(i, p) for i, p in enumerate(sets) if _key(p) not in done]
        pipeline_names = [name for name in names if name in PIPELINE_PARAMETERS]
        training_names = [name for name in names if name in TRAINING_PARAMETERS]
        groups: dict[str, list] = {}
        for i, p in todo:
            groups.setdefault(_key({k: p[k] for k in pipeline_names}), []).append((i, p))
        bar = progress_bar(len(sets), progress, unit="set")
        bar.update(len(sets) - len(todo))
        try:
            with (worker_pool(workers) if workers > 1 else contextlib.nullcontext()) as pool:
                for group in groups.values():
                    pipeline = {k: group[0][1][k] for k in pipeline_names}
                    tasks = [(str(xyze_path), str(labels_path), lo, hi, pipeline)
                             for lo, hi in event_ranges(0, n, chunk)]
                    cached = [ev for part in ordered_results(pool, _candidates_of_range, workers, tasks) for ev in part]
                    _refuse_without_michels(cached, validation, n, xyze_path)
                    trainer = _Trainer(cached, validation, seed, MichelFinder(**pipeline)) if training_names else None
                    for i, params in group:
                        if trainer is None:
                            counts = _judge(cached, MichelFinder(**params).choose, validation)
                        else:
                            counts = trainer.counts(params)
                        rows.append(_row(i, params, counts, names))
                        write_bytes_atomically(parts / "results.csv", _csv_bytes(rows))
                        bar.update(1)
        except InputError:
            shutil.rmtree(parts, ignore_errors=True)     # bad input: no resume can finish this sweep
            raise
        finally:
            bar.close()
        rows.sort(key=lambda r: int(r["set"]))
        best = max(rows, key=lambda r: float(r["tune_f1"]))
        best_params = check_params({k: yaml.safe_load(str(best[k])) for k in names}, _known())
        header = (f"# best of {len(rows)} parameter sets by pooled F1 on {int((~validation).sum())} tuning events:\n"
                  f"# tuning F1 {float(best['tune_f1']):.4f}; validation F1 {float(best['validation_f1']):.4f} on "
                  f"{int(validation.sum())} events\n")
        with output_directory(out_dir, inputs, force) as tmp:
            (tmp / "results.csv").write_bytes(_csv_bytes(rows))
            (tmp / "best.yaml").write_text(header + yaml.safe_dump(best_params, sort_keys=True))
            (tmp / "sweep.json").write_text(json.dumps(fingerprint, indent=1) + "\n")
            _plot(rows, names, tmp / "sweep.png")
        shutil.rmtree(parts, ignore_errors=True)
        return best


def _refuse_without_michels(cached, validation: np.ndarray, n: int, xyze_path) -> None:
    """A sweep needs Michel voxels among its tuning events, or every set scores F1 = 0."""
    tuning = sum(int(np.count_nonzero(ev[-1] == MICHEL_LABEL)) for ev, v in zip(cached, validation) if not v)
    if tuning == 0:
        raise InputError(f"{xyze_path}: the {int((~validation).sum())} tuning events of the first {n} hold no "
                         f"Michel voxel: nothing to tune on (use more --events)")


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
