"""Michel candidates: each free end of each cluster's skeleton, cut at the Bragg peak nearest to it.

For every cluster with enough voxels, every free end of its skeleton (``track.cluster_skeleton``) is
walked inwards; the dE/ds maximum within ``max_peak_from_end_mm`` of the end is taken as the place where
a muon stopped. The candidate Michel is everything hanging "after" the peak: the skeleton nodes between
the end and the peak, the branches hanging from them, and the voxels assigned to those nodes. Its
features (``FEATURES``) are what the rules (``michelreco.rules``) judge; nothing here decides.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .track import (VOXEL_MM, cluster_skeleton, end_order, end_profile, find_bragg_peak, path_length_mm,
                    pca_axis, refine_peak, window_mean)

__all__ = ["FEATURES", "event_candidates"]

FEATURES = (
    "cluster",            # cluster number in the event
    "peak_dedx",          # smoothed dE/ds at the Bragg peak, MeV/cm
    "baseline_dedx",      # truncated-mean dE/ds of the track beyond the peak, MeV/cm
    "bragg_ratio",        # peak_dedx / baseline_dedx
    "muon_length_mm",     # skeleton path length of the track beyond the peak
    "muon_linearity",     # PCA linearity of the last muon_pca_mm of the track before the peak
    "n_voxels",           # voxels of the candidate
    "energy_mev",         # summed energy of the candidate
    "extent_mm",          # largest distance of a candidate voxel from the peak
    "linearity",          # PCA linearity of the candidate voxels
    "linear_extent_mm",   # extent along the candidate's PCA axis times its linearity: long and straight
    "attach_gap_mm",      # distance from the peak voxel to the nearest candidate voxel
    "michel_dedx",        # candidate energy over its skeleton path length, MeV/cm
    "crossing_mm",        # track continuing on the far side of the skeleton junction next to the peak:
                          # a delta ray or a track crossing, not a track that stops (0 when none)
    "rise_ratio",         # truncated-mean dE/ds 1-3 cm beyond the peak over the baseline: the rising
                          # Bragg curve of a stopping track (a delta-ray bump falls back at once)
    "muon_voxels_per_node",  # voxels per skeleton node along the baseline stretch: ~1-2 for a track,
                             # more for a shower
    "tortuosity",         # candidate's skeleton path length over the straight end-to-peak distance
    "muon_branches",      # skeleton branches joining the track within muon_pca_mm beyond the peak
    "muon_width_mm",      # transverse rms of the voxels of that stretch of track: small for a track
    "drop_ratio",         # peak dE/ds over the truncated-mean dE/ds 0.5-2.5 cm after the stop, on the
                          # candidate's side: a single electron after a Bragg peak, not a shower carrying on
    "michel_cos",         # cosine between the muon's direction at its stop and the candidate's start
                          # (isotropic for a Michel, near +1 for a shower carrying on)
    "peak_x", "peak_y", "peak_z",   # Bragg-peak voxel, voxel units
)
_F = {name: k for k, name in enumerate(FEATURES)}
F_CLUSTER, F_PEAK, F_BASE, F_RATIO, F_MULEN, F_MULIN = 0, 1, 2, 3, 4, 5
F_NVOX, F_E, F_EXT, F_LIN, F_LINEXT, F_GAP, F_MDEDX, F_CROSS = 6, 7, 8, 9, 10, 11, 12, 13
F_RISE, F_THICK, F_TORT, F_BRANCH, F_WIDTH, F_DROP, F_COS, F_PX = 14, 15, 16, 17, 18, 19, 20, 21


@njit(cache=True, nogil=True)
def _descendant_nodes(chain_nodes, chain_ptr, chain_junction, seed_nodes, n_total):
    """Mark the seed nodes and every node of chains hanging (recursively) from marked nodes."""
    mark = np.zeros(n_total, np.bool_)
    for v in seed_nodes:
        mark[v] = True
    for c in range(1, chain_ptr.shape[0] - 1):   # a chain's junction lies on an earlier chain
        j = chain_junction[c]
        if j >= 0 and mark[j]:
            for k in range(chain_ptr[c], chain_ptr[c + 1]):
                mark[chain_nodes[k]] = True
    return mark


@njit(cache=True, nogil=True)
def _direction_cos(muon_back, peak, pts, start_mm):
    """Cosine between muon_back -> peak and peak -> centroid of the points within start_mm of the peak."""
    u = peak - muon_back
    c = np.zeros(3)
    k = 0
    for i in range(pts.shape[0]):
        d = pts[i] - peak
        if np.sqrt((d * d).sum()) * VOXEL_MM <= start_mm:
            c += pts[i]
            k += 1
    if k == 0:
        return 0.0
    w = c / k - peak
    nu = np.sqrt((u * u).sum())
    nw = np.sqrt((w * w).sum())
    if nu == 0.0 or nw == 0.0:
        return 0.0
    return (u * w).sum() / (nu * nw)


@njit(cache=True, nogil=True)
def _transverse_rms(points):
    """Root of the two smaller eigenvalues' sum of the points' covariance (0 for < 2 points)."""
    if points.shape[0] < 2:
        return 0.0
    c = np.zeros(3)
    for i in range(points.shape[0]):
        c += points[i]
    c /= points.shape[0]
    cov = np.zeros((3, 3))
    for i in range(points.shape[0]):
        d = points[i] - c
        for a in range(3):
            for b in range(3):
                cov[a, b] += d[a] * d[b]
    cov /= points.shape[0]
    vals = np.linalg.eigvalsh(cov)
    return np.sqrt(max(vals[0] + vals[1], 0.0))


@njit(cache=True, nogil=True)
def _voxels_per_node(walk, s, lo_mm, hi_mm, node_count):
    """Mean number of voxels assigned to the walk's nodes with lo_mm <= s <= hi_mm (0 if none)."""
    nodes = 0
    voxels = 0
    for k in range(walk.shape[0]):
        if lo_mm <= s[k] <= hi_mm:
            nodes += 1
            voxels += node_count[walk[k]]
    return voxels / nodes if nodes else 0.0


