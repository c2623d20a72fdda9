"""Voxel-level precision, recall and F1, the challenge's score.

Counting is exact: per-event true positives, false positives and false negatives are integers, and pooled
scores are ratios of integer sums. Definitions (``docs/scoring.md``):

- pooled (the headline): TP, FP, FN summed over every voxel of every event, F1 = 2 TP / (2 TP + FP + FN);
- per event: the same within one event; an event with neither a true nor a predicted Michel voxel is
  perfect (precision = recall = F1 = 1) and flagged ``empty``; otherwise an undefined ratio (no prediction,
  or no truth) is 0;
- per block: pooled counts over consecutive blocks of events (the organisers' "stability" plot).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike

import numpy as np
from numpy.typing import ArrayLike

from michelreco.constants import MICHEL_LABEL
from michelreco.errors import InputError
from michelreco.run.io import (LABELS_DATASET, check_solution_row, event_count, iter_labels, iter_solution,
                               open_h5, solution_dataset_name)
from michelreco.run.outputs import atomic_open

__all__ = ["MICHEL_LABEL", "Counts", "event_counts", "ScoreTable", "score_rows", "score_files",
           "solution_first_event"]


def _ratio(num: int, den: int) -> float:
    """``num / den``, 0 when ``den`` is 0."""
    return num / den if den else 0.0


@dataclass(frozen=True)
class Counts:
    """Integer TP/FP/FN and the scores derived from them."""

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        """TP / (TP + FP), 0 when nothing was predicted."""
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        """TP / (TP + FN), 0 when there is no truth."""
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        """2 TP / (2 TP + FP + FN), 0 when both are empty (see ScoreTable for per-event use)."""
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    def as_dict(self) -> dict:
        """Counts and scores as a plain dict (for JSON)."""
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn,
                "precision": self.precision, "recall": self.recall, "f1": self.f1}


def event_counts(predicted: np.ndarray, labels: np.ndarray, michel_label: int = MICHEL_LABEL) -> tuple[int, int, int]:
    """TP, FP, FN of one event: ``predicted`` indices against the voxels whose label is Michel."""
    truth = labels == michel_label
    n_truth = int(np.count_nonzero(truth))
    tp = int(np.count_nonzero(truth[predicted])) if len(predicted) else 0
    return tp, len(predicted) - tp, n_truth - tp


class ScoreTable:
    """Per-event integer counts of a scored sample, with pooled, per-event and per-block scores.

    Parameters
    ----------
    tp, fp, fn : array_like of int
        Per-event counts, in event order.
    first_event : int, default 0
        Index in the events file of the first event (a solution of an event range starts later).
    """

    def __init__(self, tp: ArrayLike, fp: ArrayLike, fn: ArrayLike, first_event: int = 0):
        self.tp = np.asarray(tp, dtype=np.int64)
        self.fp = np.asarray(fp, dtype=np.int64)
        self.fn = np.asarray(fn, dtype=np.int64)
        self.first_event = int(first_event)

    def __len__(self) -> int:
        return len(self.tp)

    @property
    def pooled(self) -> Counts:
        """TP/FP/FN summed over all voxels of all events."""
        return Counts(int(self.tp.sum()), int(self.fp.sum()), int(self.fn.sum()))

    @property
    def has_michel(self) -> np.ndarray:
        """Events with at least one true Michel voxel."""
        return (self.tp + self.fn) > 0

    @property
    def empty(self) -> np.ndarray:
        """Events with neither a true nor a predicted Michel voxel."""
        return (self.tp + self.fp + self.fn) == 0

    def per_event(self) -> dict[str, np.ndarray]:
        """Per-event precision, recall, F1 (empty events are perfect) and the ``empty`` flag."""
        empty = self.empty
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(self.tp + self.fp > 0, self.tp / np.maximum(self.tp + self.fp, 1), 0.0)
            recall = np.where(self.tp + self.fn > 0, self.tp / np.maximum(self.tp + self.fn, 1), 0.0)
            f1 = 2 * self.tp / np.maximum(2 * self.tp + self.fp + self.fn, 1)
        for a in (precision, recall, f1):
            a[empty] = 1.0
        return {"precision": precision, "recall": recall, "f1": f1, "empty": empty}

    def per_block(self, block: int) -> list[tuple[int, int, Counts]]:
        """Pooled counts over consecutive blocks of ``block`` events: (first event, stop, counts), as event
        indices of the events file (``first_event`` on)."""
        if block < 1:
            raise InputError(f"--block must be at least 1, got {block}")
        out = []
        first = self.first_event
        for lo in range(0, len(self), block):
            hi = min(lo + block, len(self))
            out.append((first + lo, first + hi, Counts(int(self.tp[lo:hi].sum()), int(self.fp[lo:hi].sum()),
                                                       int(self.fn[lo:hi].sum()))))
        return out

    def write_per_event_csv(self, path: str | PathLike, extra: dict[str, np.ndarray] | None = None) -> None:
        """One row per event: its index in the events file, TP, FP, FN, precision, recall, F1, empty, then any
        ``extra`` columns; written by the csv module through a temporary name, renamed when complete."""
        per = self.per_event()
        extra = extra or {}
        with atomic_open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["event", "tp", "fp", "fn", "precision", "recall", "f1", "empty", *extra])
            for i in range(len(self)):
                writer.writerow([self.first_event + i, int(self.tp[i]), int(self.fp[i]), int(self.fn[i]),
                                 f"{per['precision'][i]:.6f}", f"{per['recall'][i]:.6f}", f"{per['f1'][i]:.6f}",
                                 int(per["empty"][i]), *(f"{col[i]:.6g}" for col in extra.values())])

    def subset(self, mask: np.ndarray) -> ScoreTable:
        """The table restricted to the events selected by a boolean mask."""
        return ScoreTable(self.tp[mask], self.fp[mask], self.fn[mask], self.first_event)


def score_rows(solutions: Sequence[ArrayLike], labels: Sequence[ArrayLike],
               michel_label: int = MICHEL_LABEL) -> ScoreTable:
    """Score in-memory rows: ``solutions`` and ``labels`` are sequences of per-event arrays."""
    if len(solutions) != len(labels):
        raise InputError(f"{len(solutions)} solution rows for {len(labels)} label rows")
    counts = []
    for i, (pred, lab) in enumerate(zip(solutions, labels)):
        lab = np.asarray(lab)
        pred = check_solution_row(np.asarray(pred), len(lab), i)
        counts.append(event_counts(pred, lab, michel_label))
    tp, fp, fn = np.array(counts, dtype=np.int64).reshape(-1, 3).T
    return ScoreTable(tp, fp, fn)


def solution_first_event(path: str | PathLike, dataset: str | None = None) -> int:
    """The event of the events file that a solution's first row belongs to.

    Parameters
    ----------
    path : path-like
        The solution file.
    dataset : str, optional
        Its dataset (default: its only variable-length integer one).

    Returns
    -------
    int
        Its ``first_event`` attribute (written by ``find-michels --start``), 0 when absent.
    """
    name = solution_dataset_name(path, dataset)
    with open_h5(path) as f:
        value = f[name].attrs.get("first_event", 0)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InputError(f"{path}: attribute first_event of '{name}' is not an event index") from None


def score_files(solution_path: str | PathLike, labels_path: str | PathLike, dataset: str | None = None,
                michel_label: int = MICHEL_LABEL, start: int | None = None) -> ScoreTable:
    """Score a solution file against a label file, reading both block-wise.

    Parameters
    ----------
    solution_path, labels_path : path-like
        The solution (one row per event) and the labels.
    dataset : str, optional
        The solution's dataset (default: its only variable-length integer one).
    michel_label : int
        The Michel label value.
    start : int, optional
        The label event of the solution's first row (a solution of an event range, ``find-michels --start``).
        Default: the solution's ``first_event`` attribute, else 0; then the two files must have the same
        number of events.

    Returns
    -------
    ScoreTable
        Per-event counts of the scored events.
    """
    name = solution_dataset_name(solution_path, dataset)
    n_sol, n_lab = event_count(solution_path, name), event_count(labels_path, LABELS_DATASET)
    recorded = solution_first_event(solution_path, name)
    first = recorded if start is None else int(start)
    if first < 0:
        raise InputError(f"--start must be 0 or more, got {first}")
    if start is None and recorded == 0 and n_sol != n_lab:
        raise InputError(f"{solution_path} has {n_sol} events but {labels_path} has {n_lab} (if the solution is "
                         f"of an event range, give its first event with --start)")
    if first + n_sol > n_lab:
        raise InputError(f"{solution_path} holds events {first}..{first + n_sol - 1} but {labels_path} has only "
                         f"{n_lab} events")
    tp = np.zeros(n_sol, np.int64)
    fp = np.zeros(n_sol, np.int64)
    fn = np.zeros(n_sol, np.int64)
    for (k, pred), (i, lab) in zip(iter_solution(solution_path, dataset=name),
                                   iter_labels(labels_path, first, first + n_sol)):
        check_solution_row(pred, len(lab), i, solution_path)
        tp[k], fp[k], fn[k] = event_counts(pred, lab, michel_label)
    return ScoreTable(tp, fp, fn, first)
