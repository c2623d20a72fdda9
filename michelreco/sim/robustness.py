"""How a finder's score depends on the kind of Michel: F1 split by Michel category, on simulated samples.

A simulated sample's truth file says, for every label-2 voxel, which Michel electron owns it
(``michel_voxels``) and, for every Michel, whether its muon stopped inside the image (``attached``)
and whether the electron stayed inside (``contained``). Each Michel falls in one category:

- ``attached``: the muon end is inside the image and the electron stays inside;
- ``muon end outside``: the muon stopped outside the image (only the electron enters);
- ``electron leaving``: the muon end is inside, the electron leaves the image.

Per category, a true Michel voxel is a true positive when the solution holds it, a false negative
otherwise; a solution voxel that is not a Michel voxel (a false positive) is charged to the category
of the nearest true Michel voxel of its event within ``radius_vox`` voxels, and to ``no Michel
nearby`` when there is none. So the categories' counts add up to the pooled score.
"""

from __future__ import annotations

import numpy as np

from michelreco.analysis.metrics import Counts
from michelreco.constants import MICHEL_LABEL
from michelreco.errors import InputError
from michelreco.run.io import RowWriter, iter_events, iter_labels, iter_solution, write_bytes_atomically
from .generate import sim_paths

__all__ = ["CATEGORIES", "NO_MICHEL", "michel_categories", "category_counts", "threshold_sample"]

CATEGORIES = ("attached", "muon end outside", "electron leaving")
NO_MICHEL = "no Michel nearby"
DEFAULT_RADIUS_VOX = 20.0


def michel_categories(michels: np.ndarray) -> np.ndarray:
    """Category index (into ``CATEGORIES``) of every Michel truth row.

    Parameters
    ----------
    michels : numpy.ndarray
        Rows with boolean ``attached`` and ``contained`` fields (``generate.TRUTH_MICHEL_DTYPE``).

    Returns
    -------
    numpy.ndarray
        (M,) int: 0 attached and contained, 1 muon end outside, 2 electron leaving.
    """
    cat = np.zeros(len(michels), np.int64)
    cat[~michels["attached"]] = 1
    cat[michels["attached"] & ~michels["contained"]] = 2
    return cat


def _load(prefix):
    """Paths and truth arrays of a simulated sample (one-line error when missing)."""
    paths = sim_paths(prefix)
    if not paths.truth.exists():
        raise InputError(f"{paths.truth}: no such file (a simulated sample is needed)")
    truth = np.load(paths.truth)
    if "michel_voxels" not in truth.files:
        raise InputError(f"{paths.truth}: no michel_voxels (simulate the sample again with this version)")
    return paths, truth


