"""The features of a Michel candidate, each column named in ``michelreco.reco.schema.FEATURES``.

``shape_features`` fills what the candidate's own voxels say (size, energy, extent, PCA linearity, distance
from the faces); ``stopping_muon_features`` fills what the track beyond the Bragg peak says (its length,
straightness, width and branches, the Bragg peak against the track's baseline, the kink at the stop).
``michelreco.reco.candidates`` builds the candidates and calls them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from michelreco.constants import GRID_VOXELS, VOXEL_MM
from michelreco.reco.bits import lowest_bit
from michelreco.reco.canonical import slab_of_x
from michelreco.reco.schema import FEATURE_INDEX, PEAK_SHELLS, SETTING_INDEX
from michelreco.reco.track import pca_axis, sym3_eigen_scalars, voxel_distance_mm, window_mean

__all__ = ["shape_features", "stopping_muon_features", "voxels_of_nodes", "face_gap", "energy_near",
           "development_from_face", "peak_shells"]

# Column of each feature and position of each setting, looked up by name in the schema (numba reads these
# module globals as compile-time constants).
_F, _S = FEATURE_INDEX, SETTING_INDEX
F_KIND, F_CLUSTER, F_PEAK, F_BASE, F_RATIO = _F["kind"], _F["cluster"], _F["peak_dedx"], _F["baseline_dedx"], \
    _F["bragg_ratio"]
F_MULEN, F_MULIN, F_MUFACE = _F["muon_length_mm"], _F["muon_linearity"], _F["muon_face_gap"]
F_NVOX, F_E, F_EXT, F_LIN, F_LINEXT = _F["n_voxels"], _F["energy_mev"], _F["extent_mm"], _F["linearity"], \
    _F["linear_extent_mm"]
F_GAP, F_MDEDX, F_CROSS, F_RISE = _F["attach_gap_mm"], _F["michel_dedx"], _F["crossing_mm"], _F["rise_ratio"]
F_THICK, F_TORT, F_BRANCH, F_WIDTH = _F["muon_voxels_per_node"], _F["tortuosity"], _F["muon_branches"], \
    _F["muon_width_mm"]
F_DROP, F_COS, F_FACE = _F["drop_ratio"], _F["michel_cos"], _F["face_gap"]
F_PX, F_PY, F_PZ = _F["peak_x"], _F["peak_y"], _F["peak_z"]
F_MEANE, F_MAXE, F_PATH = _F["mean_voxel_mev"], _F["max_voxel_mev"], _F["path_mm"]
F_CLVOX, F_CLE, F_CLCAND = _F["cluster_voxels"], _F["cluster_energy_mev"], _F["cluster_candidates"]
F_STOPGAP, F_SAMEPEAK, F_PEAKE = _F["stop_gap_mm"], _F["same_peak_candidates"], _F["peak_node_mev"]
F_BLOBE, F_CUT, F_NEARE = _F["blob_energy_mev"], _F["cut_rank"], _F["near_energy_mev"]
F_WIDEN, F_FACEHALF = _F["inward_widening_mm"], _F["face_half_energy_frac"]
F_SHELL_MEV = _F["shell_mev_" + PEAK_SHELLS[0][0]]          # the shells' columns are consecutive, inner first
F_SHELL_VOXELS = _F["shell_voxels_" + PEAK_SHELLS[0][0]]
N_SHELLS = len(PEAK_SHELLS)
SHELL_R2 = np.array([hi * hi for _, _, hi in PEAK_SHELLS])     # squared outer radii (voxels^2)
S_GAP, S_BASE, S_MUPCA, S_JUNCTION = _S["baseline_gap_mm"], _S["baseline_mm"], _S["muon_pca_mm"], \
    _S["junction_window_mm"]
S_RISELO, S_RISEHI, S_START, S_DROPLO, S_DROPHI = _S["rise_lo_mm"], _S["rise_hi_mm"], _S["start_mm"], \
    _S["drop_lo_mm"], _S["drop_hi_mm"]
S_MUSKIP = _S["muon_skip_mm"]


@njit(cache=True, nogil=True)
def voxels_of_nodes(nodes_marked, node_first, node_next, words):
    """Voxels assigned to the marked nodes (linked lists ``node_first``/``node_next``), ascending.

    The voxels are put in order by a bit set over the event's voxels (``words``: uint64, zero, at least
    n // 64 + 1 words; left zero), read out word by word over the range they span: no comparison sort, and
    one walk of the lists. The voxels of a candidate are numbered closely (the canonical order is by position),
    so the range is short. A voxel hangs from one node only, so every voxel is set once.
    """
    n = 0
    lo = node_first.shape[0]
    hi = -1
    for v in nodes_marked:
        w = node_first[v]
        while w >= 0:
            words[w >> 6] |= np.uint64(1) << np.uint64(w & 63)
            n += 1
            lo = min(lo, w)
            hi = max(hi, w)
            w = node_next[w]
    out = np.empty(n, np.int64)
    k = 0
    for i in range(lo >> 6, (hi >> 6) + 1):
        word = words[i]
        words[i] = 0
        base = i << 6
        while word != 0:
            out[k] = base + lowest_bit(word)
            word &= word - np.uint64(1)          # clear the lowest set bit
            k += 1
    return out


@njit(cache=True, nogil=True)
def _within_mm(d2, limit_mm):
    """Whether a squared distance d2 (voxels^2) is at most ``limit_mm``: the test as written in mm."""
    return np.sqrt(d2) * VOXEL_MM <= limit_mm


@njit(cache=True, nogil=True)
def _largest_square_within(limit_mm):
    """The largest whole d2 (-1 if none) that ``_within_mm`` accepts: the test is monotonic in d2, so for whole
    squared distances (points at whole voxel indices) ``d2 <= this`` is the same test without a square root."""
    top = 3.0 * GRID_VOXELS * GRID_VOXELS         # beyond any squared distance within the grid
    d2 = np.floor(min(max(limit_mm / VOXEL_MM, 0.0) ** 2, top))
    while d2 < top and _within_mm(d2 + 1.0, limit_mm):
        d2 += 1.0
    while d2 >= 0.0 and not _within_mm(d2, limit_mm):
        d2 -= 1.0
    return d2


@njit(cache=True, nogil=True)
def _direction_cos(muon_back, peak, pts, start_mm):
    """Cosine between muon_back -> peak and peak -> centroid of the points within start_mm of the peak; the points
    and the peak at whole voxel indices."""
    # scalar arithmetic, the same operations in the same order as the array expressions it replaced: an array
    # temporary per point cost more than the arithmetic
    u0, u1, u2 = peak[0] - muon_back[0], peak[1] - muon_back[1], peak[2] - muon_back[2]
    c0 = c1 = c2 = 0.0
    k = 0
    reach2 = _largest_square_within(start_mm)
    for i in range(pts.shape[0]):
        d0, d1, d2 = pts[i, 0] - peak[0], pts[i, 1] - peak[1], pts[i, 2] - peak[2]
        if d0 * d0 + d1 * d1 + d2 * d2 <= reach2:
            c0 += pts[i, 0]
            c1 += pts[i, 1]
            c2 += pts[i, 2]
            k += 1
    if k == 0:
        return 0.0
    w0, w1, w2 = c0 / k - peak[0], c1 / k - peak[1], c2 / k - peak[2]
    nu = np.sqrt(u0 * u0 + u1 * u1 + u2 * u2)
    nw = np.sqrt(w0 * w0 + w1 * w1 + w2 * w2)
    if nu == 0.0 or nw == 0.0:
        return 0.0
    return (u0 * w0 + u1 * w1 + u2 * w2) / (nu * nw)


@njit(cache=True, nogil=True)
def _transverse_rms(xyz, voxels):
    """Root of the two smaller eigenvalues' sum of the covariance of the voxels' positions (0 for < 2 voxels)."""
    n = voxels.shape[0]
    if n < 2:
        return 0.0
    c0 = c1 = c2 = 0.0
    for v in voxels:
        c0 += xyz[v, 0]
        c1 += xyz[v, 1]
        c2 += xyz[v, 2]
    c0 /= n
    c1 /= n
    c2 /= n
    s00 = s01 = s02 = s11 = s12 = s22 = 0.0
    for v in voxels:
        d0, d1, d2 = xyz[v, 0] - c0, xyz[v, 1] - c1, xyz[v, 2] - c2
        s00 += d0 * d0
        s01 += d0 * d1
        s02 += d0 * d2
        s11 += d1 * d1
        s12 += d1 * d2
        s22 += d2 * d2
    _, v1, v2, _, _, _ = sym3_eigen_scalars(s00 / n, s11 / n, s22 / n, s01 / n, s02 / n, s12 / n)
    return np.sqrt(max(v1 + v2, 0.0))


@njit(cache=True, nogil=True)
def _voxels_per_node(walk, s, lo_mm, hi_mm, node_count):
    """Mean number of voxels assigned to the walk's nodes with lo_mm <= s <= hi_mm (0 if none)."""
    a = np.searchsorted(s, lo_mm, side="left")
    b = np.searchsorted(s, hi_mm, side="right")
    if b <= a:
        return 0.0
    voxels = 0
    for k in range(a, b):
        voxels += node_count[walk[k]]
    return voxels / (b - a)