@njit(cache=True, nogil=True)
def event_candidates(xyz, energy, labels, indptr, nbrs, min_cluster_voxels, min_branch_hops, max_chains,
                     window_nodes, max_peak_from_end_mm, baseline_gap_mm, baseline_mm, muon_pca_mm,
                     junction_window_mm, rise_lo_mm, rise_hi_mm, start_mm, drop_lo_mm, drop_hi_mm):
    """Candidates of one event (voxels sorted by key): features (C, len(FEATURES)), voxel lists (ptr, idx)."""
    n = xyz.shape[0]
    nf = len(FEATURES)
    feats = np.zeros((64, nf))
    cand_ptr = np.zeros(65, np.int64)
    cand_vox = np.empty(max(n, 16), np.int64)
    nc = 0
    if n == 0:
        return feats[:0], cand_ptr[:1], cand_vox[:0]
    n_clusters = labels.max() + 1
    sizes = np.zeros(n_clusters, np.int64)
    for v in range(n):
        sizes[labels[v]] += 1
    order = np.argsort(labels, kind="mergesort")
    starts = np.zeros(n_clusters + 1, np.int64)
    for c in range(n_clusters):
        starts[c + 1] = starts[c] + sizes[c]
    node_energy = np.zeros(n)
    node_count = np.zeros(n, np.int64)
    for c in range(n_clusters):
        if sizes[c] < min_cluster_voxels:
            continue
        members = order[starts[c]:starts[c + 1]]
        chain_nodes, chain_ptr, chain_junction, root = cluster_skeleton(
            members, indptr, nbrs, n, min_branch_hops, max_chains)
        for v in members:
            node_energy[v] = 0.0
            node_count[v] = 0
        for v in members:
            node_energy[root[v]] += energy[v]
            node_count[root[v]] += 1
        n_chains = chain_ptr.shape[0] - 1
        for chain in range(n_chains):
            for reverse in (False, True):
                if reverse and chain_junction[chain] >= 0:
                    continue   # a branch has one free end
                walk, junction, other = end_order(chain_nodes, chain_ptr, chain_junction, chain, reverse)
                if walk.shape[0] < 3:
                    continue
                s, dedx = end_profile(walk, xyz, node_energy, window_nodes)
                p, peak, base, beyond = find_bragg_peak(s, dedx, max_peak_from_end_mm, baseline_gap_mm,
                                                        baseline_mm)
                p = refine_peak(walk, node_energy, p, window_nodes // 2)
                if p == 0:
                    continue   # the end itself is the peak: nothing hangs after it on this walk
                mark = _descendant_nodes(chain_nodes, chain_ptr, chain_junction, walk[:p], n)
                # candidate voxels, with growing buffers
                nv = 0
                esum = 0.0
                for v in members:
                    if mark[root[v]]:
                        nv += 1
                if nv == 0:
                    continue
                if nc == feats.shape[0]:
                    feats2 = np.zeros((2 * nc, nf))
                    feats2[:nc] = feats
                    feats = feats2
                    ptr2 = np.zeros(2 * nc + 1, np.int64)
                    ptr2[:nc + 1] = cand_ptr[:nc + 1]
                    cand_ptr = ptr2
                lo = cand_ptr[nc]
                if lo + nv > cand_vox.shape[0]:
                    vox2 = np.empty(2 * (lo + nv), np.int64)
                    vox2[:lo] = cand_vox[:lo]
                    cand_vox = vox2
                pts = np.empty((nv, 3))
                w = np.empty(nv)
                k = 0
                pv = walk[p]
                ext = 0.0
                gap = 1e300
                for v in members:
                    if mark[root[v]]:
                        cand_vox[lo + k] = v
                        pts[k] = xyz[v]
                        w[k] = energy[v]
                        esum += energy[v]
                        d = np.sqrt(((xyz[v] - xyz[pv]) ** 2).sum()) * VOXEL_MM
                        ext = max(ext, d)
                        gap = min(gap, d)
                        k += 1
                cand_ptr[nc + 1] = lo + nv
                ones = np.ones(nv)
                _, _, lin, along = pca_axis(pts, ones)
                # muon direction and straightness: skeleton nodes within muon_pca_mm beyond the peak
                m_end = p
                while m_end + 1 < walk.shape[0] and s[m_end + 1] - s[p] <= muon_pca_mm:
                    m_end += 1
                mpts = np.empty((m_end - p + 1, 3))
                on_muon = np.zeros(n, np.bool_)
                for q in range(p, m_end + 1):
                    mpts[q - p] = xyz[walk[q]]
                    on_muon[walk[q]] = True
                _, _, mlin, _ = pca_axis(mpts, np.ones(mpts.shape[0]))
                n_branch = 0
                for cc in range(1, n_chains):
                    if on_muon[chain_junction[cc]]:
                        n_branch += 1
                n_mvox = 0
                for v in members:
                    if on_muon[root[v]]:
                        n_mvox += 1
                mvox = np.empty((n_mvox, 3))
                k = 0
                for v in members:
                    if on_muon[root[v]]:
                        mvox[k] = xyz[v]
                        k += 1
                width = _transverse_rms(mvox) * VOXEL_MM
                f = feats[nc]
                f[F_CLUSTER] = c
                f[F_PEAK] = peak
                f[F_BASE] = base
                f[F_RATIO] = peak / base if base > 0 else 0.0
                f[F_MULEN] = beyond
                f[F_MULIN] = mlin
                f[F_NVOX] = nv
                f[F_E] = esum
                f[F_EXT] = ext
                f[F_LIN] = lin
                f[F_LINEXT] = along * VOXEL_MM * lin
                f[F_GAP] = gap
                f[F_MDEDX] = esum / max(s[p], VOXEL_MM) * 10.0
                if junction >= 0 and other.shape[0] and abs(s[junction] - s[p]) <= junction_window_mm:
                    f[F_CROSS] = path_length_mm(other, xyz, walk[junction])
                f[F_RISE] = window_mean(s, dedx, s[p] + rise_lo_mm, s[p] + rise_hi_mm) / base if base > 0 else 0.0
                f[F_THICK] = _voxels_per_node(walk, s, s[p] + baseline_gap_mm, s[p] + baseline_gap_mm + baseline_mm,
                                              node_count)
                straight = np.sqrt(((xyz[walk[0]] - xyz[pv]) ** 2).sum()) * VOXEL_MM
                f[F_TORT] = s[p] / max(straight, VOXEL_MM)
                f[F_BRANCH] = n_branch
                post = window_mean(s, dedx, s[p] - drop_hi_mm, s[p] - drop_lo_mm)
                f[F_DROP] = peak / post if post > 0 else 0.0
                f[F_COS] = _direction_cos(xyz[walk[m_end]], xyz[pv], pts, start_mm)
                f[F_WIDTH] = width
                f[F_PX] = xyz[pv, 0]
                f[F_PX + 1] = xyz[pv, 1]
                f[F_PX + 2] = xyz[pv, 2]
                nc += 1
    return feats[:nc].copy(), cand_ptr[:nc + 1].copy(), cand_vox[:cand_ptr[nc]].copy()