def category_counts(prefix, solution, radius_vox: float = DEFAULT_RADIUS_VOX,
                    dataset: str | None = None) -> dict[str, Counts]:
    """Voxel counts of a solution per Michel category.

    Parameters
    ----------
    prefix : str or path
        The simulated sample (PREFIX_xyze.h5, PREFIX_label.h5, PREFIX_truth.npz).
    solution : str or path
        Solution file for that sample (one row of Michel voxel indices per event).
    radius_vox : float, optional
        A false positive farther than this (voxels, Euclidean) from every true Michel voxel of its
        event is charged to ``NO_MICHEL`` (default 20).
    dataset : str, optional
        Solution dataset name (default: the file's only one).

    Returns
    -------
    dict
        ``{category: Counts}`` for the three ``CATEGORIES`` and ``NO_MICHEL`` (false positives only);
        their sums are the pooled counts.
    """
    paths, truth = _load(prefix)
    cat_of_row = michel_categories(truth["michels"])
    mv = truth["michel_voxels"]
    order = np.argsort(mv[:, 0], kind="stable")
    mv = mv[order]
    starts = np.searchsorted(mv[:, 0], np.arange(len(truth["n_voxels"]) + 1))
    names = list(CATEGORIES) + [NO_MICHEL]
    tp, fp, fn = (np.zeros(len(names), np.int64) for _ in range(3))
    for (i, xyze), (_, labels), (_, found) in zip(iter_events(paths.xyze), iter_labels(paths.labels),
                                                  iter_solution(solution, dataset=dataset)):
        rows = mv[starts[i]:starts[i + 1]]
        vox_cat = np.full(len(labels), -1, np.int64)
        owned = rows[:, 2] >= 0
        vox_cat[rows[owned, 1]] = cat_of_row[rows[owned, 2]]
        is_michel = labels == MICHEL_LABEL
        if np.any(is_michel & (vox_cat < 0)):
            raise InputError(f"{paths.truth}: event {i} has Michel voxels without an owner in michel_voxels")
        pred = np.zeros(len(labels), bool)
        pred[found] = True
        np.add.at(tp, vox_cat[pred & is_michel], 1)
        np.add.at(fn, vox_cat[~pred & is_michel], 1)
        extra = np.flatnonzero(pred & ~is_michel)
        if extra.size:
            if is_michel.any():
                true_xyz = xyze[is_michel, :3].astype(np.float64)
                true_cat = vox_cat[is_michel]
                d2 = ((xyze[extra, None, :3] - true_xyz[None]) ** 2).sum(axis=2)
                near = np.argmin(d2, axis=1)
                c = np.where(d2[np.arange(extra.size), near] <= radius_vox ** 2, true_cat[near], len(CATEGORIES))
            else:
                c = np.full(extra.size, len(CATEGORIES))
            np.add.at(fp, c, 1)
    return {name: Counts(int(tp[k]), int(fp[k]), int(fn[k])) for k, name in enumerate(names)}


def threshold_sample(prefix, out_prefix, threshold_mev: float = 0.13, force: bool = False):
    """Copy a simulated sample keeping only the voxels above an energy threshold.

    The truth file's ``n_voxels`` and ``michel_voxels`` are remapped to the kept voxels (Michel
    voxels at or below the threshold leave the truth too); the other arrays are copied.

    Parameters
    ----------
    prefix, out_prefix : str or path
        The sample and the copy's prefix.
    threshold_mev : float, optional
        Voxels with energy above this (MeV) are kept (default 0.13, the real reference's cut).
    force : bool, optional
        Overwrite existing outputs.

    Returns
    -------
    SimPaths
        The copy's files.
    """
    import io as _io

    paths, truth = _load(prefix)
    out = sim_paths(out_prefix)
    for p in (out.xyze, out.labels, out.truth):
        if p.exists() and not force:
            raise InputError(f"{p}: exists; use --force to overwrite")
    n_events = len(truth["n_voxels"])
    mv = truth["michel_voxels"]
    new_mv, n_voxels = [], np.zeros(n_events, np.int64)
    with RowWriter(out.xyze, n_events, np.float32, "data", force) as wx, \
            RowWriter(out.labels, n_events, np.int32, "labels", force) as wl:
        for (i, xyze), (_, labels) in zip(iter_events(paths.xyze), iter_labels(paths.labels)):
            keep = xyze[:, 3] > threshold_mev
            new_index = np.cumsum(keep) - 1
            wx.append(xyze[keep])
            wl.append(labels[keep])
            n_voxels[i] = int(keep.sum())
            rows = mv[mv[:, 0] == i]
            rows = rows[keep[rows[:, 1]]]
            new_mv.append(np.column_stack([rows[:, 0], new_index[rows[:, 1]], rows[:, 2]]))
    arrays = {k: truth[k] for k in truth.files}
    arrays["n_voxels"] = n_voxels
    arrays["michel_voxels"] = np.concatenate(new_mv).astype(np.int64) if new_mv else np.zeros((0, 3), np.int64)
    arrays["threshold_mev"] = np.float64(threshold_mev)
    buf = _io.BytesIO()
    np.savez(buf, **arrays)
    write_bytes_atomically(out.truth, buf.getvalue())
    return out