@njit(cache=True, nogil=True)
def face_gap(points, v):
    """Distance in voxels from point ``v`` of ``points`` (voxel units) to the nearest face of the volume.

    A row index rather than a row: a row view passed to a kernel costs two reference counts.
    """
    g = 1e9
    for a in range(3):
        g = min(g, points[v, a], GRID_VOXELS - 1 - points[v, a])
    return g


@njit(cache=True, nogil=True)
def energy_near(xyz, energy, labels, sizes, min_size, cluster, centre, radius_voxels):
    """Energy (MeV) of the voxels of the other clusters of at least ``min_size`` voxels (``sizes`` by label)
    within ``radius_voxels`` of ``centre`` (voxel units); ``xyz`` in canonical order (x ascending).

    Only the slab of x within reach is read (``canonical.slab_of_x``); the sum runs in the same order as over all
    voxels.
    """
    r2 = radius_voxels * radius_voxels
    total = 0.0
    lo, hi = slab_of_x(xyz, centre[0], radius_voxels)
    c0, c1, c2 = centre[0], centre[1], centre[2]
    for v in range(lo, hi):
        # the distance first: the cluster's size is two dependent loads, read only for the voxels within reach
        if (xyz[v, 0] - c0) ** 2 + (xyz[v, 1] - c1) ** 2 + (xyz[v, 2] - c2) ** 2 <= r2:
            if labels[v] != cluster and sizes[labels[v]] >= min_size:
                total += energy[v]
    return total


