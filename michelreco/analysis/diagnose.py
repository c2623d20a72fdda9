"""Where the F1 goes: candidate coverage, the F1 a perfect selection would reach, and each lost voxel's cause.

Every Michel voxel the finder misses is lost for one reason:

- ``no candidate``: it lies in no candidate (no visible muon end, a detached or exiting electron, ...);
- ``candidate rejected``: it lies in a candidate that is mostly Michel but none of those was taken;
- ``boundary``: it lies only in candidates that are mostly not Michel (the cut at the Bragg peak put it on the
  wrong side, or it hangs from a shower), or in a taken one from which the cut model removed it.

Every false voxel is ``wrong candidate`` (a taken candidate that is mostly not Michel), ``boundary`` (the
non-Michel voxels of a taken candidate that is mostly Michel) or ``outside candidates`` (added near a peak by
the cut model, ``michelreco.reco.cut_voxels``, or a solution from elsewhere). "Perfect selection" takes
exactly the candidates that are mostly Michel: the ceiling of any selection over these candidates; "perfect,
one reading per cluster" then reads each cluster and each free end one way, as the finder does
(``candidates.one_reading_per_cluster``): the ceiling of the finder's selection; "perfect, finished as find
does" then decides the voxels near the taken peaks again with the cut model (whole candidates without one):
the F1 the finder would reach if its selection were perfect. With a simulator truth
file, Michel voxels are split by the Michel's category (its muon end inside the volume or not, the electron
contained or leaving), each voxel given to the Michel whose muon end is nearest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np

from michelreco.analysis.metrics import Counts, event_counts, solution_first_event
from michelreco.constants import MICHEL_LABEL
from michelreco.errors import InputError
from michelreco.reco.candidates import one_reading_per_cluster
from michelreco.reco.finder import MichelFinder, checked_event
from michelreco.run.io import (check_label_row, check_solution_row, event_count, iter_events, iter_labels,
                               iter_solution, read_event, solution_dataset_name)

__all__ = ["LOST_CAUSES", "FALSE_CAUSES", "CATEGORIES", "Diagnosis", "diagnose_event", "diagnose_files",
           "truth_by_event"]

LOST_CAUSES = ("no candidate", "candidate rejected", "boundary")
FALSE_CAUSES = ("wrong candidate", "boundary", "outside candidates")
CATEGORIES = ("attached, contained", "electron leaving", "muon end outside")


@dataclass
class Diagnosis:
    """Voxel counts of a set of events; ``as_dict`` gives the JSON-able summary."""

    events: int = 0
    michel_voxels: int = 0
    covered_voxels: int = 0
    perfect: np.ndarray = field(default_factory=lambda: np.zeros(3, np.int64))     # tp, fp, fn
    perfect_one_reading: np.ndarray = field(default_factory=lambda: np.zeros(3, np.int64))
    perfect_finished: np.ndarray = field(default_factory=lambda: np.zeros(3, np.int64))
    actual: np.ndarray = field(default_factory=lambda: np.zeros(3, np.int64))
    lost: dict = field(default_factory=lambda: dict.fromkeys(LOST_CAUSES, 0))
    false: dict = field(default_factory=lambda: dict.fromkeys(FALSE_CAUSES, 0))
    by_category: dict = field(default_factory=dict)      # category -> [michel voxels, found]

    def add(self, other: Diagnosis) -> None:
        """Add another diagnosis's counts to this one."""
        self.events += other.events
        self.michel_voxels += other.michel_voxels
        self.covered_voxels += other.covered_voxels
        self.perfect += other.perfect
        self.perfect_one_reading += other.perfect_one_reading
        self.perfect_finished += other.perfect_finished
        self.actual += other.actual
        for k in self.lost:
            self.lost[k] += other.lost[k]
        for k in self.false:
            self.false[k] += other.false[k]
        for k, (n, found) in other.by_category.items():
            mine = self.by_category.setdefault(k, [0, 0])
            mine[0] += n
            mine[1] += found

    def as_dict(self) -> dict:
        """Plain numbers: coverage, perfect and actual scores, lost and false voxels by cause, categories."""
        return {
            "events": self.events,
            "michel_voxels": self.michel_voxels,
            "covered_voxels": self.covered_voxels,
            "coverage": self.covered_voxels / max(self.michel_voxels, 1),
            "perfect": Counts(*map(int, self.perfect)).as_dict(),
            "perfect_one_reading": Counts(*map(int, self.perfect_one_reading)).as_dict(),
            "perfect_finished": Counts(*map(int, self.perfect_finished)).as_dict(),
            "actual": Counts(*map(int, self.actual)).as_dict(),
            "lost": dict(self.lost),
            "false": dict(self.false),
            "by_category": {k: {"michel_voxels": n, "found": f, "lost": n - f}
                            for k, (n, f) in sorted(self.by_category.items())},
        }


