"""The voxels at the cut: around the Bragg peak of a stopping-muon candidate, each voxel decided on its own.

A candidate is cut at a skeleton node: whole nodes go to the muon or to the Michel. Near the stop the two
particles' voxels mix. The muon's last voxels are the brightest of its track, and where the two particles
share a voxel the labels give it to the track (Supera's priority track > Michel, ``../shared/DESIGN.md``). So
every voxel of the peak's cluster within ``CUT_RADIUS_VOXELS`` of the peak is described by ``CUT_FEATURES``,
and a tree ensemble learned from the labels (``TreeModel.cut_model``) decides it again.

The features are positions relative to the muon's direction and the candidate's, and the voxel's energy over
the median energy of the muon's own voxels 10-40 voxels from the peak, before its Bragg rise. That ratio does
not depend on the energy scale of a simulation or a detector. Lengths are in voxels (3 mm).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from michelreco.reco.candidates import chosen_voxels, input_indices, taken_mask
from michelreco.reco.canonical import slab_of_x
from michelreco.reco.features import F_CLUSTER, F_COS, F_E, F_KIND, F_PX, F_PY, F_PZ

__all__ = ["CUT_FEATURES", "CUT_RADIUS_VOXELS", "cut_rows", "deciding_rows", "voxels_after_cut", "finished_voxels"]

CUT_FEATURES: tuple[str, ...] = ("in_candidate", "along_muon_voxels", "from_muon_axis_voxels",
                                 "from_peak_voxels", "along_candidate_voxels", "candidate_energy_mev",
                                 "michel_cos", "energy_ratio")
CUT_RADIUS_VOXELS = 3.5       # the voxels decided again: within 10.5 mm of the peak
MUON_DIRECTION_VOXELS = (3.0, 12.0)   # the cluster's other voxels at these distances give the muon's direction
MUON_LEVEL_VOXELS = (10.0, 40.0)      # ... and at these its typical voxel energy (before the Bragg rise)
MIN_LEVEL_VOXELS = 5          # fewer voxels there: the direction's voxels give the level
MIN_DIRECTION_VOXELS = 3      # fewer: no muon to measure from, the candidate is left as cut


@njit(cache=True, nogil=True)
def cut_rows(xyz, energy, labels, feats, ptr, vox, which):
    """The voxels within ``CUT_RADIUS_VOXELS`` of the peak of each stopping-muon candidate flagged in ``which``.

    Parameters
    ----------
    xyz, energy : float64 arrays (N, 3), (N,)
        The event's kept voxels in canonical order (voxel units, MeV).
    labels : int64 array (N,)
        Their clusters (``graph.voxel_graph``).
    feats, ptr, vox : arrays
        The event's candidates (``candidates.event_candidates``).
    which : bool array (C,)
        The candidates to describe; only stopping-muon ones with a muon beyond the peak give rows.

    Returns
    -------
    candidate, voxel : int64 arrays (R,)
        Each row's candidate and kept voxel, by candidate, then voxel, ascending.
    table : float64 array (R, len(CUT_FEATURES))
    """
    n = xyz.shape[0]
    in_cand = np.zeros(n, np.bool_)
    cap = 64
    cand_out = np.empty(cap, np.int64)
    vox_out = np.empty(cap, np.int64)
    table = np.empty((cap, len(CUT_FEATURES)))
    level = np.empty(n)
    near_level = np.empty(n)
    near = np.empty(n, np.int64)
    rows = 0
    r_cut2 = CUT_RADIUS_VOXELS ** 2
    d_lo2, d_hi2 = MUON_DIRECTION_VOXELS[0] ** 2, MUON_DIRECTION_VOXELS[1] ** 2
    l_lo2, l_hi2 = MUON_LEVEL_VOXELS[0] ** 2, MUON_LEVEL_VOXELS[1] ** 2
    reach = max(CUT_RADIUS_VOXELS, MUON_DIRECTION_VOXELS[1], MUON_LEVEL_VOXELS[1])
    for c in range(feats.shape[0]):
        if not which[c] or feats[c, F_KIND] != 0 or ptr[c + 1] == ptr[c]:
            continue                                  # not asked for, not a stopping muon, or no voxels
        p0, p1, p2 = feats[c, F_PX], feats[c, F_PY], feats[c, F_PZ]
        cluster = int(feats[c, F_CLUSTER])
        c0 = c1 = c2 = 0.0
        for k in range(ptr[c], ptr[c + 1]):
            v = vox[k]
            in_cand[v] = True
            c0 += xyz[v, 0]
            c1 += xyz[v, 1]
            c2 += xyz[v, 2]
        m = ptr[c + 1] - ptr[c]
        u0, u1, u2 = c0 / m - p0, c1 / m - p1, c2 / m - p2           # towards the candidate's centroid
        nu = np.sqrt(u0 * u0 + u1 * u1 + u2 * u2)
        if nu > 0.0:
            u0, u1, u2 = u0 / nu, u1 / nu, u2 / nu
        # one pass over the peak's cluster (its voxels ascending): the voxels near the peak, and the muon (the
        # cluster's voxels outside the candidate) by distance from the peak; only the slab of x within the
        # farthest of those distances is read (``canonical.slab_of_x``)
        s0 = s1 = s2 = 0.0
        n_dir = 0
        n_level = 0
        n_near = 0
        lo, hi = slab_of_x(xyz, p0, reach)
        for v in range(lo, hi):
            if labels[v] != cluster:
                continue
            d2 = (xyz[v, 0] - p0) ** 2 + (xyz[v, 1] - p1) ** 2 + (xyz[v, 2] - p2) ** 2
            if d2 <= r_cut2:
                near[n_near] = v
                n_near += 1
            if in_cand[v]:
                continue
            if d_lo2 < d2 <= d_hi2:
                s0 += xyz[v, 0]
                s1 += xyz[v, 1]
                s2 += xyz[v, 2]
                near_level[n_dir] = energy[v]
                n_dir += 1
            if l_lo2 < d2 <= l_hi2:
                level[n_level] = energy[v]
                n_level += 1
        if n_dir >= MIN_DIRECTION_VOXELS:
            w0, w1, w2 = s0 / n_dir - p0, s1 / n_dir - p1, s2 / n_dir - p2
            nw = np.sqrt(w0 * w0 + w1 * w1 + w2 * w2)
            if nw > 0.0:
                w0, w1, w2 = w0 / nw, w1 / nw, w2 / nw
            scale = np.median(level[:n_level]) if n_level >= MIN_LEVEL_VOXELS else np.median(near_level[:n_dir])
            if rows + n_near > cap:
                cap = 2 * (rows + n_near)
                cand_out = _grown(cand_out, rows, cap)
                vox_out = _grown(vox_out, rows, cap)
                bigger = np.empty((cap, table.shape[1]))
                bigger[:rows] = table[:rows]
                table = bigger
            for i in range(n_near):
                v = near[i]
                r0, r1, r2 = xyz[v, 0] - p0, xyz[v, 1] - p1, xyz[v, 2] - p2
                d2 = r0 * r0 + r1 * r1 + r2 * r2
                along = r0 * w0 + r1 * w1 + r2 * w2
                cand_out[rows] = c
                vox_out[rows] = v
                table[rows, 0] = 1.0 if in_cand[v] else 0.0
                table[rows, 1] = along
                table[rows, 2] = np.sqrt(max(d2 - along * along, 0.0))
                table[rows, 3] = np.sqrt(d2)
                table[rows, 4] = r0 * u0 + r1 * u1 + r2 * u2
                table[rows, 5] = feats[c, F_E]
                table[rows, 6] = feats[c, F_COS]
                table[rows, 7] = energy[v] / scale if scale > 0.0 else 0.0
                rows += 1
        for k in range(ptr[c], ptr[c + 1]):
            in_cand[vox[k]] = False
    return cand_out[:rows].copy(), vox_out[:rows].copy(), table[:rows].copy()


@njit(cache=True, nogil=True)
def _grown(a, used, cap):
    """The first ``used`` entries of ``a`` in an array of ``cap`` entries."""
    out = np.empty(cap, a.dtype)
    out[:used] = a[:used]
    return out


@njit(cache=True, nogil=True)
def deciding_rows(n, take, candidate, voxel, from_peak):
    """For each of the ``n`` kept voxels, the row that decides it: that of the nearest taken peak (the lower
    candidate on ties: rows come by candidate, ascending); -1 where no taken candidate has a row."""
    best = np.full(n, np.inf)
    row = np.full(n, -1, np.int64)
    for r in range(candidate.shape[0]):
        v = voxel[r]
        if take[candidate[r]] and from_peak[r] < best[v]:
            best[v] = from_peak[r]
            row[v] = r
    return row


@njit(cache=True, nogil=True)
def voxels_after_cut(n, ptr, vox, take, candidate, voxel, from_peak, michel):
    """The kept voxels chosen (bool, length ``n``): those of the taken candidates, then each voxel with rows
    decided again by its deciding row's verdict (``michel``)."""
    chosen = taken_mask(n, ptr, vox, take)
    row = deciding_rows(n, take, candidate, voxel, from_peak)
    for v in range(n):
        if row[v] >= 0:
            chosen[v] = michel[row[v]]
    return chosen


def finished_voxels(index: np.ndarray, ptr: np.ndarray, vox: np.ndarray, take: np.ndarray, cut: tuple | None = None,
                    michel: np.ndarray | None = None) -> np.ndarray:
    """Indices (int32, ascending) of the voxels ``find`` gives when the candidates flagged in ``take`` are taken.

    Parameters
    ----------
    index, ptr, vox : numpy.ndarray
        An event's candidates (``MichelFinder.candidates``): original indices of the kept voxels, candidate c's
        voxels ``vox[ptr[c]:ptr[c + 1]]``.
    take : numpy.ndarray of bool
        The candidates taken.
    cut, michel : optional
        The rows near the candidates' peaks (``cut_rows``: candidate, kept voxel, features) and the cut model's
        verdict on each: the voxels with rows of taken candidates are decided again. Without them, whole
        candidates are taken.
    """
    if cut is None or michel is None:
        return chosen_voxels(index, ptr, vox, take)
    candidate, voxel, table = cut
    return input_indices(index, voxels_after_cut(len(index), ptr, vox, take, candidate, voxel, table[:, 3], michel))