@njit(cache=True, nogil=True)
def peak_shells(feats, xyz, energy):
    """Fill each candidate's shell columns (``schema.PEAK_SHELLS``): the energy (MeV) and number of the voxels
    ``xyz`` (canonical order, x ascending) in each shell around its peak (``peak_x``, ``peak_y``, ``peak_z``).

    Only the slab of x within the outer radius is read (``canonical.slab_of_x``); a voxel at a shell's outer
    radius belongs to that shell. A candidate whose peak an earlier one shares (the readings of one stop:
    four in ten) copies its shells.
    """
    r2 = SHELL_R2
    outer = r2[N_SHELLS - 1]
    sums = np.zeros(N_SHELLS + 1)            # per shell, and a last bin for the voxels outside
    counts = np.zeros(N_SHELLS + 1)
    for k in range(feats.shape[0]):
        p0, p1, p2 = feats[k, F_PX], feats[k, F_PY], feats[k, F_PZ]
        same = -1
        for q in range(k):
            if feats[q, F_PX] == p0 and feats[q, F_PY] == p1 and feats[q, F_PZ] == p2:
                same = q
                break
        if same < 0:
            sums[:] = 0.0
            counts[:] = 0.0
            lo, hi = slab_of_x(xyz, p0, np.sqrt(outer))
            for v in range(lo, hi):
                d2 = (xyz[v, 0] - p0) ** 2 + (xyz[v, 1] - p1) ** 2 + (xyz[v, 2] - p2) ** 2
                s = 0                        # the shell: how many outer radii lie below the voxel (no branch)
                for t in range(N_SHELLS):
                    s += d2 > r2[t]
                sums[s] += energy[v]
                counts[s] += 1.0
        for s in range(N_SHELLS):
            feats[k, F_SHELL_MEV + s] = sums[s] if same < 0 else feats[same, F_SHELL_MEV + s]
            feats[k, F_SHELL_VOXELS + s] = counts[s] if same < 0 else feats[same, F_SHELL_VOXELS + s]