def _categories(xyz: np.ndarray, michel: np.ndarray, truth_rows: np.ndarray | None) -> np.ndarray | None:
    """Category index of each Michel voxel: that of the truth Michel whose muon end is nearest (None: no truth)."""
    if truth_rows is None or len(truth_rows) == 0:
        return None
    cat = np.where(~truth_rows["attached"], 2, np.where(truth_rows["contained"], 0, 1))
    ends = np.asarray(truth_rows["muon_end_vox"], np.float64)
    d2 = ((xyz[michel][:, None, :] - ends[None, :, :]) ** 2).sum(-1)
    return cat[np.argmin(d2, axis=1)]


def diagnose_event(finder: MichelFinder, xyze: np.ndarray, labels: np.ndarray, solution: np.ndarray | None = None,
                   truth_rows: np.ndarray | None = None) -> Diagnosis:
    """The diagnosis of one event (``solution``: the voxels taken, by default what ``finder`` takes).

    Parameters
    ----------
    finder : MichelFinder
        The finder whose candidates (and, without ``solution``, choice) are judged.
    xyze, labels : numpy.ndarray
        The event (N, 4) and its labels (N,).
    solution : numpy.ndarray, optional
        Indices of the voxels taken, judged instead of the finder's choice.
    truth_rows : numpy.ndarray, optional
        The simulator's Michel rows of this event (``truth_by_event``), for the split by category.

    Returns
    -------
    Diagnosis
        The counts of this one event.
    """
    xyze = checked_event(xyze)
    n = len(xyze)
    is_michel = labels == MICHEL_LABEL
    index, feats, ptr, vox, cut = finder.candidates_and_cut(xyze)
    taken = finder.decide(feats)
    voxels = finder.candidate_voxels(xyze, index, ptr, vox)       # as taking each gives it: faint voxels too
    good = np.array([2 * int(is_michel[v].sum()) > len(v) for v in voxels], bool)    # mostly Michel
    in_cand = np.zeros(n, bool)           # voxel in any candidate
    in_good = np.zeros(n, bool)           # ... in a candidate that is mostly Michel
    in_read = np.zeros(n, bool)           # ... in one of those the finder's reading rules keep
    in_taken_good = np.zeros(n, bool)
    in_taken_bad = np.zeros(n, bool)
    read = one_reading_per_cluster(feats, good)
    for c, v in enumerate(voxels):
        in_cand[v] = True
        if good[c]:
            in_good[v] = True
        if read[c]:
            in_read[v] = True
        if taken[c]:
            (in_taken_good if good[c] else in_taken_bad)[v] = True
    chosen = np.zeros(n, bool)
    chosen[finder.choose(index, feats, ptr, vox, cut, xyze) if solution is None
           else np.asarray(solution, np.int64)] = True
    d = Diagnosis(events=1, michel_voxels=int(is_michel.sum()), covered_voxels=int((is_michel & in_cand).sum()))
    d.perfect[:] = event_counts(np.flatnonzero(in_good), labels)
    d.perfect_one_reading[:] = event_counts(np.flatnonzero(in_read), labels)
    d.perfect_finished[:] = event_counts(finder.voxels_of_selection(index, ptr, vox, read, cut, xyze), labels)
    d.actual[:] = event_counts(np.flatnonzero(chosen), labels)
    missed = is_michel & ~chosen
    d.lost["no candidate"] = int((missed & ~in_cand).sum())
    d.lost["candidate rejected"] = int((missed & in_good & ~in_taken_good).sum())
    d.lost["boundary"] = int((missed & in_cand & (~in_good | in_taken_good)).sum())
    wrong = chosen & ~is_michel
    d.false["wrong candidate"] = int((wrong & in_taken_bad).sum())
    d.false["boundary"] = int((wrong & in_cand & ~in_taken_bad).sum())
    d.false["outside candidates"] = int((wrong & ~in_cand).sum())
    michel_idx = np.flatnonzero(is_michel)
    cats = _categories(xyze[:, :3].astype(np.float64), michel_idx, truth_rows)
    if cats is not None:
        for k, name in enumerate(CATEGORIES):
            mine = michel_idx[cats == k]
            if len(mine):
                d.by_category[name] = [len(mine), int(chosen[mine].sum())]
    return d


