"""Learn the Michel selection from labelled events: the candidate table, a tree ensemble, its threshold.

Every event's candidates are built in parallel (the finder's own pipeline, labels never shown to it); each
candidate is labelled by its voxels: a Michel when most of its voxels are labelled Michel, weighted by how many
voxels the decision moves (|Michel - other|), since F1 is counted in voxels. A ``HistGradientBoostingClassifier``
is fitted on part of the events; the decision threshold that maximizes pooled voxel F1 on the events held back
is chosen; the ensemble is then refitted on all events and written as data (``michelreco.reco.model``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from os import PathLike
from typing import TYPE_CHECKING

import numpy as np

from michelreco import __version__
from michelreco.analysis.metrics import Counts
from michelreco.config import check_params, load_mapping
from michelreco.constants import MICHEL_LABEL
from michelreco.errors import InputError
from michelreco.reco.candidates import one_reading_per_cluster
from michelreco.reco.cut_voxels import CUT_FEATURES
from michelreco.reco.finder import MichelFinder
from michelreco.reco.model import MODEL_FEATURES, TreeModel
from michelreco.reco.rules import DEFAULT_RULES, ENTERING_RULES
from michelreco.reco.schema import FEATURE_INDEX, PIPELINE_PARAMETERS, TRAINING_PARAMETERS
from michelreco.run.io import check_label_row, event_count, iter_events, iter_labels
from michelreco.run.parallel import event_ranges, ordered_results, progress_bar
from michelreco.run.workers import worker_pool

if TYPE_CHECKING:
    from sklearn.ensemble import HistGradientBoostingClassifier

__all__ = ["TRAIN_DEFAULTS", "CandidateTable", "candidate_table", "table_of_events", "training_finder",
           "training_settings", "best_threshold", "fit_ensemble", "fit_cut_model", "holdout_mask", "early_exit_for",
           "fit_with_threshold", "train_model", "save_model"]

# Tree-ensemble settings (scikit-learn's names, ranges in the schema); the sweep may vary them.
TRAIN_DEFAULTS = {name: spec.default for name, spec in TRAINING_PARAMETERS.items()}


@dataclass
class CandidateTable:
    """Every candidate of a set of events with its truth, in voxels.

    Attributes
    ----------
    features : ndarray (C, len(FEATURES))
    michel_voxels, other_voxels : ndarray of int64 (C,)
        Voxels of the candidate labelled Michel, and the others.
    event : ndarray of int64 (C,)
        Event index of each candidate.
    event_michel_voxels : ndarray of int64 (E,)
        Michel voxels of each event, inside a candidate or not (the recall's denominator).
    voxel_ptr, voxel_id, voxel_michel : ndarray
        Candidate c holds the voxels ``voxel_id[voxel_ptr[c]:voxel_ptr[c + 1]]`` (unique over all events), of
        which ``voxel_michel`` are labelled Michel: candidates may share voxels, so scores are counted on the
        union of the chosen ones, as the finder does.
    first_event : int
    cut_features, cut_michel, cut_event : ndarray (R, len(CUT_FEATURES)), (R,), (R,)
        The voxels near the peaks of the mostly-Michel stopping-muon candidates (``cut_voxels.cut_rows``),
        whether each is labelled Michel, and its event: what the cut model learns from.
    """

    features: np.ndarray
    michel_voxels: np.ndarray
    other_voxels: np.ndarray
    event: np.ndarray
    event_michel_voxels: np.ndarray
    voxel_ptr: np.ndarray
    voxel_id: np.ndarray
    voxel_michel: np.ndarray
    first_event: int = 0
    cut_features: np.ndarray = field(default_factory=lambda: np.empty((0, len(CUT_FEATURES))))
    cut_michel: np.ndarray = field(default_factory=lambda: np.empty(0, bool))
    cut_event: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))

    @property
    def target(self) -> np.ndarray:
        """Is each candidate mostly Michel?"""
        return self.michel_voxels > self.other_voxels

    @property
    def weight(self) -> np.ndarray:
        """Voxels a decision on each candidate moves between TP and FP (at least 1)."""
        return np.maximum(np.abs(self.michel_voxels - self.other_voxels), 1).astype(np.float64)

    def subset(self, events: np.ndarray) -> CandidateTable:
        """The candidates of the events flagged in the boolean mask ``events`` (indexed from first_event)."""
        keep = events[self.event - self.first_event]
        sizes = np.diff(self.voxel_ptr)
        entries = np.repeat(keep, sizes)
        rows = events[self.cut_event - self.first_event]
        return CandidateTable(self.features[keep], self.michel_voxels[keep], self.other_voxels[keep],
                              self.event[keep], np.where(events, self.event_michel_voxels, 0),
                              np.concatenate([[0], np.cumsum(sizes[keep])]), self.voxel_id[entries],
                              self.voxel_michel[entries], self.first_event, self.cut_features[rows],
                              self.cut_michel[rows], self.cut_event[rows])

    @classmethod
    def concatenate(cls, tables: Sequence[CandidateTable]) -> CandidateTable:
        """One table of the events of several, numbered on from 0 in the order given (voxel ids made unique)."""
        parts, offset = [], 0
        for t in tables:
            event = t.event - t.first_event + offset
            entry_event = np.repeat(event, np.diff(t.voxel_ptr))
            ids = (t.voxel_id & 0xFFFFFFFF) + (entry_event << 32)      # voxel index, new event number
            parts.append((t.features, t.michel_voxels, t.other_voxels, event, t.event_michel_voxels,
                          np.diff(t.voxel_ptr), ids, t.voxel_michel, t.cut_features, t.cut_michel,
                          t.cut_event - t.first_event + offset))
            offset += len(t.event_michel_voxels)
        return _table(parts, 0)

    def counts(self, take: np.ndarray) -> tuple[int, int, int]:
        """Pooled voxel TP, FP, FN when the candidates flagged in ``take`` are chosen (their union)."""
        entries = np.repeat(take, np.diff(self.voxel_ptr))
        ids, first = np.unique(self.voxel_id[entries], return_index=True)
        tp = int(self.voxel_michel[entries][first].sum())
        return tp, len(ids) - tp, int(self.event_michel_voxels.sum()) - tp

    def fingerprint(self) -> str:
        """SHA-256 of the table (features and truth): what a model was trained on, in one string."""
        h = hashlib.sha256()
        for a in (self.features, self.michel_voxels, self.other_voxels, self.event, self.event_michel_voxels,
                  self.voxel_ptr, self.voxel_id, self.voxel_michel, self.cut_features, self.cut_michel):
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()


def training_settings(config_path: str | PathLike | None) -> dict:
    """The training settings of a config file (its other entries are finder parameters), checked."""
    if config_path is None:
        return {}
    data = load_mapping(config_path)
    return check_params({k: v for k, v in data.items() if k in TRAINING_PARAMETERS}, TRAIN_DEFAULTS,
                        where=str(config_path))


def _table_parts(events) -> tuple[np.ndarray, ...]:
    """The candidate-table columns of events given as (event number, kept-voxel indices, features, ptr, vox,
    cut rows or None, labels, each candidate's voxels as ``MichelFinder.candidate_voxels`` gives them):
    features, Michel and other voxels, event, Michel voxels per event, sizes, voxel ids, voxel truth, and the cut
    rows of the mostly-Michel stopping-muon candidates with their voxels' truth and event."""
    feats, mich, other, event, totals, sizes, ids, truth = [], [], [], [], [], [], [], []
    cut_feats, cut_truth, cut_event = [np.empty((0, len(CUT_FEATURES)))], [np.empty(0, bool)], [np.empty(0, np.int64)]
    for i, index, f, ptr, vox, cut, labels, voxels in events:
        is_michel = labels == MICHEL_LABEL
        mostly = np.zeros(f.shape[0], bool)
        for c, v in enumerate(voxels):
            m = int(is_michel[v].sum())
            mich.append(m)
            other.append(len(v) - m)
            event.append(i)
            sizes.append(len(v))
            ids.append(v.astype(np.int64) + (i << 32))      # unique over events: voxels < 2**32
            truth.append(is_michel[v])
            mostly[c] = 2 * m > len(v)
        if cut is not None:
            keep = mostly[cut[0]]
            cut_feats.append(cut[2][keep])
            cut_truth.append(is_michel[index[cut[1][keep]]])
            cut_event.append(np.full(int(keep.sum()), i, np.int64))
        feats.append(f)
        totals.append(int((labels == MICHEL_LABEL).sum()))
    width = len(FEATURE_INDEX)
    cat = lambda parts, dtype: np.concatenate(parts).astype(dtype) if parts else np.empty(0, dtype)
    return (np.concatenate(feats) if feats else np.empty((0, width)), np.array(mich, np.int64),
            np.array(other, np.int64), np.array(event, np.int64), np.array(totals, np.int64),
            np.array(sizes, np.int64), cat(ids, np.int64), cat(truth, bool), np.concatenate(cut_feats),
            np.concatenate(cut_truth), np.concatenate(cut_event))


def _table(parts: list[tuple[np.ndarray, ...]], first_event: int) -> CandidateTable:
    """A CandidateTable from consecutive ``_table_parts`` results."""
    cols = [np.concatenate(c) for c in zip(*parts)]
    ptr = np.concatenate([[0], np.cumsum(cols[5])])
    return CandidateTable(cols[0], cols[1], cols[2], cols[3], cols[4], ptr, cols[6], cols[7], first_event, cols[8],
                          cols[9], cols[10])


def table_of_events(events: list[tuple], finder: MichelFinder) -> CandidateTable:
    """The candidate table of events already built, each (kept-voxel indices, features, ptr, vox, cut rows,
    the event, labels) as the sweep caches them, its candidates' voxels as ``finder`` gives them; events
    numbered from 0 in the order given."""
    parts = ((i, index, f, ptr, vox, cut, labels, finder.candidate_voxels(xyze, index, ptr, vox))
             for i, (index, f, ptr, vox, cut, xyze, labels) in enumerate(events))
    return _table([_table_parts(parts)], 0)


def training_finder(params: dict | None = None) -> MichelFinder:
    """A finder that builds every candidate kind with the given pipeline parameters (the hand rules would skip
    entering clusters, which the model judges); only its candidates are used."""
    pipeline = {k: v for k, v in (params or {}).items() if k in PIPELINE_PARAMETERS}
    return MichelFinder(selection="rules", rules={**DEFAULT_RULES, "entering": ENTERING_RULES}, **pipeline)


def _candidates_of_range(xyze_path: str, labels_path: str, start: int, stop: int, params: dict):
    """Candidate-table columns of the events [start, stop) (``_table_parts``)."""
    finder = training_finder(params)

    def events():
        for (i, xyze), (_, labels) in zip(iter_events(xyze_path, start, stop), iter_labels(labels_path, start, stop)):
            check_label_row(labels, len(xyze), i, labels_path)
            index, f, ptr, vox, cut = finder.candidates_and_cut(xyze)
            yield i, index, f, ptr, vox, cut, labels, finder.candidate_voxels(xyze, index, ptr, vox)

    return _table_parts(events())


def candidate_table(xyze_path: str | PathLike, labels_path: str | PathLike, params: dict | None = None, *,
                    start: int = 0, stop: int | None = None, workers: int = 1, progress: bool = True,
                    chunk: int = 200) -> CandidateTable:
    """Build every candidate of events [start, stop) with its voxel truth, in parallel over ranges of events.

    Parameters
    ----------
    xyze_path, labels_path : path-like
        Events and their labels (challenge format).
    params : dict, optional
        Finder parameters; only the pipeline ones are used (the default pipeline otherwise).
    start, stop : int
        The events used, ``[start, stop)`` (``stop`` None: to the end of the file).
    workers : int
        Worker processes (1: in this process).
    progress : bool
        A progress bar.
    chunk : int
        Events per task.

    Returns
    -------
    CandidateTable
        Every candidate's features and voxel truth, events in order.
    """
    params = {k: v for k, v in (params or {}).items() if k in PIPELINE_PARAMETERS}
    n = event_count(xyze_path)
    stop = n if stop is None else stop
    if not 0 <= start < stop <= n:
        raise InputError(f"{xyze_path}: holds {n} events; events {start}..{stop - 1} cannot be used")
    if event_count(labels_path, "labels") != n:
        raise InputError(f"{labels_path}: {event_count(labels_path, 'labels')} events, but {xyze_path} has {n}")
    tasks = [(str(xyze_path), str(labels_path), lo, hi, params) for lo, hi in event_ranges(start, stop, chunk)]
    bar = progress_bar(stop - start, progress)
    parts = []
    try:
        with (worker_pool(workers) if workers > 1 else contextlib.nullcontext()) as pool:
            for (lo, hi), part in zip(event_ranges(start, stop, chunk),
                                      ordered_results(pool, _candidates_of_range, workers, tasks)):
                parts.append(part)
                bar.update(hi - lo)
    finally:
        bar.close()
    return _table(parts, start)


def best_threshold(prob: np.ndarray, table: CandidateTable) -> tuple[float, dict]:
    """The probability threshold (0.05 to 0.95 by 0.01) with the best pooled voxel F1 over ``table`` (the union
    of the chosen candidates, as the finder takes them: one reading per cluster), and the scores there."""
    best = (-1.0, 0.5, {})
    for t in np.round(np.arange(0.05, 0.951, 0.01), 2):
        c = Counts(*table.counts(one_reading_per_cluster(table.features, prob >= t, table.event)))
        if c.f1 > best[0]:
            best = (c.f1, float(t), c.as_dict())
    return best[1], best[2]


def fit_ensemble(table: CandidateTable, settings: dict | None = None, seed: int = 0) -> HistGradientBoostingClassifier:
    """A ``HistGradientBoostingClassifier`` fitted on the table's model features (voxel-weighted)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    if table.target.all() or not table.target.any():
        raise InputError("training needs candidates of both kinds (Michel and not): give more labelled events")
    cfg = {**TRAIN_DEFAULTS, **check_params(settings or {}, TRAIN_DEFAULTS, where="training settings")}
    clf = HistGradientBoostingClassifier(early_stopping=False, random_state=seed, **cfg)
    cols = [FEATURE_INDEX[f] for f in MODEL_FEATURES]
    clf.fit(table.features[:, cols], table.target, sample_weight=table.weight)
    return clf


# The cut model: voxels are many and alike (about 20 per Michel), so a smaller ensemble than the candidates'
CUT_SETTINGS = {"max_iter": 200, "max_leaf_nodes": 15}


def fit_cut_model(table: CandidateTable, seed: int = 0) -> TreeModel | None:
    """The cut model (``cut_voxels``) fitted on the table's cut rows, threshold 0.5 (each voxel counts once in
    F1); None when the rows hold no voxel of one kind (too few labelled events)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    if table.cut_michel.all() or not table.cut_michel.any():
        return None
    clf = HistGradientBoostingClassifier(early_stopping=False, random_state=seed, **CUT_SETTINGS)
    clf.fit(table.cut_features, table.cut_michel)
    meta = {"voxels": int(len(table.cut_michel)), "settings": CUT_SETTINGS, "seed": seed}
    model = TreeModel.from_sklearn(clf, CUT_FEATURES, 0.5, meta, schema=CUT_FEATURES)
    model.sklearn_estimator = clf            # kept in memory for the round-trip checks, never written
    return model


def holdout_mask(n_events: int, fraction: float, seed: int = 0) -> np.ndarray:
    """Boolean mask of the events held back from fitting (a seeded random choice, at least one)."""
    held = np.zeros(n_events, bool)
    held[np.random.default_rng(seed).permutation(n_events)[:max(1, int(round(fraction * n_events)))]] = True
    return held


def fit_with_threshold(table: CandidateTable, held: np.ndarray, settings: dict | None = None,
                       seed: int = 0) -> tuple[HistGradientBoostingClassifier, float, dict]:
    """Fit on the table's events not flagged in ``held`` and choose the threshold on those that are.

    Returns the fitted ensemble, the threshold with the best pooled voxel F1 on the held-back events, and the
    scores there (with ``events``, how many were held back).
    """
    fit_part, held_part = table.subset(~held), table.subset(held)
    clf = fit_ensemble(fit_part, settings, seed)
    cols = [FEATURE_INDEX[f] for f in MODEL_FEATURES]
    prob = clf.predict_proba(held_part.features[:, cols])[:, 1] if len(held_part.event) else np.empty(0)
    threshold, held_scores = best_threshold(prob, held_part)
    return clf, threshold, {"events": int(held.sum()), **held_scores}


def train_model(xyze_path: str | PathLike, labels_path: str | PathLike, params: dict | None = None, *,
                settings: dict | None = None, holdout_fraction: float = 0.25, seed: int = 0, start: int = 0,
                stop: int | None = None, workers: int = 1, progress: bool = True,
                more: Sequence[tuple[str | PathLike, str | PathLike]] = ()) -> TreeModel:
    """Train a model on labelled events: fit on part, choose the threshold on the rest, refit on all.

    Parameters
    ----------
    xyze_path, labels_path : path
        Events and their labels (challenge format).
    params : dict, optional
        Finder pipeline parameters of the candidates (recorded in the model; the default pipeline otherwise).
    settings : dict, optional
        Tree-ensemble settings overriding ``TRAIN_DEFAULTS``.
    holdout_fraction : float
        Events held back to choose the threshold (0 < f < 1).
    seed : int
        Seed of the event split and of the ensemble.
    start, stop : int
        The events used, ``[start, stop)`` (``stop`` None: to the end of the file).
    workers : int
        Worker processes for the candidates.
    progress : bool
        A progress bar.
    more : sequence of (events, labels) paths
        Further labelled files, used whole (samples of other detector conditions, for instance).

    Returns
    -------
    TreeModel
        The ensemble refitted on all events, with the threshold chosen on the held-back ones and its record
        (``meta``: training, held-back scores).
    """
    if not 0.0 < holdout_fraction < 1.0:
        raise InputError(f"holdout fraction must be between 0 and 1, got {holdout_fraction}")
    t0 = time.perf_counter()
    table = candidate_table(xyze_path, labels_path, params, start=start, stop=stop, workers=workers,
                            progress=progress)
    added = [candidate_table(x, lab, params, workers=workers, progress=progress) for x, lab in more]
    first_event = table.first_event
    if added:
        table = CandidateTable.concatenate([table, *added])
    n_events = table.event_michel_voxels.shape[0]
    held = holdout_mask(n_events, holdout_fraction, seed)
    _, threshold, held_scores = fit_with_threshold(table, held, settings, seed)
    final = fit_ensemble(table, settings, seed)
    pipeline = {k: (params or {}).get(k, spec.default) for k, spec in PIPELINE_PARAMETERS.items()}
    # strict JSON has no infinity (second_cut_above_mev may be one): the record says "inf"
    pipeline = {k: str(v) if isinstance(v, float) and not math.isfinite(v) else v for k, v in pipeline.items()}
    meta = {"package_version": __version__,
            "training": {"events_file": str(xyze_path), "labels_file": str(labels_path), "events": n_events,
                         "first_event": first_event, "candidates": int(len(table.event)),
                         "more": [[str(x), str(lab), len(t.event_michel_voxels)] for (x, lab), t in zip(more, added)],
                         "fingerprint": table.fingerprint(), "seed": seed, "holdout_fraction": holdout_fraction,
                         "settings": {**TRAIN_DEFAULTS, **(settings or {})}, "pipeline": pipeline,
                         "seconds": round(time.perf_counter() - t0, 1)},
            "holdout": {**held_scores, "threshold": threshold}}
    model = TreeModel.from_sklearn(final, MODEL_FEATURES, threshold, json.loads(json.dumps(meta)))
    model.early_exit = early_exit_for(model, table.features)
    model.cut_model = fit_cut_model(table, seed)
    model.sklearn_estimator = final          # kept in memory for the round-trip checks, never written
    return model


# The early exit is safe on the training candidates at every threshold from EARLY_EXIT_FROM_PROBABILITY (the
# lowest that best_threshold tries), with EARLY_EXIT_MARGIN (log-odds) to spare for candidates never seen
EARLY_EXIT_FROM_PROBABILITY = 0.05
EARLY_EXIT_MARGIN = 1.0


def early_exit_for(model: TreeModel, features: np.ndarray) -> dict[str, float] | None:
    """The early exit (``TreeModel.early_exit``) that spares the most tree evaluations on these candidates.

    For each split after a multiple of a twelfth of the trees (up to half), the cut is the lowest partial score of
    the candidates the whole model scores at ``EARLY_EXIT_FROM_PROBABILITY`` or more, less ``EARLY_EXIT_MARGIN``:
    none of them is cut. None when no split spares a fifth of the work (or no candidate reaches that score).
    """
    n = len(model.trees)
    full = model.raw_scores(features)
    could_be_taken = full >= math.log(EARLY_EXIT_FROM_PROBABILITY / (1.0 - EARLY_EXIT_FROM_PROBABILITY))
    if n < 2 or len(full) == 0 or not could_be_taken.any():
        return None
    best, best_cost = None, 0.8 * n
    step = max(1, n // 12)
    for k in range(step, n // 2 + 1, step):
        partial = TreeModel(model.features, model.baseline, model.trees[:k]).raw_scores(features)
        raw_below = float(partial[could_be_taken].min()) - EARLY_EXIT_MARGIN
        cost = k + (n - k) * float(np.mean(partial >= raw_below))     # trees per candidate, on average
        if cost < best_cost:
            best, best_cost = {"trees": k, "raw_below": raw_below,
                               "from_probability": EARLY_EXIT_FROM_PROBABILITY}, cost
    return best


def save_model(model: TreeModel, path: str | PathLike) -> None:
    """Write a model file (JSON; temporary name, fsync, rename)."""
    from michelreco.run.outputs import write_bytes_atomically

    write_bytes_atomically(path, model.to_json().encode())