@njit(cache=True, nogil=True)
def shape_features(f, xyz, energy, voxels, ref):
    """Fill size, energy, extent from ``ref``, PCA linearity and linear extent of a voxel set; returns its
    points (nv, 3), summed energy (MeV), centroid (voxel units) and principal axis (unit vector)."""
    nv = voxels.shape[0]
    pts = np.empty((nv, 3))
    esum = 0.0
    emax = 0.0
    far2 = 0.0
    near2 = np.inf
    for k in range(nv):
        v = voxels[k]
        pts[k, 0] = xyz[v, 0]
        pts[k, 1] = xyz[v, 1]
        pts[k, 2] = xyz[v, 2]
        esum += energy[v]
        emax = max(emax, energy[v])
        d2 = (xyz[v, 0] - ref[0]) ** 2 + (xyz[v, 1] - ref[1]) ** 2 + (xyz[v, 2] - ref[2]) ** 2
        far2 = max(far2, d2)
        near2 = min(near2, d2)
    # one square root each: a rounded square root and product are monotonic, so the extreme distances are those
    # of the extreme squares, to the last bit
    ext = np.sqrt(far2) * VOXEL_MM
    gap = np.sqrt(near2) * VOXEL_MM if nv else 1e300
    centre, axis, lin, along = pca_axis(pts)
    f[F_NVOX] = nv
    f[F_E] = esum
    f[F_MEANE] = esum / max(nv, 1)
    f[F_MAXE] = emax
    f[F_EXT] = ext
    f[F_LIN] = lin
    f[F_LINEXT] = along * VOXEL_MM * lin
    f[F_GAP] = gap
    face = 1e9
    for k in range(nv):
        face = min(face, face_gap(pts, k))
    f[F_FACE] = face
    return pts, esum, centre, axis


@njit(cache=True, nogil=True)
def development_from_face(f, pts, energy, voxels, centre, axis, face_point):
    """Fill how an entering cluster develops from the face inwards: the width of its inner half minus that of
    its half at the face (mm), and the share of its energy in the half at the face.

    The halves split the cluster's span along its principal ``axis`` (through ``centre``); the half at the face
    is the one holding ``face_point`` (its voxel nearest a face). A width is the energy-weighted RMS distance
    from the axis. An electromagnetic particle spreads as it goes (multiple scattering, bremsstrahlung): an
    electron entering from outside widens inwards, while a shower piece leaving through the face widens
    towards it.
    """
    nv = voxels.shape[0]
    lo = np.inf
    hi = -np.inf
    for k in range(nv):
        t = (pts[k, 0] - centre[0]) * axis[0] + (pts[k, 1] - centre[1]) * axis[1] + (pts[k, 2] - centre[2]) * axis[2]
        lo = min(lo, t)
        hi = max(hi, t)
    t_face = ((face_point[0] - centre[0]) * axis[0] + (face_point[1] - centre[1]) * axis[1]
              + (face_point[2] - centre[2]) * axis[2])
    middle = 0.5 * (lo + hi)
    sign = 1.0 if t_face <= middle else -1.0      # the face's side of the span: low or high
    e_face = 0.0
    e_inner = 0.0
    w2_face = 0.0
    w2_inner = 0.0
    for k in range(nv):
        d0 = pts[k, 0] - centre[0]
        d1 = pts[k, 1] - centre[1]
        d2 = pts[k, 2] - centre[2]
        t = d0 * axis[0] + d1 * axis[1] + d2 * axis[2]
        r2 = max(d0 * d0 + d1 * d1 + d2 * d2 - t * t, 0.0)     # squared distance from the axis (voxels^2)
        e = energy[voxels[k]]
        if sign * (t - middle) < 0.0:
            e_face += e
            w2_face += e * r2
        else:
            e_inner += e
            w2_inner += e * r2
    w_face = np.sqrt(w2_face / e_face) if e_face > 0.0 else 0.0
    w_inner = np.sqrt(w2_inner / e_inner) if e_inner > 0.0 else 0.0
    f[F_WIDEN] = (w_inner - w_face) * VOXEL_MM
    total = e_face + e_inner
    f[F_FACEHALF] = e_face / total if total > 0.0 else 0.0