def diagnose_files(xyze_path: str | PathLike, labels_path: str | PathLike, solution_path: str | PathLike | None = None,
                   finder: MichelFinder | None = None, truth_path: str | PathLike | None = None,
                   stop: int | None = None) -> Diagnosis:
    """The diagnosis of the first ``stop`` events (all by default) of a labelled file.

    Parameters
    ----------
    xyze_path, labels_path : path
        Events and labels.
    solution_path : path, optional
        A solution to judge instead of the finder's own choice (the candidates are still the finder's).
    finder : MichelFinder, optional
        The finder whose candidates (and choice) are judged; the default finder otherwise.
    truth_path : path, optional
        A simulator truth file (``PREFIX_truth.npz``) for the split by Michel category; found beside
        ``PREFIX_xyze.h5`` when not given.
    stop : int, optional
        Judge only the first ``stop`` events.

    Returns
    -------
    Diagnosis
        The counts summed over the events.
    """
    finder = finder or MichelFinder()
    n = event_count(xyze_path)
    stop = n if stop is None else min(stop, n)
    if event_count(labels_path, "labels") != n:
        raise InputError(f"{labels_path}: {event_count(labels_path, 'labels')} events, but {xyze_path} has {n}")
    truth = truth_by_event(xyze_path, truth_path)
    solutions = None
    if solution_path is not None:
        n_sol = event_count(solution_path, solution_dataset_name(solution_path))
        first = solution_first_event(solution_path)
        if n_sol != n or first != 0:
            held = f"events {first}..{first + n_sol - 1}" if first else f"{n_sol} events"
            raise InputError(f"{solution_path}: holds {held}, but {xyze_path} has {n}: a solution of the whole "
                             "file is needed")
        solutions = iter_solution(solution_path, 0, stop)
    total = Diagnosis()
    for (i, xyze), (_, labels) in zip(iter_events(xyze_path, 0, stop), iter_labels(labels_path, 0, stop)):
        check_label_row(labels, len(xyze), i, labels_path)
        sol = check_solution_row(next(solutions)[1], len(xyze), i, solution_path) if solutions is not None else None
        rows = truth.get(i, truth.get(-1)) if truth is not None else None
        total.add(diagnose_event(finder, xyze, labels, sol, rows))
    return total


def truth_by_event(xyze_path: str | PathLike, truth_path: str | PathLike | None = None) -> dict | None:
    """The simulator's Michel rows by event (with label-2 voxels), or None without a usable truth file."""
    if truth_path is None:
        name = Path(xyze_path).name
        if "_xyze" not in name:
            return None
        truth_path = Path(xyze_path).with_name(name.replace("_xyze", "_truth").rsplit(".", 1)[0] + ".npz")
        if not truth_path.exists():
            return None
    try:
        with np.load(truth_path, allow_pickle=False) as truth:
            rows, n_voxels = truth["michels"], truth["n_voxels"]
        needed = ("event", "attached", "contained", "muon_end_vox", "n_label2")
        if rows.dtype.names is None or any(k not in rows.dtype.names for k in needed):
            raise KeyError
    except (OSError, ValueError, KeyError):
        raise InputError(f"{truth_path}: not a michelreco simulator truth file (no Michel table)") from None
    n = event_count(xyze_path)
    # a truth file of another sample would put Michels in the wrong events: the sizes must agree
    if len(n_voxels) != n or (n and any(len(read_event(xyze_path, i)) != n_voxels[i] for i in (0, n - 1))):
        raise InputError(f"{truth_path}: describes other events than {xyze_path} (event count or sizes differ)")
    rows = rows[rows["n_label2"] > 0]
    return {int(e): rows[rows["event"] == e] for e in np.unique(rows["event"])} | {-1: rows[:0]}
