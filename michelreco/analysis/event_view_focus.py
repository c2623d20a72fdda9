"""What the report's event views show: every voxel in one outcome class, the cube to zoom on, the Bragg peaks.

``voxel_classes`` sorts the voxels (found, wrong, missed in no candidate, in a rejected candidate or at a
candidate's boundary, ...; names are keys of ``display_style.CLASS_STYLES``), ``focus_box`` chooses the cube
around the Michel-related voxels that matter most, ``candidate_peaks`` lists each candidate's Bragg peak.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from michelreco.constants import MICHEL_LABEL

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["voxel_classes", "focus_box", "candidate_peaks"]


def voxel_classes(n: int, labels: np.ndarray | None, predicted: np.ndarray | None,
                  records: list[dict] | None = None) -> list[tuple[str, np.ndarray]]:
    """Put every voxel of an event in one outcome class (names are keys of ``CLASS_STYLES``).

    With labels and candidates, a missed Michel voxel gets the cause ``analysis.diagnose`` gives it: in no
    candidate, in a candidate that is mostly Michel but was rejected, or at the boundary (only in candidates
    that are mostly not Michel, or removed by the cut model from a taken one).

    Parameters
    ----------
    n : int
        Voxels in the event.
    labels : ndarray (n,) or None
        Truth labels; without them voxels are only "found by the finder", "in a rejected candidate" or other.
    predicted : ndarray or None
        Indices listed by the solution.
    records : list of dict, optional
        ``MichelFinder.explain`` records (each with ``voxels`` and the decision ``michel``).

    Returns
    -------
    list of (name, mask)
        Disjoint boolean masks covering every voxel, in drawing order (classes with no voxel included).
    """
    pred = np.zeros(n, bool)
    if predicted is not None and len(predicted):
        pred[np.asarray(predicted, np.int64)] = True
    truth = np.asarray(labels) == MICHEL_LABEL if labels is not None else np.zeros(n, bool)
    in_cand, in_good, rejected = np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, bool)
    taken_good = np.zeros(n, bool)
    for r in records or []:
        v = np.asarray(r["voxels"], np.int64)
        if not len(v):
            continue
        in_cand[v] = True
        if 2 * int(truth[v].sum()) > len(v):
            in_good[v] = True
            taken_good[v] |= bool(r["michel"])
        if not r["michel"]:
            rejected[v] = True
    if labels is None:
        cand = rejected & ~pred
        return [("other voxels", ~pred & ~cand), ("in a rejected candidate", cand), ("found by the finder", pred)]
    missed = truth & ~pred
    out = [("other voxels", ~truth & ~pred & ~rejected), ("rejected candidate, not Michel", ~truth & ~pred & rejected),
           ("found (TP)", pred & truth)]
    if records is None:
        out.append(("missed (FN)", missed))
    else:
        out += [("missed: no candidate (FN)", missed & ~in_cand),
                ("missed: boundary (FN)", missed & in_cand & (~in_good | taken_good)),     # as diagnose counts
                ("missed: candidate rejected (FN)", missed & in_good & ~taken_good)]
    out.append(("wrong (FP)", pred & ~truth))
    return out


_WEIGHTS = {"found (TP)": 1.0, "found by the finder": 1.0, "wrong (FP)": 3.0, "missed (FN)": 3.0,
            "missed: no candidate (FN)": 3.0, "missed: candidate rejected (FN)": 3.0, "missed: boundary (FN)": 3.0,
            "rejected candidate, not Michel": 1e-3, "in a rejected candidate": 1e-3}


def focus_box(xyze: np.ndarray, classes: list[tuple[str, np.ndarray]], peaks: ArrayLike = (),
              join_voxels: float = 12.0,
              margin_voxels: float = 10.0, min_half_voxels: float = 20.0, max_half_voxels: float = 120.0,
              weights: dict[str, float] | None = None) -> tuple[np.ndarray, float] | None:
    """The cube to zoom on: around the group of Michel-related voxels that matters most.

    Michel-related voxels (found, wrong, missed, in a rejected candidate) are grouped by proximity
    (``join_voxels``); each group weighs its voxels (missed and wrong 3, found 1, rejected candidates 0.001:
    they only matter in an event with nothing else)
    and the heaviest is chosen, with the Bragg peaks (x, y, z in voxels) lying near it. ``weights`` (class
    name -> weight) overrides these, e.g. to zoom on the missed voxels of an event shown for them.

    Parameters
    ----------
    xyze : ndarray (N, 4)
        The event.
    classes : list of (name, mask)
        The voxel classes (``voxel_classes``).
    peaks : array-like (K, 3)
        Bragg peaks (voxels); those within ``join_voxels`` of the chosen group are kept inside the cube.
    join_voxels : float
        Voxels closer than this (voxels) are in one group.
    margin_voxels, min_half_voxels, max_half_voxels : float
        Margin added around the group, and the smallest and largest half side of the cube (voxels).
    weights : dict, optional
        Class name -> weight, overriding the defaults.

    Returns
    -------
    (centre, half) or None
        Centre (voxels, shape (3,)) and half side (voxels) of the cube; None when no voxel is Michel-related.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    weight = np.zeros(len(xyze))
    table = {**_WEIGHTS, **(weights or {})}
    for name, mask in classes:
        weight[mask] = table.get(name, 0.0)
    idx = np.flatnonzero(weight > 0)
    if idx.size == 0:
        return None
    pts = xyze[idx, :3].astype(np.float64)
    pairs = cKDTree(pts).query_pairs(join_voxels, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(idx), len(idx)))
    _, group = connected_components(graph, directed=False)
    best = int(np.argmax(np.bincount(group, weights=weight[idx])))
    pts = pts[group == best]
    peaks = np.asarray(peaks, dtype=np.float64).reshape(-1, 3)
    if len(peaks):
        near = cKDTree(pts).query(peaks)[0] <= join_voxels
        pts = np.vstack([pts, peaks[near]])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    half = float(np.clip((hi - lo).max() / 2 + margin_voxels, min_half_voxels, max_half_voxels))
    return (lo + hi) / 2, half


def candidate_peaks(records: list[dict] | None) -> list[tuple[np.ndarray, str, bool]]:
    """Each candidate's Bragg peak, its mark text and whether it was taken.

    Parameters
    ----------
    records : list of dict or None
        ``MichelFinder.explain`` records.

    Returns
    -------
    list of (ndarray (3,), str, bool)
        The peak (x, y, z in voxels), ``"#k"`` (the candidate's number) and the decision, per record.
    """
    return [(np.array([r["features"]["peak_x"], r["features"]["peak_y"], r["features"]["peak_z"]]),
             f"#{r['candidate']}", bool(r["michel"])) for r in records or []]