@njit(cache=True, nogil=True)
def stopping_muon_features(f, xyz, walk, s, dedx, p, peak, base, beyond, junction, other_len, last, pts, esum,
                            node_first, node_next, n_chains, chain_junction, node_count, node_energy, on_muon, words,
                            cfg):
    """Fill the muon-side, Bragg-peak and kink features of a stopping-muon candidate."""
    pv = walk[p]
    m_end = p
    while m_end + 1 < walk.shape[0] and s[m_end + 1] - s[p] <= cfg[S_MUPCA]:
        m_end += 1
    mpts = np.empty((m_end - p + 1, 3))
    for q in range(p, m_end + 1):
        for a in range(3):
            mpts[q - p, a] = xyz[walk[q], a]
    _, _, mlin, _ = pca_axis(mpts)
    # width and branches are measured from a few mm past the stop: the Michel leaves from the last
    # muon node, and its first voxels are assigned there
    q0 = p
    while q0 <= m_end and s[q0] - s[p] < cfg[S_MUSKIP]:
        q0 += 1
    for q in range(q0, m_end + 1):
        on_muon[walk[q]] = True
    n_branch = 0
    for cc in range(1, n_chains):
        if on_muon[chain_junction[cc]]:
            n_branch += 1
    for q in range(q0, m_end + 1):
        on_muon[walk[q]] = False
    mv = voxels_of_nodes(walk[q0:m_end + 1], node_first, node_next, words)
    f[F_PEAK] = peak
    f[F_BASE] = base
    f[F_RATIO] = peak / base if base > 0 else 0.0
    f[F_MULEN] = beyond
    f[F_MULIN] = mlin
    f[F_MUFACE] = face_gap(xyz, last)
    f[F_MDEDX] = esum / max(s[p], VOXEL_MM) * 10.0
    f[F_PATH] = s[p]
    f[F_PEAKE] = node_energy[pv]
    if 0 <= junction < walk.shape[0] and abs(s[junction] - s[p]) <= cfg[S_JUNCTION]:
        f[F_CROSS] = other_len
    rise = window_mean(s, dedx, s[p] + cfg[S_RISELO], s[p] + cfg[S_RISEHI])
    f[F_RISE] = rise / base if base > 0 else 0.0
    f[F_THICK] = _voxels_per_node(walk, s, s[p] + cfg[S_GAP], s[p] + cfg[S_GAP] + cfg[S_BASE], node_count)
    straight = voxel_distance_mm(xyz, walk[0], pv)
    f[F_TORT] = s[p] / max(straight, VOXEL_MM)
    f[F_BRANCH] = n_branch
    f[F_WIDTH] = _transverse_rms(xyz, mv) * VOXEL_MM
    post = window_mean(s, dedx, s[p] - cfg[S_DROPHI], s[p] - cfg[S_DROPLO])
    f[F_DROP] = peak / post if post > 0 else 0.0
    f[F_COS] = _direction_cos(xyz[walk[m_end]], xyz[pv], pts, cfg[S_START])
    f[F_PX] = xyz[pv, 0]
    f[F_PY] = xyz[pv, 1]
    f[F_PZ] = xyz[pv, 2]
